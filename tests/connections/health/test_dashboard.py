"""The organization dashboard: every site x tenant pair at a glance, and the warnings about
the portal's own client secrets (also in /healthz), 30 days ahead."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from tests.factories import ConnectionFactory, SiteFactory, TenantFactory


def _cells(html):
    """{(site, tenant): cell html} from the matrix."""
    table = re.search(r'<table class="matrix">(.*?)</table>', html, re.S).group(1)
    tenants = re.findall(r'<th scope="col">([^<]+)</th>', table)[1:]
    cells = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table, re.S):
        site = row.split("</th>")[0]
        for tenant, cell in zip(tenants, re.findall(r"<td>(.*?)</td>", row, re.S), strict=True):
            cells[(site, tenant)] = cell
    return cells


def test_the_matrix_shows_each_pair_with_its_status(acme, globex, client):
    org = acme.organization
    sites = [acme.site, SiteFactory(organization=org, name="zeta-support")]
    tenants = [acme.tenant, TenantFactory(organization=org, display_name="Northwind"),
               TenantFactory(organization=org, display_name="Fabrikam")]
    made = {
        (sites[0].name, tenants[1].display_name): ConnectionFactory(
            organization=org, site=sites[0], tenant=tenants[1], status=Connection.Status.DEGRADED),
        (sites[1].name, tenants[2].display_name): ConnectionFactory(
            organization=org, site=sites[1], tenant=tenants[2], status=Connection.Status.NEEDS_REAUTH),
        (sites[1].name, tenants[0].display_name): ConnectionFactory(
            organization=org, site=sites[1], tenant=tenants[0], status=Connection.Status.ACTIVE),
    }
    made[(acme.site.name, acme.tenant.display_name)] = acme.connection  # pending consent

    client.force_login(acme.admin)
    cells = _cells(client.get(reverse("tenants:dashboard")).content.decode())

    assert len(cells) == 6
    for (site, tenant), cell in cells.items():
        connection = made.get((site, tenant))
        if connection is None:
            assert "Connect</a>" in cell and f"tenant={[t for t in tenants if t.display_name == tenant][0].pk}" in cell
        else:
            assert reverse("connections:connection_detail", args=[connection.pk]) in cell
            assert f"status-{connection.status}" in cell and connection.get_status_display() in cell
    # Globex's connection is not in Acme's matrix.
    assert globex.site.name not in {s for s, _ in cells}

    client.force_login(acme.viewer)
    cells = _cells(client.get(reverse("tenants:dashboard")).content.decode())
    assert not any("Connect</a>" in cell for cell in cells.values())


@pytest.mark.parametrize(
    "days, banner, http, state",
    [(31, False, 200, "ok"), (30, True, 200, "warning"), (0, True, 200, "warning"), (-1, True, 503, "expired")],
)
def test_client_secret_expiry_warnings(acme, client, settings, days, banner, http, state):
    settings.MICROSOFT_CLIENT_SECRET_EXPIRES = timezone.localdate() + timedelta(days=days)

    client.force_login(acme.admin)
    page = client.get(reverse("tenants:dashboard")).content.decode()
    assert ('data-secret="microsoft"' in page) is banner
    if banner:
        assert "MICROSOFT_CLIENT_SECRET_EXPIRES" in page
        assert ("expired on" in page) is (days < 0)
    client.force_login(acme.viewer)
    assert 'data-secret="microsoft"' not in client.get(reverse("tenants:dashboard")).content.decode()

    response = client.get(reverse("healthz"))
    assert response.status_code == http
    credentials = response.json()["checks"]["credentials"]
    assert credentials["status"] == state
    assert credentials["secrets"]["microsoft"]["days_left"] == days
    assert response.json()["status"] == {"ok": "ok", "warning": "warning", "expired": "error"}[state]
