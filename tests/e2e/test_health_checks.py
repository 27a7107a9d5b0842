"""A site admin runs a connection's health checks from its page: all pass; after a grant is
revoked in the tenant the failing check names the permission, says what to do and offers a
consent link, and the status at the top follows."""

from connections.microsoft import graph
from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from tests.connected import connect_acme

from .conftest import sign_in


def test_run_health_checks_see_a_revoked_grant_and_what_to_do(page, live_server, sandbox, settings):
    graph.forget_tokens()
    world = connect_acme(sandbox, settings)
    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/connections/{world.jira.pk}/")
    checks = page.locator("#health-checks")

    checks.locator("button:has-text('Run health checks')").click()
    page.locator(".message", has_text="Health checks are running").wait_for()
    rows = checks.locator("tr[data-check]")
    rows.first.wait_for()
    assert checks.locator("tr[data-outcome='failed']").count() == 0
    assert checks.locator("tr[data-check='channel_knowledge/channel_messages'] .status").inner_text() == "Passed"

    sandbox.revoke("contoso", "ChannelMessage.Read.All", delegated=False)
    page.locator("#health-checks button:has-text('Run health checks')").click()
    failed = page.locator("#health-checks tr[data-check='channel_knowledge/channel_messages'][data-outcome='failed']")
    failed.wait_for()
    text = failed.inner_text()
    assert "ChannelMessage.Read.All is not granted in tenant Contoso" in text
    assert "Ask a Global Administrator of Contoso" in text
    assert failed.locator("button:has-text('Create a consent link')").count() == 1
    assert page.locator("#live .status-reasons").inner_text().count("ChannelMessage.Read.All") >= 1
    assert page.locator("#live .page-head").first.inner_text().endswith("Degraded")

    failed.locator("button:has-text('Create a consent link')").click()
    page.get_by_text("Send this link to the tenant's admin").wait_for()
    assert "/consent/" in page.input_value("#consent-link")
    graph.forget_tokens()
