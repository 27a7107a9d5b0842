"""An admin connects an Atlassian site with OAuth 2.0 (3LO) in a real browser: chooses the
features, grants at the sandbox's Atlassian consent page for two sites, and picks one of
them in the portal; the other is listed and not added."""


from tenants.models import AtlassianSite, Role
from tests.factories import PASSWORD, MembershipFactory

from .conftest import sign_in


def _atlassian_pages(page, username, password, sites):
    """The sandbox's Atlassian pages: sign in, tick the sites, continue, accept."""
    for _ in range(5):
        page.wait_for_load_state()
        if "/connect/atlassian/" in page.url:
            return
        if page.locator("input[name=password]").count():
            page.fill("input[name=email]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
        elif page.locator("input[name=site]").count():
            for name in sites:
                page.check(f"input[name=site][data-site='{name}']")
            page.click("button[value=next]")
        else:
            page.click("button[value=accept]")


def test_oauth_connect_with_an_explicit_site_choice(page, live_server, sandbox, settings):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = live_server.url
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, live_server.url + "/connect/atlassian/callback")
    info = sandbox.atlassian
    first, second = [s["name"] for s in info["sites"][:2]]
    account = info["admin"]
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")

    sign_in(page, live_server, membership.user.email, PASSWORD)
    page.goto(f"{live_server.url}/sites/new/")
    page.click("text=Connect with OAuth (recommended)")
    page.check("input[name=features][value=teams_notifications]")
    page.click("button:has-text('Continue to Atlassian')")
    _atlassian_pages(page, account["email"], account["password"], [first, second])

    page.wait_for_url("**/connect/atlassian/choose/**")
    covered = page.locator("[data-covered-sites]").inner_text()
    assert first in covered and second in covered
    assert page.locator("input[name=cloud_id]:checked").count() == 0  # the portal picks nothing
    page.click("button:has-text('Connect this site')")  # without a choice: told to choose
    page.wait_for_selector("text=Choose the site to connect.")
    page.locator("li", has_text=second).locator("input[name=cloud_id]").check()
    page.click("button:has-text('Connect this site')")

    page.wait_for_selector("#authorization[data-auth-status=authorized]")
    assert page.locator("h1").inner_text() == second
    assert "read:jira-work" in page.locator("table.scopes").inner_text()
    assert list(AtlassianSite.objects.filter(organization=membership.organization).values_list("name", flat=True)) == [
        second
    ]
