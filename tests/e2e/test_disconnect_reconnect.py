"""A site admin disconnects a working connection after reading what will happen, then
reconnects it. The tenant still grants the application permissions, so no consent round is
needed for them; the delegated sign-in went with the disconnect, and the page says so with
the button that restores it."""

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.testing import tenant_infos
from tests.connected import connect_acme

from .conftest import sign_in
from .test_microsoft_consent import _microsoft_sign_in_and_accept


def test_disconnect_then_reconnect_in_the_browser(page, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
    settings.SITE_URL = live_server.url
    sandbox.register_portal(live_server.url)
    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/connections/{world.jira.pk}/")
    page.get_by_text("Active", exact=True).first.wait_for()

    page.click("text=Disconnect…")
    confirm = page.locator("#disconnect-confirm")
    confirm.get_by_text("Nothing is deleted in Microsoft Teams or in the Atlassian site").wait_for()
    assert "Enterprise applications" in confirm.inner_text()
    confirm.locator("button:has-text('Disconnect')").click()

    page.locator(".message", has_text="is disconnected").wait_for()
    assert page.locator("#disconnected h2").inner_text() == "Disconnected"
    assert page.locator("text=Disconnect…").count() == 0

    page.click("button:has-text('Reconnect')")
    page.locator(".message", has_text="is reconnected and degraded").wait_for()
    assert page.locator(".message", has_text="still grants everything").count() == 0
    status = page.locator("#live section").first
    assert status.locator(".page-head").inner_text().endswith("Degraded")
    assert "No delegated sign-in of an admin of Contoso is stored" in status.inner_text()

    status.locator("button:has-text('Sign in with Microsoft again to restore delegated features')").click()
    _microsoft_sign_in_and_accept(page, *tenant_infos()["contoso"].admin)
    page.locator(".message", has_text="Permissions granted and verified with Microsoft").wait_for()
    page.get_by_text("Active", exact=True).first.wait_for()
    world.jira.refresh_from_db()
    assert world.jira.status == "active"
