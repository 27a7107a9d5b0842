"""Support staff: two-factor first, read everything, change nothing, every look audited."""

from django.test import Client
from django.urls import reverse

from tenants.models import AuditEvent
from tests.factories import enrol_totp, sign_in


def _sign_in_with_totp(client, user):
    sign_in(client, user, enrol_totp(user))


def _open_access(client, org, ticket="SUP-1234", reason="The customer reports a failing health check."):
    return client.post(reverse("support:access_open", args=[org.pk]), {"ticket": ticket, "reason": reason})


def test_staff_must_enable_two_factor_before_support_pages(client, staff_user):
    client.force_login(staff_user)
    response = client.get(reverse("support:organization_list"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_people_who_are_not_staff_get_not_found(admin_client):
    assert admin_client.get(reverse("support:organization_list")).status_code == 404
    assert admin_client.get(reverse("support:audit_list")).status_code == 404


def test_staff_read_every_organization_and_each_look_is_audited(client, staff_user, acme, globex):
    _sign_in_with_totp(client, staff_user)
    listing = client.get(reverse("support:organization_list")).content.decode()
    assert "Acme" in listing and "Globex" in listing
    _open_access(client, globex.organization)
    detail = client.get(reverse("support:organization_detail", args=[globex.organization.pk])).content.decode()
    assert globex.site.name in detail and globex.admin.email in detail
    look = AuditEvent.objects.get(action="support.viewed", organization=globex.organization)
    assert look.actor_user == staff_user

    found = client.get(reverse("support:organization_list"), {"q": acme.site.url}).context["organizations"]
    assert [o.name for o in found] == ["Acme"]


def test_support_filters_the_trail_across_organizations(client, staff_user, acme, globex):
    from tenants import services

    services.tenant_remove(tenant=globex.tenant, acting_user=globex.admin)
    services.tenant_remove(tenant=acme.tenant, acting_user=acme.admin)
    _sign_in_with_totp(client, staff_user)
    _open_access(client, globex.organization)
    response = client.get(
        reverse("support:audit_list"),
        {"organization": globex.organization.pk, "action": "tenant.removed", "actor": globex.admin.email[:8]},
    )
    events = list(response.context["page"].object_list)
    assert [(e.organization, e.action) for e in events] == [(globex.organization, "tenant.removed")]


def test_staff_change_nothing_in_organizations_they_are_not_members_of(client, staff_user, acme):
    _sign_in_with_totp(client, staff_user)
    # No membership: the organization pages are not theirs; the site stays.
    client.post(reverse("tenants:site_remove", args=[acme.site.pk]))
    assert acme.site.__class__.objects.filter(pk=acme.site.pk).exists()


def test_support_reads_a_connection_with_its_grants_and_trail_and_the_look_is_audited(client, staff_user, acme):
    from datetime import timedelta

    from django.utils import timezone

    from connections.models import ConsentRequest, PermissionGrant
    from tenants.models import Membership, Role

    connection = acme.connection
    connection.features = ["user_mapping"]
    connection.save(update_fields=["features"])
    link = ConsentRequest.objects.create(
        organization=acme.organization, connection=connection, created_by=acme.admin, token_hash="x" * 64,
        expires_at=timezone.now() + timedelta(days=7), state="consented", granted_by_name="Adele Vance",
        granted_by_upn="adele@contoso.example",
    )
    PermissionGrant.objects.create(
        connection=connection, provider="microsoft", kind="application", name="User.Read.All",
        consent_request_id=link.pk,
        granted_by_name="Adele Vance", granted_by_upn="adele@contoso.example", granted_by_oid="oid-1",
        redirect_uri="https://portal.example/connect/microsoft/adminconsent/callback", observed=True,
    )
    # Staff who are also admins of the organization still get the read-only page.
    Membership.objects.create(organization=acme.organization, user=staff_user, role=Role.ADMIN)
    _sign_in_with_totp(client, staff_user)
    _open_access(client, acme.organization)
    org_page = client.get(reverse("support:organization_detail", args=[acme.organization.pk])).content.decode()
    url = reverse("support:connection_detail", args=[connection.pk])
    assert url in org_page

    page = client.get(url).content.decode()

    assert "Read-only" in page and "User.Read.All" in page
    assert "User matching by email" in page and "user_mapping" not in page  # features in words
    assert "adele@contoso.example" in page and "/connect/microsoft/adminconsent/callback" in page
    assert "Give permission" not in page and "Disconnect…" not in page and "Run health checks" not in page
    look = AuditEvent.objects.filter(action="support.viewed", target_type="connection").get()
    assert look.actor_user == staff_user and look.organization == acme.organization
    # The trail shown is the connection's, the look included.
    assert "Viewed by support" in client.get(url).content.decode()


def test_members_cannot_open_supports_connection_page(admin_client, acme):
    assert admin_client.get(reverse("support:connection_detail", args=[acme.connection.pk])).status_code == 404


def test_support_staff_land_on_the_support_home_after_signing_in(client, staff_user, acme):
    secret = enrol_totp(staff_user)
    response = sign_in(client, staff_user, secret)
    assert response.url == reverse("support:organization_list")
    assert client.get(response.url).status_code == 200
    # A member of an organization still lands on its dashboard.
    member = Client()
    assert sign_in(member, acme.admin).url == reverse("tenants:dashboard")
