"""Teams notifications end to end, against the sandbox over real HTTPS: an admin picks a team and a
channel for a Jira project (as themselves, through Graph), the portal adds its Teams app to the
team and registers a Jira webhook for its OAuth app; a Jira issue event posted by the sandbox to
the portal's receiver arrives in the channel as the app's message; failures are retried and
logged; a delivery with a bad signature is refused; the webhook is refreshed before it expires;
another organization's ids are not found."""

import datetime
import logging
import time

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone

from connections import throttle
from connections.models import Connection, Credential, NotificationDelivery, NotificationTarget, WebhookRegistration
from connections.notifications import endpoints, services
from portal import outbox
from portal.models import OutboxMessage
from sandbox import clock, defaults, faults
from sandbox.atlassian import webhook_views
from sandbox.atlassian.models import DynamicWebhook, Page, Project, Site, Space
from sandbox.microsoft.bot_models import BotActivity, TeamAppInstallation
from sandbox.microsoft.models import Team
from sandbox.requestlog import entries
from tenants.models import AuditAction, AuditEvent
from tests.connected import connect_acme
from tests.connections.declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph
from tests.factories import MembershipFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def world(sandbox, settings, live_server):
    world = connect_acme(sandbox, settings)
    # Jira posts to the portal's public address: the live server here.
    settings.SITE_URL = live_server.url
    settings.NOTIFICATION_CHANNEL_RATE = 1000.0  # the pace has a test of its own
    throttle.reset_default_store()
    throttle.default_store().clear()
    endpoints.forget_bot_token()
    world.project = Project.objects.filter(site__name="acme").order_by("project_id").first()
    admins_teams = Team.objects.filter(tenant_id=world.tenant.tenant_id,
                                       members__user_principal_name__startswith="admin@")
    world.team = admins_teams.order_by("display_name").first()
    world.channel = world.team.channels.order_by("created").last()
    yield world
    throttle.default_store().clear()


def _pick(client, world):
    """Pick the channel through the page, as the admin does."""
    url = reverse("connections:notifications", args=[world.jira.pk])
    pick = f"jira_project:{world.project.project_id}"
    page = client.get(url, {"pick": pick}).content.decode()
    assert world.team.display_name in page  # the teams the admin joined
    page = client.get(url, {"pick": pick, "team": str(world.team.pk)}).content.decode()
    assert world.channel.display_name in page  # that team's channels
    response = client.post(reverse("connections:notifications_set", args=[world.jira.pk]), {
        "source": "jira_project", "source_id": str(world.project.project_id), "source_key": world.project.key,
        "source_name": world.project.name, "team_id": str(world.team.pk), "channel_id": world.channel.id})
    assert response.status_code == 302
    return NotificationTarget.objects.get(connection=world.jira)


def _event(world, key="1", summary="Printer on fire", event="jira:issue_updated"):
    acme = Site.objects.get(name="acme")
    body = webhook_views.issue_event(
        acme, event=event, project=world.project, key=f"{world.project.key}-{key}", summary=summary,
        status="In Progress", changes=[{"field": "status", "fromString": "To Do", "toString": "In Progress"}])
    return webhook_views.deliver(acme, body)


def _admin_client(client, world):
    client.force_login(world.admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_a_jira_event_reaches_the_chosen_channel_as_the_apps_message(client, world, settings):
    client = _admin_client(client, world)
    target = _pick(client, world)
    assert (target.team_name, target.channel_name) == (world.team.display_name, world.channel.display_name)
    # The portal's app was added to the team, and Jira has a webhook for the project.
    assert TeamAppInstallation.objects.filter(team=world.team, bot_app_id=defaults.MICROSOFT_CLIENT_ID).exists()
    registration = WebhookRegistration.objects.get(connection=world.jira)
    hook = DynamicWebhook.objects.get(webhook_id=registration.webhook_id)
    assert hook.jql_filter == f"project IN ({world.project.project_id})"
    assert hook.url == services.receiver_url(registration) and hook.url.startswith(settings.SITE_URL)

    assert [status for _, status in _event(world)] == [202]
    posted = BotActivity.objects.get(conversation_id=world.channel.id)
    assert posted.bot_app_id == defaults.MICROSOFT_CLIENT_ID  # posted as the app, not as a person
    assert f"{world.project.key}-1 updated: Printer on fire" in posted.text
    assert "status: To Do → In Progress" in posted.text
    delivery = NotificationDelivery.objects.get(connection=world.jira)
    assert (delivery.status, delivery.attempts, delivery.activity_id) == ("sent", 1, posted.id)

    # The same event delivered again is posted once.
    acme = Site.objects.get(name="acme")
    body = webhook_views.issue_event(acme, event="jira:issue_updated", project=world.project,
                                     key=f"{world.project.key}-2", summary="Once")
    webhook_views.deliver(acme, body)
    webhook_views.deliver(acme, body)
    assert BotActivity.objects.filter(conversation_id=world.channel.id).count() == 2
    # The page's delivery log shows both.
    page = client.get(reverse("connections:notifications", args=[world.jira.pk])).content.decode()
    assert "Printer on fire" in page and "Once" in page and page.count('data-delivery="sent"') == 2
    # Every Graph and Atlassian request of the flow is a declared one, asking for declared fields.
    for undeclared, extra_fields in (undeclared_graph(list(graph_calls())),
                                     undeclared_atlassian(list(atlassian_calls()))):
        assert not undeclared and not extra_fields, (undeclared, extra_fields)
    # The bot's posts go through the declared connector call.
    bot_paths = {row.path for row in entries(path_startswith="/botframework/")}
    assert bot_paths and all(endpoints.BOT_ACTIVITIES.matches("POST", p.removeprefix(defaults.BOT_SERVICE_PATH))
                             for p in bot_paths)


def test_a_failed_delivery_is_retried_and_logged(client, world, settings):
    _pick(_admin_client(client, world), world)
    faults.set_fault("error_rate", "botframework", status=500, share=1, retry_after="")
    _event(world)
    delivery = NotificationDelivery.objects.get(connection=world.jira)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert "HTTP 500" in delivery.last_error and delivery.next_attempt_at > timezone.now()
    assert not BotActivity.objects.exists()
    # The retry waits in the outbox; once Teams answers again, the relay's next pass sends it.
    assert OutboxMessage.objects.filter(task_name=services.DELIVER_TASK, sent_at__isnull=True).exists()
    faults.clear("error_rate", "botframework")
    outbox.relay(now=timezone.now() + DAY)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
    assert BotActivity.objects.filter(conversation_id=world.channel.id).count() == 1

    # Throttled by Teams (429 with Retry-After), then given up after the last attempt.
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    faults.set_fault("rate_limit", "botframework", limit=0, window=60)
    _event(world, key="9", summary="Throttled")
    throttled = NotificationDelivery.objects.get(subject__contains="Throttled")
    assert throttled.status == "retrying" and "HTTP 429" in throttled.last_error
    # Teams' Retry-After holds every delivery to that channel, in every worker.
    assert throttle.default_store().blocked_until(f"notify-channel:{world.channel.id}") > time.time() + 1
    outbox.relay(now=timezone.now() + DAY)
    throttled.refresh_from_db()
    assert (throttled.status, throttled.attempts) == ("retrying", 1)  # still blocked: no attempt spent
    throttle.default_store().clear()  # the Retry-After has passed
    outbox.relay(now=timezone.now() + 2 * DAY)
    throttled.refresh_from_db()
    assert (throttled.status, throttled.attempts) == ("failed", 2)
    failed = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_DELIVERY_FAILED)
    assert failed.details["attempts"] == 2 and "429" in failed.details["reason"]


def test_the_channel_keeps_its_pace(client, world, settings):
    _pick(_admin_client(client, world), world)
    settings.NOTIFICATION_CHANNEL_RATE = 0.5  # one message every two seconds
    throttle.default_store().clear()
    _event(world, key="1", summary="First")
    _event(world, key="2", summary="Second")
    first, second = NotificationDelivery.objects.order_by("pk")
    assert first.status == "sent"
    assert second.status == "pending" and second.attempts == 0 and second.next_attempt_at > timezone.now()
    assert BotActivity.objects.count() == 1


def test_a_delivery_with_a_bad_signature_is_refused_and_logged_without_the_token(client, world, caplog):
    _pick(_admin_client(client, world), world)
    client.logout()
    registration = WebhookRegistration.objects.get(connection=world.jira)
    url = reverse("connections:notifications_jira_webhook", args=[registration.receiver])
    now = int(time.time())
    forged = jwt.encode({"iat": now, "exp": now + 180}, "not-the-client-secret", algorithm="HS256")
    body = webhook_views.issue_event(Site.objects.get(name="acme"), event="jira:issue_created",
                                     project=world.project, key=f"{world.project.key}-3", summary="Forged")
    with caplog.at_level(logging.INFO):
        response = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {forged}")
        unsigned = client.post(url, body, content_type="application/json")
        none_alg = jwt.encode({"iat": now, "exp": now + 180}, None, algorithm="none")
        alg_none = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {none_alg}")
    assert (response.status_code, unsigned.status_code, alg_none.status_code) == (401, 401, 401)
    assert not NotificationDelivery.objects.exists() and not BotActivity.objects.exists()
    refused = AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_WEBHOOK_REFUSED)
    assert refused.count() == 3 and refused.first().details["reason"]
    assert forged not in caplog.text and all(forged not in str(e.details) for e in refused)
    # The real signature passes the same receiver.
    good = jwt.encode({"iat": now, "exp": now + 180}, defaults.ATLASSIAN_CLIENT_SECRET, algorithm="HS256")
    assert client.post(url, body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 202


def test_the_webhook_is_refreshed_before_it_expires(client, world):
    _pick(_admin_client(client, world), world)
    registration = WebhookRegistration.objects.get(connection=world.jira)
    hook = DynamicWebhook.objects.get(webhook_id=registration.webhook_id)
    # Not due yet: nothing happens.
    assert services.webhooks_refresh_due(now=timezone.now() + DAY)["refreshed"] == 0
    # 25 days on (inside the refresh window): Jira extends it by 30 days from then. The portal's
    # Atlassian access token (an hour) has long expired by then, on both sides.
    world.sandbox.advance_clock(25 * 24 * 3600)
    Credential.objects.filter(site=world.jira.site).update(expires_at=timezone.now())
    before = registration.expires_at
    assert services.webhooks_refresh_due(now=timezone.now() + 25 * DAY)["refreshed"] == 1
    registration.refresh_from_db()
    hook.refresh_from_db()
    assert registration.expires_at > before + 20 * DAY
    assert abs(hook.expires_at - (clock.now() + 30 * 24 * 3600)) < 120
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_WEBHOOK_REFRESHED).count() == 1
    # It still delivers after the original 30 days would have run out.
    world.sandbox.advance_clock(10 * 24 * 3600)
    endpoints.forget_bot_token()
    assert [status for _, status in _event(world)] == [202]


def test_another_organizations_ids_are_not_found(client, world):
    _pick(_admin_client(client, world), world)
    target = NotificationTarget.objects.get()
    outsider = MembershipFactory(role="admin").user
    client.force_login(outsider, backend="django.contrib.auth.backends.ModelBackend")
    args = [world.jira.pk]
    assert client.get(reverse("connections:notifications", args=args)).status_code == 404
    assert client.post(reverse("connections:notifications_set", args=args), {
        "source": "jira_project", "source_id": "1", "source_key": "X", "source_name": "X",
        "team_id": str(world.team.pk), "channel_id": world.channel.id}).status_code == 404
    assert client.post(reverse("connections:notifications_clear", args=[world.jira.pk, target.pk])).status_code == 404
    assert NotificationTarget.objects.filter(pk=target.pk).exists()
    # A receiver id that is no one's.
    url = reverse("connections:notifications_jira_webhook", args=["00000000-0000-4000-8000-000000000000"])
    assert client.post(url, {}, content_type="application/json").status_code == 404


def test_a_team_the_admin_has_not_joined_is_refused_with_a_form_error(client, world):
    client = _admin_client(client, world)
    foreign = Team.objects.exclude(tenant_id=world.tenant.tenant_id).first()
    response = client.post(reverse("connections:notifications_set", args=[world.jira.pk]), {
        "source": "jira_project", "source_id": str(world.project.project_id), "source_key": world.project.key,
        "source_name": world.project.name, "team_id": str(foreign.pk), "channel_id": "19:x@thread.tacv2"},
        follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "not one you have joined" in page, page[page.find("<main"):][:3000]
    assert not NotificationTarget.objects.exists() and not WebhookRegistration.objects.filter(
        webhook_id__isnull=False).exists()


def test_a_changed_confluence_page_reaches_the_spaces_channel(client, world):
    """Confluence offers OAuth 2.0 apps no webhooks: the beat asks its search for changed pages."""
    client = _admin_client(client, world)
    space = Space.objects.filter(site__name="acme").order_by("space_id").first()
    response = client.post(reverse("connections:notifications_set", args=[world.jira.pk]), {
        "source": "confluence_space", "source_id": str(space.space_id), "source_key": space.key,
        "source_name": space.name, "team_id": str(world.team.pk), "channel_id": world.channel.id})
    assert response.status_code == 302
    assert services.confluence_poll(world.jira) == 0  # nothing changed since the pick
    page = Page.objects.filter(space=space, type="page").order_by("page_id").first()
    Page.objects.filter(pk=page.pk).update(title="Runbook: printers", modified_at=timezone.now(),
                                           version=page.version + 1)
    assert services.confluence_poll(world.jira) == 1
    posted = BotActivity.objects.get(conversation_id=world.channel.id)
    assert posted.text == f"Confluence page updated in {space.key}: Runbook: printers"
    assert NotificationDelivery.objects.get(event="confluence:page_updated").status == "sent"
    # The next look sees the same page again (same minute) and posts nothing twice.
    assert services.confluence_poll(world.jira) == 0
    assert BotActivity.objects.count() == 1
    for undeclared, extra_fields in (undeclared_atlassian(list(atlassian_calls())),):
        assert not undeclared and not extra_fields, (undeclared, extra_fields)


def test_a_disconnected_connection_posts_nothing(client, world):
    _pick(_admin_client(client, world), world)
    _event(world, key="1", summary="Before")
    assert BotActivity.objects.count() == 1
    Connection.objects.filter(pk=world.jira.pk).update(status=Connection.Status.DISCONNECTED)
    # Jira's webhook still sends until it lapses; the portal answers and posts nothing.
    assert [status for _, status in _event(world, key="2", summary="After")] == [204]
    assert BotActivity.objects.count() == 1 and NotificationDelivery.objects.count() == 1


def test_viewers_read_the_page_but_cannot_pick(client, world):
    _pick(_admin_client(client, world), world)
    client.force_login(world.viewer, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("connections:notifications", args=[world.jira.pk])
    page = client.get(url, {"pick": f"jira_project:{world.project.project_id}"}).content.decode()
    assert f"{world.team.display_name} / {world.channel.display_name}" in page
    assert "Pick channel" not in page and 'id="picker"' not in page
    target = NotificationTarget.objects.get()
    assert client.post(reverse("connections:notifications_clear", args=[world.jira.pk, target.pk])).status_code == 403
    assert NotificationTarget.objects.filter(pk=target.pk).exists()
