"""End to end on the demo's data (acme ↔ Contoso and acme-support ↔ Contoso, connected through the
real flows): the site admin's day, and the support person's look, each in one browser."""

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD, STAFF_EMAIL
from tenants.models import User
from tests.connected import connect_acme
from tests.factories import enrol_totp, totp_code

from .conftest import sign_in


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
