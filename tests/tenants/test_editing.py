"""An admin corrects what was registered (a site's name and products, a tenant's name and
domains, the organization's name), and a member can leave the organization after reading what
it means. Duplicate organization names are refused. Each change's audit row says old -> new."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, Credential, PermissionGrant
from connections.services import grants_request
from connections.status import connection_status_refresh
from tenants import services
from tenants.models import AuditEvent, Membership, Role
from tests.factories import ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory, UserFactory


@pytest.fixture
def admin(db):
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    client = Client()
    client.force_login(membership.user)
    membership.client = client
    return membership


def test_a_site_name_and_products_are_changed_and_the_connection_follows(admin):
    org = admin.organization
    site = SiteFactory(organization=org, name="acme-support", products=["jira"], authorized=True)
    connection = ConnectionFactory(organization=org, site=site, tenant=TenantFactory(organization=org),
                                   features=["jsm_chatops"])
    grants_request(connection=connection, acting_user=admin.user)
    PermissionGrant.objects.filter(connection=connection).update(observed=True, granted_at=timezone.now())
    Credential.objects.create(organization=org, connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED)
    connection_status_refresh(connection=connection)
    url = reverse("tenants:site_edit", args=[site.pk])
    assert 'value="acme-support"' in admin.client.get(url).content.decode()

    refused = admin.client.post(url, {"name": "", "products": []})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()

    done = admin.client.post(url, {"name": "Acme support desk", "products": ["jira", "jsm"]})
    assert done.status_code == 302
    site.refresh_from_db()
    assert site.name == "Acme support desk" and site.products == ["jira", "jsm"]
    event = AuditEvent.objects.get(action="site.updated")
    assert event.details == {"name": {"from": "acme-support", "to": "Acme support desk"},
                             "products": {"from": ["jira"], "to": ["jira", "jsm"]}}
    # Back to Jira only: the JSM connection says why it is degraded.
    admin.client.post(url, {"name": "Acme support desk", "products": ["jira"]})
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DEGRADED
    page = admin.client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()
    assert "needs Jira Service Management, and the site runs Jira" in page


def test_a_tenant_name_and_domains_are_changed_keeping_what_microsoft_said(admin):
    tenant = TenantFactory(organization=admin.organization, display_name="Contoso",
                           domains=[{"name": "contoso.com", "verified": True}])
    url = reverse("tenants:tenant_edit", args=[tenant.pk])
    bad = admin.client.post(url, {"display_name": "Contoso Ltd", "domains": "not a domain!"})
    assert bad.status_code == 400 and "not domain names" in bad.content.decode()
    admin.client.post(url, {"display_name": "Contoso Ltd", "domains": "contoso.com, contoso.co.uk"})
    tenant.refresh_from_db()
    assert tenant.display_name == "Contoso Ltd"
    assert tenant.domains == [{"name": "contoso.com", "verified": True}, {"name": "contoso.co.uk", "verified": False}]
    assert AuditEvent.objects.get(action="tenant.updated").details["domains"] == {
        "from": ["contoso.com"], "to": ["contoso.com", "contoso.co.uk"]}


def test_organization_names_are_unique_on_create_and_rename(admin):
    other = UserFactory()
    with pytest.raises(Exception, match="already exists"):
        services.organization_create(name="acme ", acting_user=other)
    services.organization_create(name="Globex", acting_user=other)
    response = admin.client.post(reverse("tenants:organization_settings"), {"name": "GLOBEX"})
    assert response.status_code == 400 and "An organization named GLOBEX already exists" in response.content.decode()
    admin.client.post(reverse("tenants:organization_settings"), {"name": "Acme Europe"})
    admin.organization.refresh_from_db()
    assert admin.organization.name == "Acme Europe"
    assert AuditEvent.objects.get(action="organization.renamed").details == {
        "name": {"from": "Acme", "to": "Acme Europe"}}
    signed_up = Client()
    signed_up.force_login(other)
    form = signed_up.post(reverse("tenants:organization_new"), {"name": "Acme Europe"})
    assert form.status_code == 200 and "already exists" in form.content.decode()


def test_leaving_asks_first_and_the_last_admin_cannot_leave(admin):
    viewer = MembershipFactory(organization=admin.organization, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    page = client.get(reverse("tenants:organization_leave")).content.decode()
    assert "Leave Acme?" in page and "needs a new invitation" in page
    assert Membership.objects.filter(pk=viewer.pk).exists()
    client.post(reverse("tenants:organization_leave"))
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert AuditEvent.objects.filter(action="member.left").count() == 1

    refused = admin.client.post(reverse("tenants:organization_leave"), follow=True)
    assert "You are the last admin of Acme" in refused.content.decode()
    assert Membership.objects.filter(pk=admin.pk).exists()


def test_audit_rows_say_what_changed_and_link_to_their_target(admin):
    site = SiteFactory(organization=admin.organization, name="acme")
    admin.client.post(reverse("tenants:site_edit", args=[site.pk]), {"name": "acme-jira", "products": ["jira"]})
    page = admin.client.get(reverse("tenants:audit_list")).content.decode()
    table = page.split('<table class="audit">', 1)[1]
    row = table.split("Atlassian site changed", 1)[1].split("</tr>", 1)[0]
    assert "name: acme → acme-jira" in row and "products: jira, confluence → jira" in row
    assert f'<a href="{reverse("tenants:site_detail", args=[site.pk])}">' in row
