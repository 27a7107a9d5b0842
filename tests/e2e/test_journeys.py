"""End to end on the demo's data (acme ↔ Contoso and acme-support ↔ Contoso, connected through the
real flows): the site admin's day, the tenant admin's consent through a shared link, and the
support person's look, each in its own browser."""

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD, STAFF_EMAIL
from tenants.models import User
from tests.connected import connect_acme
from tests.factories import enrol_totp, totp_code

from .conftest import sign_in
from .test_microsoft_consent import _microsoft_sign_in_and_accept


def test_the_site_admin_journey_on_the_demo_data(page, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
    settings.SITE_URL = live_server.url
    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    # The dashboard shows both demo connections; the JSM site is saved as such.
    assert page.locator("text=acme-support").count() >= 1
    page.goto(f"{live_server.url}/sites/{world.jsm.site.pk}/")
    page.wait_for_selector(".badge:has-text('Jira Service Management')")
    # The connection: active, every permission granted, no advice to grant again.
    page.goto(f"{live_server.url}/connections/{world.jira.pk}/")
    page.get_by_text("Active", exact=True).first.wait_for()
    assert "grant the permissions yourself" not in page.content()
    # A consent link: made, copied field present, listed as open; withdrawn only after asking.
    page.click("button:has-text('Make a link for the tenant admin')")
    link = page.input_value("#consent-link")
    page.click("text=Back to the connection")
    assert page.input_value("#consent-link") == link
    page.locator("table.consent-links a:has-text('Withdraw…')").first.click()
    page.click("button:has-text('Withdraw the link')")
    page.wait_for_selector("table.consent-links [data-link-state=withdrawn]")
    # User mapping: a map… action per row and the CSV export.
    page.click("text=open user mapping")
    page.wait_for_selector("h1:has-text('User mapping')")
    assert page.locator("[data-export]").count() == 1
    # The audit trail says who did it and links to the connection.
    page.goto(f"{live_server.url}/audit/")
    assert page.locator(f"table.audit a[href='/connections/{world.jira.pk}/']").count() >= 1


def test_the_tenant_admin_journey_on_the_demo_data(browser, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
    settings.SITE_URL = live_server.url
    sandbox.register_portal(live_server.url)
    fabrikam = sandbox.tenants["fabrikam"]
    site_admin = browser.new_context(ignore_https_errors=True)
    tenant_admin = browser.new_context(ignore_https_errors=True)
    try:
        # The site admin connects the demo's Jira site to Fabrikam and sends its admin a link.
        page = site_admin.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
        page.goto(f"{live_server.url}/connections/new/")
        page.select_option("select[name=site]", label=world.jira.site.name)
        page.select_option("select[name=tenant]", label="Fabrikam")
        page.check("input[name=features][value=user_mapping]")
        page.click("main button[type=submit]")
        page.wait_for_selector("text=It needs consent before it works.")
        connection_url = page.url
        page.click("button:has-text('Make a link for the tenant admin')")
        link = page.input_value("#consent-link")

        # Fabrikam's admin has no portal account: the link says who asks for what, and why.
        other = tenant_admin.new_page()
        other.set_default_timeout(15_000)
        other.goto(link)
        assert "Acme asks for permissions in your Microsoft 365 tenant" in other.content()
        assert "User.Read.All" in other.locator("table.permissions").inner_text()
        other.click("text=How the portal handles data")
        other.wait_for_selector("text=User.Read.All")
        other.go_back()
        # Fabrikam consented to the app before, for someone else: Acme still needs its own grant.
        other.click("button:has-text('Sign in with Microsoft to grant')")
        _microsoft_sign_in_and_accept(other, *fabrikam.admin)
        other.wait_for_selector("text=Thank you: permissions granted")
        # The link was for one grant: opening it again says so.
        other.goto(link)
        other.wait_for_selector("text=already used")

        # Back with the site admin: active, and the grant says who gave it.
        page.goto(connection_url)
        page.get_by_text("Active", exact=True).first.wait_for()
        assert fabrikam.admin[0].lower() in page.locator("table.grants").inner_text().lower()
    finally:
        site_admin.close()
        tenant_admin.close()


def test_the_support_journey_on_the_demo_data(page, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
    staff = User.objects.get(email=STAFF_EMAIL)
    secret = enrol_totp(staff)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", STAFF_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.fill("input[name=code]", totp_code(secret))
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/support/")
    page.click(f"text={world.organization.name}")
    # Each look is for a ticket, with a reason the organization's admins will read.
    page.fill("input[name=ticket]", "SUP-1234")
    page.fill("textarea[name=reason]", "The customer asks why a connection shows degraded.")
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url(f"{live_server.url}/support/organizations/{world.organization.pk}/")
    page.click(f"a[href='/support/connections/{world.jira.pk}/']")
    page.wait_for_selector("text=Contoso")
    assert "Active" in page.content() and "consent-link\"" not in page.content()
