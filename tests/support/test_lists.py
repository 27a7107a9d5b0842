"""Lists at scale, as a user meets them: search, a status filter, pages, the audit trail's
older/newer pages, and a dashboard that summarizes instead of drawing every pair."""

import re
from datetime import timedelta

from django.template import engines
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from tenants.models import AuditEvent
from tests.factories import ConnectionFactory, SiteFactory, TenantFactory, enrol_totp, sign_in


def _names(html):
    return re.findall(r'href="/connections/\d+/">([^<]+)</a>', html)


def _text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _connections(org, count, *, tenant_name="Bulk tenant", site_prefix="bulk", **fields):
    """`count` connections of one new tenant, each to a new site named site_prefix-000, -001, ..."""
    tenant = TenantFactory(organization=org, display_name=tenant_name)
    return [ConnectionFactory(organization=org, tenant=tenant,
                              site=SiteFactory(organization=org, name=f"{site_prefix}-{n:03d}"), **fields)
            for n in range(count)]


def test_the_connection_list_pages_fifty_at_a_time(admin_client, acme):
    _connections(acme.organization, 60)
    first = _text(admin_client.get(reverse("connections:connection_list")))
    assert "1–50 of 61" in first
    assert 'rel="next"' in first and "bulk-000" in first and "bulk-059" not in first
    second = _text(admin_client.get(reverse("connections:connection_list") + "?page=2"))
    assert "51–61 of 61" in second and "bulk-059" in second and "bulk-000" not in second


def test_the_connection_list_finds_by_site_or_tenant_and_keeps_the_search_across_pages(admin_client, acme):
    _connections(acme.organization, 55, tenant_name="Contoso Europe")
    ConnectionFactory(organization=acme.organization, site=SiteFactory(organization=acme.organization, name="zeta"))
    html = _text(admin_client.get(reverse("connections:connection_list") + "?q=contoso"))
    assert "1–50 of 55" in html and "zeta" not in html
    assert "?q=contoso&amp;page=2" in html  # the next page keeps the search
    by_site = _text(admin_client.get(reverse("connections:connection_list") + "?q=ZET"))
    assert _names(by_site) == ["zeta"]
    nothing = _text(admin_client.get(reverse("connections:connection_list") + "?q=nowhere"))
    assert "No connection matches these filters." in nothing


def test_show_degraded_lists_only_degraded_connections_with_counts_per_status(admin_client, acme):
    _connections(acme.organization, 3, status=Connection.Status.DEGRADED, tenant_name="Broken", site_prefix="b")
    _connections(acme.organization, 2, status=Connection.Status.ACTIVE, tenant_name="Fine", site_prefix="f")
    html = _text(admin_client.get(reverse("connections:connection_list") + "?status=degraded"))
    rows = re.findall(r"<tr><td>.*?</tr>", html, re.S)
    assert len(rows) == 3 and all("Degraded" in r for r in rows)
    assert re.search(r'data-status="degraded"[^>]*>Degraded <span class="count">3</span>', html)
    assert re.search(r'data-status="active"[^>]*>Active <span class="count">2</span>', html)


def test_a_bad_status_or_page_is_ignored_never_an_error(admin_client, acme):
    html = _text(admin_client.get(reverse("connections:connection_list") + "?status=nonsense&page=abc&q=%00"))
    assert acme.site.name in html


def test_another_organizations_site_id_narrows_to_nothing(admin_client, acme, globex):
    html = _text(admin_client.get(reverse("connections:connection_list") + f"?site={globex.site.pk}"))
    assert globex.site.name not in html and acme.site.name not in html


def test_site_and_tenant_lists_search_and_page(admin_client, acme):
    for n in range(55):
        SiteFactory(organization=acme.organization, name=f"jira-{n:02d}")
    html = _text(admin_client.get(reverse("tenants:site_list") + "?q=jira"))
    assert "1–50 of 55" in html and acme.site.name not in html
    one = _text(admin_client.get(reverse("tenants:site_list") + "?q=jira-07"))
    assert "jira-07" in one and "jira-08" not in one
    TenantFactory(organization=acme.organization, display_name="Fabrikam", domains=[{"name": "fabrikam.com"}])
    tenants = _text(admin_client.get(reverse("tenants:tenant_list") + "?q=fabrikam.com"))
    assert "Fabrikam" in tenants and acme.tenant.display_name not in tenants
    none = _text(admin_client.get(reverse("tenants:tenant_list") + "?q=nobody"))
    assert "No tenant matches" in none


def test_a_site_page_shows_its_first_connections_and_links_to_all_of_them(admin_client, acme):
    site = SiteFactory(organization=acme.organization, name="big-site")
    for n in range(55):
        ConnectionFactory(organization=acme.organization, site=site,
                          tenant=TenantFactory(organization=acme.organization, display_name=f"T{n:02d}"))
    html = _text(admin_client.get(reverse("tenants:site_detail", args=[site.pk])))
    assert "Showing the first 50." in html and f"?site={site.pk}" in html
    listed = _text(admin_client.get(reverse("connections:connection_list") + f"?site={site.pk}"))
    assert "Connections: big-site" in listed and "1–50 of 55" in listed


def test_the_dashboard_counts_by_status_lists_problems_first_and_draws_a_chosen_part_of_the_matrix(admin_client, acme):
    org = acme.organization
    sites = [SiteFactory(organization=org, name=f"s{n:02d}") for n in range(12)]
    tenants = [TenantFactory(organization=org, display_name=f"t{n:02d}") for n in range(12)]
    for i, site in enumerate(sites):
        for j, tenant in enumerate(tenants):
            status = Connection.Status.NEEDS_REAUTH if (i, j) == (11, 11) else Connection.Status.ACTIVE
            ConnectionFactory(organization=org, site=site, tenant=tenant, status=status)
    html = _text(admin_client.get(reverse("tenants:dashboard")))
    summary = html[html.index('id="status-summary"'):html.index('id="matrix"')]
    assert "Needs attention" in summary and "s11 ↔ t11" in summary
    assert re.search(r'data-status="active".*?Active</span> 143', summary, re.S)
    matrix = html[html.index('id="matrix"'):]
    assert matrix.count("<tr><th scope=\"row\">") == 10  # not 13 rows: a part, and it says so
    assert "Showing 10 of 13 sites and 10 of 13 tenants" in matrix
    chosen = _text(admin_client.get(reverse("tenants:dashboard") + "?site=s11&tenant=t11"))
    chosen_matrix = chosen[chosen.index('id="matrix"'):]
    assert chosen_matrix.count("<tr><th scope=\"row\">") == 1 and "Needs re-authorization" in chosen_matrix


def _events(org, count):
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(organization=org, actor_type="user", actor_label=f"person{n % 3}@example.com",
                   action="connection.verified", target_label=f"event {n:03d}", created_at=now - timedelta(minutes=n))
        for n in range(count)
    )


def _labels(html):
    return re.findall(r"<td>(event \d+)</td>", html)


def test_the_audit_trail_pages_older_and_newer_from_a_neighbouring_event(admin_client, acme):
    _events(acme.organization, 120)
    first = _text(admin_client.get(reverse("tenants:audit_list")))
    assert _labels(first)[:2] == ["event 000", "event 001"] and len(_labels(first)) == 50
    older = re.search(r'rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    second = _text(admin_client.get(reverse("tenants:audit_list") + "?" + older))
    assert _labels(second)[0] == "event 050" and _labels(second)[-1] == "event 099"
    third_query = re.search(r'rel="next" href="\?([^"]+)"', second).group(1).replace("&amp;", "&")
    third = _text(admin_client.get(reverse("tenants:audit_list") + "?" + third_query))
    assert _labels(third)[0] == "event 100" and 'rel="next"' not in third  # the oldest ones
    newer = re.search(r'rel="prev" href="\?([^"]+)"', third).group(1).replace("&amp;", "&")
    back = _text(admin_client.get(reverse("tenants:audit_list") + "?" + newer))
    assert _labels(back)[0] == "event 050"
    assert "« Newest" in back


def test_audit_paging_keeps_the_filters_and_a_forged_cursor_is_the_first_page(admin_client, acme, globex):
    _events(acme.organization, 200)
    html = _text(admin_client.get(reverse("tenants:audit_list") + "?actor=PERSON1"))
    assert set(re.findall(r"<td>(person\d)@example.com</td>", html)) == {"person1"}
    assert "actor=PERSON1&amp;after=" in html
    other = AuditEvent.objects.filter(organization=globex.organization).first()
    for cursor in ("abc", "-5", "99999999999999999999", str(other.pk if other else 1)):
        page = _text(admin_client.get(reverse("tenants:audit_list") + f"?after={cursor}"))
        assert _labels(page)[0] == "event 000"


def test_support_lists_organizations_with_counts_and_pages_their_connections(client, staff_user, acme, globex):
    _connections(acme.organization, 55, status=Connection.Status.DEGRADED, tenant_name="Degraded tenant")
    sign_in(client, staff_user, enrol_totp(staff_user))
    listing = _text(client.get(reverse("support:organization_list")))
    row = re.search(r">Acme</a></td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", listing)
    assert row.groups() == ("56", "2", "56")
    found = _text(client.get(reverse("support:organization_list") + "?q=bulk-003"))
    assert ">Acme</a>" in found and ">Globex</a>" not in found
    client.post(reverse("support:access_open", args=[acme.organization.pk]),
                {"ticket": "SUP-1", "reason": "The customer reports degraded connections."})
    detail = _text(client.get(reverse("support:organization_detail", args=[acme.organization.pk]) + "?status=degraded"))
    assert "1–50 of 55" in detail



def test_a_connection_row_links_to_its_page_and_shows_its_status_and_day(admin_client, acme):
    """The row of every list the same: its page, site, tenant, the status badge, the day it was
    made; and the dashboard's problems and matrix, the site's and tenant's pages link alike."""
    made = timezone.now().replace(year=2026, month=3, day=1, hour=23, minute=30)
    broken = ConnectionFactory(organization=acme.organization, status=Connection.Status.NEEDS_REAUTH, created_at=made,
                               site=SiteFactory(organization=acme.organization, name="broken-site"))
    badge = '<span class="status status-needs_reauth">Needs re-authorization</span>'
    page = reverse("connections:connection_detail", args=[broken.pk])
    html = _text(admin_client.get(reverse("connections:connection_list") + "?status=needs_reauth"))
    rows = re.findall(r"<tr><td>.*?</tr>", html, re.S)
    assert rows == [f'<tr><td><a href="{page}">broken-site</a></td><td>{broken.tenant}</td><td>{badge}</td>'
                    f"<td>2026-03-01</td></tr>"]
    dashboard = _text(admin_client.get(reverse("tenants:dashboard")))
    assert f'<a href="{page}">{broken}</a> {badge}' in dashboard  # needs attention
    assert f'<a href="{page}">{badge}</a>' in dashboard  # its cell in the matrix
    site_page = _text(admin_client.get(reverse("tenants:site_detail", args=[broken.site.pk])))
    assert f'<a href="{page}">{broken.tenant}</a> {badge}' in site_page
    tenant_page = _text(admin_client.get(reverse("tenants:tenant_detail", args=[broken.tenant.pk])))
    assert f'<a href="{page}">broken-site</a> {badge}' in tenant_page
    detail = _text(admin_client.get(page))
    assert f"<h2>Status</h2>{badge}" in detail


def test_a_row_shows_the_day_in_the_current_time_zone_as_the_date_filter_does():
    template = engines["django"].from_string(
        '{% load rows %}{{ when|day }} {{ when|date:"Y-m-d" }} [{{ nothing|day }}]'
    )
    when = timezone.now().replace(year=2026, month=3, day=1, hour=23, minute=30)
    for zone, expected in (("UTC", "2026-03-01"), ("Pacific/Auckland", "2026-03-02"), ("America/Los_Angeles",
                                                                                        "2026-03-01")):
        with timezone.override(zone):
            assert template.render({"when": when, "nothing": None}) == f"{expected} {expected} []"
