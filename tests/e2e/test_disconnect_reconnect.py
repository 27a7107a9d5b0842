"""A site admin disconnects a working connection after reading what will happen, then
reconnects it; the tenant still grants everything, so no consent round is needed."""

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from tests.connected import connect_acme

from .conftest import sign_in


def test_disconnect_then_reconnect_in_the_browser(page, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
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
    page.locator(".message", has_text="still grants everything it needs").wait_for()
    assert page.locator("#disconnected").count() == 0
    world.jira.refresh_from_db()
    assert world.jira.status == "active"
