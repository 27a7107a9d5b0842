"""A site admin in the browser: finds a tenant by signing in with Microsoft instead of typing its
GUID, corrects a site's products and renames the organization."""

from tenants.models import MicrosoftTenant, Role
from tests.factories import PASSWORD, MembershipFactory, SiteFactory

from .conftest import sign_in
from .test_microsoft_consent import _microsoft_sign_in_and_accept


def test_find_a_tenant_by_signing_in_with_microsoft(page, live_server, sandbox, settings):
    settings.SITE_URL = live_server.url
    sandbox.register_portal(live_server.url)
    contoso = sandbox.tenants["contoso"]
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    sign_in(page, live_server, membership.user.email, PASSWORD)
    page.goto(f"{live_server.url}/tenants/new/")
    page.click("button:has-text('Sign in with Microsoft to find the tenant')")
    _microsoft_sign_in_and_accept(page, *contoso.user)
    page.wait_for_selector("[data-found-tenant]")
    assert page.input_value("input[name=tenant_id]") == contoso.id
    assert page.input_value("input[name=display_name]") == contoso.name
    assert contoso.domain in page.input_value("input[name=domains]")
    page.click("button:has-text('Register tenant')")
    page.wait_for_selector(f"text={contoso.domain} ✓ verified")
    assert MicrosoftTenant.objects.filter(organization=membership.organization, tenant_id=contoso.id).exists()


def test_correct_a_site_and_rename_the_organization(page, live_server):
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    site = SiteFactory(organization=membership.organization, name="acme-support", products=["jira"])
    sign_in(page, live_server, membership.user.email, PASSWORD)
    page.goto(f"{live_server.url}/sites/{site.pk}/")
    page.click("text=Change name or products")
    page.check("input[name=products][value=jsm]")
    page.click("button:has-text('Save')")
    page.wait_for_selector(".badge:has-text('Jira Service Management')")

    page.click("nav >> text=Organization")
    page.fill("input[name=name]", "Acme Europe")
    page.click("button:has-text('Rename')")
    page.wait_for_selector("text=The organization is now called Acme Europe.")

    page.click("text=Remove Acme Europe…")
    page.wait_for_url(f"{live_server.url}/organization/remove/")
