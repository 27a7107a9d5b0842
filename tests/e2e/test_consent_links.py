"""A site admin's consent links in the browser: "Copy link for the tenant admin" puts the link on
the clipboard, a reload makes and withdraws nothing, and withdrawing asks first."""

from connections.models import ConsentRequest
from connections.services import grants_request
from tenants.models import Role
from tests.factories import PASSWORD, ConnectionFactory, MembershipFactory, SiteFactory, TenantFactory

from .conftest import sign_in


def test_copy_reload_and_withdraw_a_consent_link(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    org = membership.organization
    connection = ConnectionFactory(
        organization=org,
        site=SiteFactory(organization=org, name="acme-jira", authorized=True),
        tenant=TenantFactory(organization=org, display_name="Contoso"),
        features=["user_mapping"],
    )
    grants_request(connection=connection, acting_user=membership.user)
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server, membership.user.email, PASSWORD)
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        page.click("button:has-text('Make a link for the tenant admin')")
        link = page.input_value("#consent-link")

        # Copy copies: the clipboard holds the link, and the button says so.
        page.click("button:has-text('Copy link for the tenant admin')")
        page.wait_for_selector("button[data-copy]:has-text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()") == link

        # A reload (even of the page the form posted to) shows the same link and makes no other.
        page.reload()
        assert page.input_value("#consent-link") == link
        assert ConsentRequest.objects.filter(connection=connection).count() == 1

        # On the connection page: the same link ready to copy, and the list of links with states.
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        page.evaluate("navigator.clipboard.writeText('')")
        page.click("#consent-links ~ .copy-field button:has-text('Copy link for the tenant admin')")
        page.wait_for_function("navigator.clipboard.readText().then(t => t.length > 0)")
        assert page.evaluate("navigator.clipboard.readText()") == link
        assert page.locator("table.consent-links [data-link-state=open]").count() == 1

        # Making another link leaves this one open.
        page.click("button:has-text('Make another link')")
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        assert page.locator("table.consent-links [data-link-state=open]").count() == 2

        # Withdraw asks first; Cancel withdraws nothing; the confirmation does.
        page.locator("table.consent-links a:has-text('Withdraw…')").first.click()
        page.wait_for_selector("text=Withdraw this consent link?")
        page.click("text=Cancel")
        assert page.locator("table.consent-links [data-link-state=open]").count() == 2
        page.locator("table.consent-links a:has-text('Withdraw…')").first.click()
        page.click("button:has-text('Withdraw the link')")
        page.wait_for_selector("text=The consent link no longer works.")
        assert page.locator("table.consent-links [data-link-state=open]").count() == 1
        assert page.locator("table.consent-links [data-link-state=withdrawn]").count() == 1
    finally:
        context.close()
