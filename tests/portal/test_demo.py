"""`make run` opens on working connections: the demo connects its first pairs through the
real Atlassian and Microsoft flows against the sandbox, and a second start changes nothing."""

import json
from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from connections.models import Connection
from portal.demo_connect import add_demo_colleagues, connect_demo_pairs, start_first_jobs
from portal.demo_data import DEMO_EMAIL, GLOBEX_OWNER_EMAIL, seed_demo
from portal.management.commands.demo import _sandbox_records
from tenants.models import AuditEvent, Organization, User


def test_the_demo_connects_its_pairs_through_the_real_flows(sandbox, settings):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = "http://testserver"
    sandbox.register_portal(settings.SITE_URL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, settings.SITE_URL + "/connect/atlassian/callback")
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    seed_demo(**_sandbox_records(info))
    acme, admin = Organization.objects.get(slug="acme"), User.objects.get(email=DEMO_EMAIL)

    colleagues = add_demo_colleagues()
    assert colleagues >= 10
    made = connect_demo_pairs(organization=acme, admin=admin, atlassian_admin=info["atlassian"]["admin"])

    assert sorted(str(c) for c in made) == ["acme ↔ Contoso", "acme-support ↔ Contoso"]
    for connection in made:
        connection.refresh_from_db()
        assert connection.status == Connection.Status.ACTIVE
        assert connection.site.auth_status == "authorized"
    granted = AuditEvent.objects.filter(organization=acme, action="consent.granted")
    assert granted.count() == 2 and all("Contoso" in e.target_label for e in granted)
    # A restarted demo keeps what it has.
    assert connect_demo_pairs(organization=acme, admin=admin, atlassian_admin=info["atlassian"]["admin"]) == []

    # The first jobs run (eagerly here, on the worker in the demo) and find the colleagues.
    runs = start_first_jobs(made[:1], admin=admin)
    assert sorted(r.kind for r in runs) == ["teams_directory", "user_matching"]
    for run in runs:
        run.refresh_from_db()
        assert run.state == "succeeded", (run.kind, run.error)
    matches = made[0].user_matches.filter(account_id__startswith="demo-colleague-")
    by_method = {m: matches.filter(method=m).count() for m in ("mail", "upn")}
    assert matches.count() == colleagues
    assert by_method["mail"] >= colleagues // 2 and by_method["upn"] >= 1
    assert matches.filter(outcome="hidden").exists() and matches.filter(outcome="unmatched").exists()
    assert add_demo_colleagues() == 0, "a restarted demo adds nobody twice"


def test_the_demo_gives_the_viewer_a_connection_of_globex_to_see(sandbox, settings, client):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = "http://testserver"
    sandbox.register_portal(settings.SITE_URL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, settings.SITE_URL + "/connect/atlassian/callback")
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    seed_demo(**_sandbox_records(info))
    globex, owner = Organization.objects.get(slug="globex"), User.objects.get(email=GLOBEX_OWNER_EMAIL)
    assert add_demo_colleagues(site_name="globex", tenant_domain="northwind", count=15) > 0
    made = connect_demo_pairs(organization=globex, admin=owner, atlassian_admin=info["atlassian"]["admin"])
    assert [str(c) for c in made] == ["globex ↔ Northwind Traders"]
    runs = start_first_jobs(made, admin=owner)
    assert [r.kind for r in runs] == ["user_matching"]  # no Teams job: its features use none
    # Globex's grant is Globex's own, given by Northwind's admin through Globex's link.
    granted = AuditEvent.objects.get(organization=globex, action="consent.granted")
    assert "Northwind" in granted.target_label

    # The demo admin, a viewer in Globex, sees the connection and its matches, and no admin actions.
    admin = User.objects.get(email=DEMO_EMAIL)
    client.force_login(admin)
    client.post(reverse("tenants:organization_switch", args=[globex.pk]))
    page = client.get(reverse("connections:connection_detail", args=[made[0].pk])).content.decode()
    assert "Active" in page and "Make a link for the tenant admin" not in page
    mapping = client.get(reverse("connections:user_mapping", args=[made[0].pk])).content.decode()
    assert "matched" in mapping.lower()
