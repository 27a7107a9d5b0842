"""Admins register and remove sites and tenants in the browser; bad input gets a message
next to the field and saves nothing; viewers only look."""

import uuid

import pytest
from django.urls import reverse
from django.utils.html import escape

from connections.models import Connection
from tenants.models import AtlassianSite, AuditEvent, MicrosoftTenant


def test_admin_registers_a_site_and_it_is_audited(admin_client, acme):
    response = admin_client.post(
        reverse("tenants:site_new"),
        {"url": "Contoso.atlassian.net/jira", "name": "", "products": ["jira", "jsm"]},
    )
    site = AtlassianSite.objects.get(organization=acme.organization, url="https://contoso.atlassian.net")
    assert response.status_code == 302
    assert response.url == reverse("tenants:site_detail", args=[site.pk])
    assert site.name == "contoso"
    assert site.products == ["jira", "jsm"]
    event = AuditEvent.objects.get(action="site.registered", target_id=str(site.pk))
    assert event.actor_user == acme.admin
    assert event.organization == acme.organization
    assert event.details["url"] == "https://contoso.atlassian.net"


def test_a_non_atlassian_url_is_refused_next_to_the_field(admin_client, acme):
    before = AtlassianSite.objects.count()
    response = admin_client.post(
        reverse("tenants:site_new"), {"url": "https://jira.example.com", "products": ["jira"]}
    )
    assert response.status_code == 200
    assert "is not an Atlassian Cloud site address" in response.context["form"].errors["url"][0]
    assert b'class="error"' in response.content
    assert AtlassianSite.objects.count() == before
    assert not AuditEvent.objects.filter(action="site.registered").exists()


MALFORMED_ADDRESSES = ["acme.atlassian.net:abc", "https://[::1", "acme: the jira one", "https://acme.atlassian.net:99999"]


@pytest.mark.parametrize("typed", MALFORMED_ADDRESSES)
def test_a_malformed_address_is_a_field_error_with_the_typed_value_kept(admin_client, typed):
    response = admin_client.post(reverse("tenants:site_new"), {"url": typed, "products": ["jira"]})
    assert response.status_code == 200
    assert "is not an Atlassian Cloud site address" in response.context["form"].errors["url"][0]
    assert f'value="{escape(typed)}"' in response.content.decode()
    assert not AtlassianSite.objects.filter(url__icontains="acme").exists()


@pytest.mark.parametrize("typed", MALFORMED_ADDRESSES)
def test_a_malformed_address_on_the_api_token_form_is_a_field_error(admin_client, typed):
    response = admin_client.post(
        reverse("connections:atlassian:api_token_new"), {"url": typed, "email": "a@b.example", "api_token": "t"}
    )
    assert response.status_code == 200
    assert "is not an Atlassian Cloud site address" in response.context["form"].errors["url"][0]
    assert f'value="{escape(typed)}"' in response.content.decode()


def test_a_duplicate_site_is_refused_but_another_organization_may_register_it(admin_client, acme, globex):
    response = admin_client.post(reverse("tenants:site_new"), {"url": acme.site.url, "products": ["jira"]})
    assert response.status_code == 200
    assert "already registered" in response.context["form"].errors["url"][0]
    # The same Atlassian site may be a customer of two portal organizations.
    admin_client.force_login(globex.admin)
    response = admin_client.post(reverse("tenants:site_new"), {"url": acme.site.url, "products": ["jira"]})
    assert response.status_code == 302
    assert AtlassianSite.objects.filter(url=acme.site.url).count() == 2


def test_a_site_needs_at_least_one_product(admin_client):
    response = admin_client.post(reverse("tenants:site_new"), {"url": "https://x.atlassian.net"})
    assert response.context["form"].errors["products"]


def test_admin_registers_a_tenant(admin_client, acme):
    guid = uuid.uuid4()
    response = admin_client.post(
        reverse("tenants:tenant_new"),
        {
            "tenant_id": str(guid).upper(),
            "display_name": "Contoso",
            "cloud": "usgov",
            "domains": "contoso.com, Contoso.onmicrosoft.com",
        },
    )
    tenant = MicrosoftTenant.objects.get(tenant_id=guid)
    assert response.status_code == 302
    assert tenant.cloud == "usgov"
    assert tenant.domains == [
        {"name": "contoso.com", "verified": False},
        {"name": "contoso.onmicrosoft.com", "verified": False},
    ]
    assert AuditEvent.objects.filter(action="tenant.registered", target_id=str(tenant.pk)).exists()


def test_bad_tenant_input_is_explained(admin_client, acme):
    response = admin_client.post(
        reverse("tenants:tenant_new"), {"tenant_id": "contoso", "display_name": "", "domains": "bad domain!"}
    )
    errors = response.context["form"].errors
    assert "GUID" in errors["tenant_id"][0]
    assert errors["display_name"]
    assert "not domain names" in errors["domains"][0]
    response = admin_client.post(
        reverse("tenants:tenant_new"),
        {"tenant_id": str(acme.tenant.tenant_id), "display_name": "Again", "cloud": "public"},
    )
    assert "already registered" in response.context["form"].errors["tenant_id"][0]
    assert MicrosoftTenant.objects.filter(organization=acme.organization).count() == 1


def test_removing_a_site_removes_its_connections_and_audits_both(admin_client, acme):
    url = reverse("tenants:site_remove", args=[acme.site.pk])
    page = admin_client.get(url)
    assert b"connection will be removed too" in page.content
    assert b"Nothing is deleted in the Atlassian site" in page.content
    # The page offers the gentler way: disconnect keeps the configuration.
    assert reverse("connections:site_disconnect", args=[acme.site.pk]).encode() in page.content
    assert b"disconnect instead" in page.content
    response = admin_client.post(url)
    assert response.status_code == 302
    assert not AtlassianSite.objects.filter(pk=acme.site.pk).exists()
    assert not Connection.objects.filter(pk=acme.connection.pk).exists()
    actions = set(AuditEvent.objects.filter(organization=acme.organization).values_list("action", flat=True))
    assert {"site.removed", "connection.removed"} <= actions


def test_removing_a_tenant(admin_client, acme):
    response = admin_client.post(reverse("tenants:tenant_remove", args=[acme.tenant.pk]))
    assert response.status_code == 302
    assert not MicrosoftTenant.objects.filter(pk=acme.tenant.pk).exists()


def test_viewers_see_sites_and_tenants_but_cannot_change_them(viewer_client, acme):
    assert acme.site.name.encode() in viewer_client.get(reverse("tenants:site_list")).content
    assert acme.tenant.display_name.encode() in viewer_client.get(reverse("tenants:tenant_list")).content
    assert viewer_client.get(reverse("tenants:site_new")).status_code == 403
    response = viewer_client.post(reverse("tenants:site_new"), {"url": "https://x.atlassian.net", "products": ["jira"]})
    assert response.status_code == 403
    assert b"You can't do that here" in response.content
    assert viewer_client.post(reverse("tenants:tenant_remove", args=[acme.tenant.pk])).status_code == 403
    assert MicrosoftTenant.objects.filter(pk=acme.tenant.pk).exists()


def test_dashboard_shows_sites_tenants_connections_and_recent_events(admin_client, acme):
    admin_client.post(reverse("tenants:site_new"), {"url": "https://beta.atlassian.net", "products": ["confluence"]})
    page = admin_client.get(reverse("tenants:dashboard")).content.decode()
    assert acme.site.name in page and "beta" in page
    assert acme.tenant.display_name in page
    assert "Pending consent" in page  # the connection's status in the sites x tenants overview
    assert "Atlassian site registered" in page


def test_an_empty_organization_is_told_what_to_do_first(client, db):
    from tests.factories import MembershipFactory

    client.force_login(MembershipFactory().user)
    page = client.get(reverse("tenants:dashboard")).content.decode()
    assert "Start by registering both sides" in page
