"""A site admin creates a consent link; a tenant admin opens it in another browser, signs
in on the sandbox's Microsoft pages and grants; the site admin's page turns active without
being reloaded."""

from tenants.models import Role
from tests.factories import PASSWORD, ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory

from .conftest import sign_in


def _microsoft_sign_in_and_accept(page, username, password):
    """The sandbox's Microsoft pages: sign in if asked, then accept on the consent page."""
    for _ in range(4):
        page.wait_for_load_state()
        if page.locator("input[name=username]").count():
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button:has-text('Sign in')")
        elif page.locator("button[value=accept]").count():
            if page.locator("input[name=for_organization]").count():
                page.check("input[name=for_organization]")
            page.click("button[value=accept]")
        else:
            return


def test_a_tenant_admin_grants_through_a_shared_link(browser, live_server, sandbox, settings):
    settings.SITE_URL = live_server.url
    sandbox.register_portal(live_server.url)
    contoso = sandbox.tenants["contoso"]
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    org = membership.organization
    connection = ConnectionFactory(
        organization=org,
        site=SiteFactory(organization=org, name="acme-jira", authorized=True),
        tenant=TenantFactory(organization=org, tenant_id=contoso.id, display_name="Contoso"),
        features=["user_mapping"],
    )
    from connections.services import grants_request

    grants_request(connection=connection, acting_user=membership.user)

    site_admin = browser.new_context(ignore_https_errors=True)
    tenant_admin = browser.new_context(ignore_https_errors=True)
    try:
        page = site_admin.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server, membership.user.email, PASSWORD)
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        page.click("button:has-text('Make a link for the tenant admin')")
        link = page.input_value("#consent-link")
        assert link.startswith(live_server.url + "/consent/")
        page.click("text=Back to the connection")
        assert page.locator("[data-consent-state=sent]").count() == 1
        assert page.input_value("#consent-link") == link

        other = tenant_admin.new_page()
        other.set_default_timeout(15_000)
        other.goto(link)
        assert "Acme asks for permissions in your Microsoft 365 tenant" in other.content()
        assert "User.Read.All" in other.locator("table.permissions").inner_text()
        other.click("button:has-text('Sign in with Microsoft to grant')")
        _microsoft_sign_in_and_accept(other, *contoso.admin)
        other.wait_for_selector("text=Thank you: permissions granted")

        # The site admin's page was not reloaded: the live region shows the new state.
        page.wait_for_selector("#live >> text=Active", timeout=15_000)
        page.wait_for_selector("[data-consent-state=consented]")
        grants = page.locator("table.grants").inner_text()
        assert "User.Read.All" in grants and contoso.admin[0].lower() in grants.lower()
    finally:
        site_admin.close()
        tenant_admin.close()
