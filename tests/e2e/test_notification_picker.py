"""In the browser: the demo's site admin picks the Teams channel for a Jira project on the
connection's Teams notifications page, then (as in the demo) triggers an issue update on the
sandbox's page and sees it arrive in that channel as the portal's app's message."""

from connections import throttle
from connections.models import NotificationTarget
from connections.notifications import endpoints
from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.atlassian.models import Project
from sandbox.microsoft.bot_models import BotActivity
from sandbox.microsoft.models import Team
from tests.connected import connect_acme

from .conftest import sign_in


def test_an_admin_picks_a_channel_and_sees_a_jira_event_arrive(page, live_server, sandbox, settings):
    world = connect_acme(sandbox, settings)
    settings.SITE_URL = live_server.url
    throttle.reset_default_store()
    throttle.default_store().clear()
    endpoints.forget_bot_token()
    project = Project.objects.filter(site__name="acme").order_by("project_id").first()
    team = Team.objects.filter(tenant_id=world.tenant.tenant_id,
                               members__user_principal_name__startswith="admin@")\
        .order_by("display_name").first()
    channel = team.channels.order_by("created").last()

    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/connections/{world.jira.pk}/")
    page.click("text=open Teams notifications")
    page.wait_for_selector("h1:has-text('Teams notifications')")
    assert "posted by the portal's Teams app" in page.content()
    row = page.locator(f"tr[data-source='jira_project:{project.key}']")
    row.locator("text=Pick channel").click()
    page.select_option("#team", label=team.display_name)
    page.click("button:has-text('Show its channels')")
    page.select_option("#channel", label=channel.display_name)
    page.click("button:has-text('Send notifications here')")
    page.wait_for_selector(f"text={project.key} now notifies {team.display_name} / {channel.display_name}.")
    assert f"{team.display_name} / {channel.display_name}" in row.inner_text()
    assert NotificationTarget.objects.get(connection=world.jira).channel_id == channel.id

    # The demo's other half: an issue update in Jira (the sandbox's button) reaches the channel.
    page.goto(f"{live_server.url}/_sandbox/teams/")
    page.select_option("#project", label=f"acme · {project.key} · {project.name}")
    page.fill("#summary", "Printer on fire")
    page.click("button:has-text('Send to the registered webhooks')")
    page.wait_for_selector("text=(HTTP 202)")
    message = page.locator("tr[data-bot-message]").first
    assert f"{team.display_name} / {channel.display_name}" in message.inner_text()
    assert f"{project.key}-1 updated: Printer on fire" in message.inner_text()
    assert BotActivity.objects.filter(conversation_id=channel.id).count() == 1
    page.goto(f"{live_server.url}/connections/{world.jira.pk}/notifications/#deliveries")
    page.wait_for_selector("tr[data-delivery='sent']")
