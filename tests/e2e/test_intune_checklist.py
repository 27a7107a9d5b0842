"""An admin takes an Atlassian organization from nothing to Intune-protected Jira and
Confluence apps in the browser: the checklist goes from empty to all green, each step either
seen by the portal or confirmed by the admin; one tenant admin grants the Jira app's consent
through the link, on the sandbox's Microsoft pages."""

from datetime import timedelta

from django.utils import timezone

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.microsoft import atlassian_apps, directory
from sandbox.microsoft.models import App
from tests.connections.intune.conftest import build_world

from .conftest import sign_in
from .test_microsoft_consent import _microsoft_sign_in_and_accept


def _states(page):
    return dict(page.eval_on_selector_all("#checklist li.step",
                                          "els => els.map(e => [e.dataset.step, e.dataset.state])"))


def _confirm(page, step):
    page.click(f"li[data-step={step}] button:has-text('Confirm it is done')")
    page.wait_for_selector(f"li[data-step={step}][data-state=confirmed]")


def test_the_checklist_goes_from_empty_to_all_green(browser, live_server, sandbox, settings):
    intune = build_world(sandbox, settings)
    settings.SITE_URL = live_server.url
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
        page.click("nav.mainnav a:has-text('Mobile apps')")
        page.click("text=Register an Atlassian organization")
        page.fill("input[name=name]", "Acme")
        page.fill("input[name=org_id]", intune.org["id"])
        page.fill("input[name=api_key]", intune.org["api_key"])
        page.fill("input[name=key_expires_on]", (timezone.now() + timedelta(days=200)).date().isoformat())
        page.click("button:has-text('Register')")
        page.wait_for_selector("#checklist")
        states = _states(page)
        assert states["api_key"] == "done" and states["verified_domain"] == "done" and states["tenants"] == "done"
        assert states["guard"] == "todo" and states["apps_in_entra"] == "todo" and states["policies"] == "todo"
        assert page.locator("#all-green").count() == 0
        assert page.locator("[data-prerequisite=guard][data-state=todo]").count() == 1
        assert page.locator("[data-prerequisite=verified_domain][data-state=done]").count() == 1
        assert intune.org["api_key"] not in page.content()

        _confirm(page, "guard")
        # People of both tenants sign in once from the Jira and Confluence apps on their phones.
        for tenant in ("contoso", "fabrikam"):
            for app in (atlassian_apps.JIRA_CLOUD, atlassian_apps.CONFLUENCE_CLOUD):
                sandbox.mobile_sign_in(tenant, app)
        page.click("#check-again")
        page.wait_for_selector("li[data-step=apps_in_entra][data-state=done]")
        assert _states(page)["admin_consent"] == "todo"

        # Contoso's admin grants Jira Cloud's consent through the link, in a browser of their own.
        contoso = sandbox.tenants["contoso"]
        row = f"[data-tenant='{contoso.id}'] tr[data-app=jira]"
        page.click(f"{row} button:has-text('Make a consent link')")
        link = page.input_value(f"[data-tenant='{contoso.id}'] input.intune-consent-link")
        assert link.startswith(live_server.url + "/intune/consent/")
        admin_page = browser.new_context(ignore_https_errors=True).new_page()
        admin_page.goto(link)
        admin_page.click("button:has-text('Continue to Microsoft')")
        _microsoft_sign_in_and_accept(admin_page, *contoso.admin)
        admin_page.wait_for_selector("#result")
        assert "granted" in admin_page.inner_text("#result")
        admin_page.context.close()
        # The other three grants are given in Entra by their admins.
        for tenant, app in (("contoso", atlassian_apps.CONFLUENCE_CLOUD), ("fabrikam", atlassian_apps.JIRA_CLOUD),
                            ("fabrikam", atlassian_apps.CONFLUENCE_CLOUD)):
            admin = sandbox.user(tenant, sandbox.tenants[tenant].admin[0])
            directory.grant_admin_consent(tenant=admin.tenant, app=App.objects.get(pk=app), admin=admin,
                                          application_permissions=[])
        page.click("#check-again")
        page.wait_for_selector("li[data-step=admin_consent][data-state=done]")
        assert page.locator(f"{row}[data-consent=consented]").count() == 1

        _confirm(page, "atlassian_switch")
        # A policy for both apps on both platforms, with the defaults an admin expects.
        page.click("#policies a:has-text('Create policy')")
        page.fill("input[name=name]", "Phones")
        page.click("button:has-text('Create policy')")
        page.wait_for_selector("#deployments")
        for tenant in ("contoso", "fabrikam"):
            tid = sandbox.tenants[tenant].id
            page.locator(f"section[data-tenant='{tid}'] input[type=checkbox]").first.check()
            page.click(f"section[data-tenant='{tid}'] button:has-text('Assign in')")
            page.wait_for_selector("#deployments")
        for tenant in ("contoso", "fabrikam"):
            policies = sandbox.app_protections(tenant)
            assert sorted(p.platform for p in policies) == ["android", "ios"]
            assert all(p.apps and p.assignments for p in policies)
        page.click("text=Back to Acme")
        assert _states(page)["policies"] == "done"
        assert page.locator("#all-green").count() == 0  # people have not signed in again yet

        _confirm(page, "users_signed_in_again")
        page.wait_for_selector("#all-green")
        states = _states(page)
        assert set(states.values()) <= {"done", "confirmed"}
        # What no API shows is marked confirmed (by whom), never done.
        assert {k for k, v in states.items() if v == "confirmed"} == {"guard", "atlassian_switch",
                                                                      "users_signed_in_again"}
        assert DEMO_EMAIL in page.inner_text("li[data-step=guard]")
    finally:
        context.close()
