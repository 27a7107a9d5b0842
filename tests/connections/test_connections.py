"""Connecting a registered site and tenant: one connection per pair, within one organization."""

from django.urls import reverse

from connections.models import Connection
from tenants.models import AuditEvent
from tests.factories import SiteFactory, TenantFactory


def test_admin_connects_a_site_and_a_tenant(admin_client, acme):
    tenant = TenantFactory(organization=acme.organization, display_name="Fabrikam")
    response = admin_client.post(
        reverse("connections:connection_new"),
        {"site": acme.site.pk, "tenant": tenant.pk, "features": ["user_mapping", "teams_notifications"]},
    )
    connection = Connection.objects.get(site=acme.site, tenant=tenant)
    assert response.url == reverse("connections:connection_detail", args=[connection.pk])
    assert connection.status == Connection.Status.PENDING_CONSENT
    # Exactly what the two features need is recorded as requested, nothing more.
    requested = set(connection.grants.values_list("kind", "name"))
    assert requested == {
        ("delegated", "User.Read"),
        ("delegated", "Team.ReadBasic.All"),
        ("delegated", "Channel.ReadBasic.All"),
        ("delegated", "TeamsAppInstallation.ReadWriteSelfForTeam"),
        ("delegated", "AppCatalog.Read.All"),
        ("application", "User.Read.All"),
    }
    assert all(g.requested_by == acme.admin and not g.observed for g in connection.grants.all())
    page = admin_client.get(response.url).content.decode()
    assert "Pending consent" in page and "Connection created" in page
    assert AuditEvent.objects.filter(action="connection.created", target_id=str(connection.pk)).exists()


def test_the_same_pair_cannot_be_connected_twice(admin_client, acme):
    response = admin_client.post(
        reverse("connections:connection_new"),
        {"site": acme.site.pk, "tenant": acme.tenant.pk, "features": ["user_mapping"]},
    )
    assert response.status_code == 200
    assert "already connected" in response.content.decode()
    assert Connection.objects.filter(site=acme.site, tenant=acme.tenant).count() == 1


def test_another_organizations_site_is_not_a_choice(admin_client, acme, globex):
    response = admin_client.post(
        reverse("connections:connection_new"),
        {"site": globex.site.pk, "tenant": acme.tenant.pk, "features": ["user_mapping"]},
    )
    assert response.status_code == 200
    assert "not one of the available choices" in response.context["form"].errors["site"][0]
    assert not Connection.objects.filter(site=globex.site, tenant=acme.tenant).exists()


def test_a_site_connects_to_many_tenants_and_a_tenant_to_many_sites(admin_client, acme):
    other_site = SiteFactory(organization=acme.organization)
    other_tenant = TenantFactory(organization=acme.organization)
    for site, tenant in [(acme.site, other_tenant), (other_site, acme.tenant), (other_site, other_tenant)]:
        admin_client.post(
            reverse("connections:connection_new"), {"site": site.pk, "tenant": tenant.pk, "features": ["user_mapping"]}
        )
    assert Connection.objects.filter(organization=acme.organization).count() == 4
    dashboard = admin_client.get(reverse("tenants:dashboard")).content.decode()
    matrix = dashboard[dashboard.index('id="matrix"'):]
    assert matrix.count("Pending consent") == 4


def test_viewers_see_connections_but_cannot_create_them(viewer_client, acme):
    assert acme.site.name in viewer_client.get(reverse("connections:connection_list")).content.decode()
    assert viewer_client.get(reverse("connections:connection_new")).status_code == 403
