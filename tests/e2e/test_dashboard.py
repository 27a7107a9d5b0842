"""A site admin signs in, registers a site and a tenant, and sees both and their audit
events on the dashboard; the pages stay readable on a phone-sized screen."""

import uuid

from tenants.models import Role
from tests.factories import PASSWORD, MembershipFactory

from .conftest import sign_in


def test_admin_registers_a_site_and_a_tenant_and_sees_them_on_the_dashboard(page, live_server, transactional_db):
    admin = MembershipFactory(organization__name="Acme", role=Role.ADMIN).user
    sign_in(page, live_server, admin.email, PASSWORD)
    assert "Start by registering both sides" in page.content()

    page.click("text=Register a site")
    page.fill("input[name=url]", "not a site")
    page.check("input[value=jira]")
    page.click("button:has-text('Register site')")
    assert page.locator(".field.has-error .error").inner_text().startswith("not a site is not an Atlassian")

    page.fill("input[name=url]", "https://contoso.atlassian.net")
    page.fill("input[name=name]", "Contoso Jira")
    page.click("button:has-text('Register site')")
    page.wait_for_selector("text=Site Contoso Jira registered.")

    page.click("nav >> text=Dashboard")
    page.click("text=Register a tenant")
    tenant_id = str(uuid.uuid4())
    page.fill("input[name=tenant_id]", tenant_id)
    page.fill("input[name=display_name]", "Contoso M365")
    page.fill("input[name=domains]", "contoso.com")
    page.click("button:has-text('Register tenant')")
    page.wait_for_selector("text=Tenant Contoso M365 registered.")

    page.click("nav >> text=Dashboard")
    sites = page.locator("section:has(h2:has-text('Atlassian sites'))").inner_text()
    tenants = page.locator("section:has(h2:has-text('Microsoft 365 tenants'))").inner_text()
    activity = page.locator("section:has(h2:has-text('Recent activity'))").inner_text()
    assert "Contoso Jira" in sites and "https://contoso.atlassian.net" in sites
    assert "Contoso M365" in tenants and tenant_id in tenants
    assert "Atlassian site registered" in activity and "Microsoft tenant registered" in activity
    assert admin.email in activity
    # Both sides registered: the sites x tenants overview offers to connect them.
    assert page.locator("table.matrix >> text=Connect").count() == 1


def test_pages_fit_a_phone_screen(browser, live_server, transactional_db):
    admin = MembershipFactory(role=Role.ADMIN).user
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, live_server, admin.email, PASSWORD)
        for path in ("/dashboard/", "/sites/new/", "/members/", "/audit/"):
            page.goto(live_server.url + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a 375px screen"
    finally:
        context.close()


def test_a_very_long_input_does_not_widen_the_page(browser, live_server, transactional_db):
    admin = MembershipFactory(role=Role.ADMIN).user
    for width in (375, 1280):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        try:
            sign_in(page, live_server, admin.email, PASSWORD)
            page.goto(live_server.url + "/sites/new/")
            page.fill("input[name=url]", "https://" + "a" * 5000 + ".atlassian.net")
            page.fill("input[name=name]", "n" * 5000)
            page.click("button:has-text('Register site')")
            page.wait_for_selector(".error, .form-errors, .errorlist")  # refused, with what was typed
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"a 5000-character input widens the page by {overflow}px at {width}px"
        finally:
            context.close()
