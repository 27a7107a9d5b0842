"""Teams notifications: the writes, each with its audit event.

- `target_set` / `target_clear`: an admin picks the team and channel for a Jira project or a
  Confluence space (as themselves: the teams they joined, that team's channels), the portal's
  Teams app is added to the team, and the connection's Jira webhook is brought in line.
- `webhook_sync` / `webhooks_refresh_due`: one Jira webhook per connection, for the chosen
  projects' issue events; refreshed by the beat before its 30 days run out.
- `receive`: a delivery from Jira, its signature checked, turned into one delivery per channel.
- `deliver`: one attempt to post a delivery through the Bot Framework; a 429, a 5xx or no
  answer is tried again later (Retry-After, else exponential backoff) up to
  NOTIFICATION_MAX_ATTEMPTS; every channel has its own pace (NOTIFICATION_CHANNEL_RATE).
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from portal import outbox
from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from .. import throttle
from ..atlassian import client as atlassian_client
from ..atlassian import refresh as atlassian_refresh
from ..microsoft import refresh as microsoft_refresh
from ..microsoft.graph import Graph, GraphError
from ..models import Connection, NotificationDelivery, NotificationTarget, WebhookRegistration
from . import endpoints, messages, signature

logger = logging.getLogger(__name__)

Source = NotificationTarget.Source
Status = NotificationDelivery.Status
DELIVER_TASK = "connections.notifications_deliver"
BACKOFF_BASE = 30  # seconds before the second attempt; doubled each time
BACKOFF_CAP = 3600
RETRY_AFTER_CAP = 3600  # a Retry-After beyond this is not waited for as given


# --- the admin's Graph (delegated) ------------------------------------------------------------


def picker_graph(connection: Connection) -> Graph:
    """Graph as the connection's signed-in admin (the delegated sign-in the connection keeps)."""
    try:
        token = microsoft_refresh.renew_delegated(connection, scopes=["Team.ReadBasic.All", "Channel.ReadBasic.All",
                                                                      "TeamsAppInstallation.ReadWriteSelfForTeam",
                                                                      "AppCatalog.Read.All"])
    except microsoft_refresh.NoDelegatedSignIn as exc:
        raise ValidationError(f"{exc} Sign in with Microsoft again from the connection's page.") from exc
    except (microsoft_refresh.RenewalRefused, microsoft_refresh.RenewalUnavailable) as exc:
        raise ValidationError(f"Microsoft did not renew the admin's sign-in ({type(exc).__name__}). "
                              "Sign in with Microsoft again from the connection's page.") from exc
    return Graph(connection, access_token=token.access_token)


def _graph_words(exc: GraphError) -> str:
    return f"Microsoft Graph answered {exc.status or 'nothing'}" + (f" ({exc.code})" if exc.code else "")


def picker_choices(connection: Connection, team_id: str | None = None, *, graph: Graph | None = None
                   ) -> dict[str, Any]:
    """The teams the admin joined, and the channels of `team_id` when given (for the picker)."""
    graph = graph or picker_graph(connection)
    try:
        teams = endpoints.picker_teams(graph)
        if team_id and team_id not in {t["id"] for t in teams}:
            raise ValidationError("That team is not one you have joined in Microsoft Teams.")
        channels = endpoints.picker_channels(graph, team_id) if team_id else []
    except GraphError as exc:
        raise ValidationError(f"{_graph_words(exc)} while listing teams and channels. Try again shortly.") from exc
    return {"teams": teams, "channels": channels}


# --- choosing a channel -----------------------------------------------------------------------


def _require_feature(connection: Connection) -> None:
    if "teams_notifications" not in (connection.features or []):
        raise ValidationError("Teams notifications are not among this connection's features.")


def target_set(*, connection: Connection, source: str, source_id: str, source_key: str, source_name: str,
               team_id: str, channel_id: str, acting_user: Any) -> NotificationTarget:
    """Send `source`'s events to the channel. The team and channel must be ones the admin sees
    in Graph (their names are taken from there, never from the form)."""
    require_admin(connection.organization, acting_user)
    _require_feature(connection)
    if source not in Source.values:
        raise ValidationError("Choose a Jira project or a Confluence space.")
    graph = picker_graph(connection)  # one renewal of the admin's sign-in for the whole choice
    choices = picker_choices(connection, team_id, graph=graph)
    team = next(t for t in choices["teams"] if t["id"] == team_id)
    channel = next((c for c in choices["channels"] if c["id"] == channel_id), None)
    if channel is None:
        raise ValidationError("That channel is not in the chosen team.")
    _install_app(graph, team_id)
    with transaction.atomic():
        target, _ = NotificationTarget.objects.update_or_create(
            connection=connection, source=source, source_id=source_id,
            defaults={"organization": connection.organization, "source_key": source_key[:64],
                      "source_name": source_name[:256], "team_id": team_id, "team_name": team["name"][:256],
                      "channel_id": channel_id, "channel_name": channel["name"][:256], "chosen_by": acting_user,
                      "updated_at": timezone.now()},
        )
        audit_record(organization=connection.organization, action=AuditAction.NOTIFICATION_TARGET_SET,
                     actor=acting_user, target=connection, target_label=str(connection),
                     details={"source": source, "key": source_key, "team": team["name"], "channel": channel["name"]})
    if source == Source.JIRA_PROJECT:
        webhook_sync(connection, acting_user=acting_user)
    return target


def _install_app(graph: Graph, team_id: str) -> None:
    """Add the portal's Teams app to the team (already there: nothing to do)."""
    try:
        catalog_id = endpoints.portal_app_catalog_id(graph, settings.TEAMS_APP_MANIFEST_ID)
        if catalog_id is None:
            raise ValidationError("The portal's Teams app is not in this tenant's app catalog yet: ask a Teams "
                                  "admin to add it, then pick the channel again.")
        endpoints.install_app_in_team(graph, team_id, catalog_id)
    except GraphError as exc:
        if exc.status == 409:  # Conflict: the team has the app already
            return
        raise ValidationError(f"{_graph_words(exc)} while adding the portal's Teams app to the team. "
                              "Nothing was changed.") from exc


def target_clear(*, connection: Connection, target_id: int, acting_user: Any) -> None:
    require_admin(connection.organization, acting_user)
    target = NotificationTarget.objects.filter(connection=connection, pk=target_id).first()
    if target is None:
        raise ValidationError("That notification setting no longer exists.")
    with transaction.atomic():
        target.delete()
        audit_record(organization=connection.organization, action=AuditAction.NOTIFICATION_TARGET_CLEARED,
                     actor=acting_user, target=connection, target_label=str(connection),
                     details={"source": target.source, "key": target.source_key})
    if target.source == Source.JIRA_PROJECT:
        webhook_sync(connection, acting_user=acting_user)


# --- the Jira webhook -------------------------------------------------------------------------


def receiver_url(registration: WebhookRegistration) -> str:
    path = reverse("connections:notifications_jira_webhook", args=[registration.receiver])
    return settings.SITE_URL.rstrip("/") + path


def _jql(connection: Connection) -> str:
    ids = sorted(NotificationTarget.objects.filter(connection=connection, source=Source.JIRA_PROJECT)
                 .values_list("source_id", flat=True), key=lambda v: (len(v), v))
    return f"project IN ({', '.join(ids)})" if ids else ""


def _jira_date(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def webhook_sync(connection: Connection, *, acting_user: Any = None) -> WebhookRegistration | None:
    """Make the connection's Jira webhook cover exactly the chosen projects: register it, or
    replace it when the projects changed, or delete it when none is left. A failure is kept on
    the registration (shown on the page) and raised as a ValidationError."""
    registration, _ = WebhookRegistration.objects.get_or_create(
        connection=connection, defaults={"organization": connection.organization})
    jql = _jql(connection)
    if registration.webhook_id and registration.jql_filter == jql:
        return registration
    try:
        jira = atlassian_refresh.jira_for(connection.site)
        if registration.webhook_id:
            endpoints.delete_webhooks(jira, [registration.webhook_id])
            registration.webhook_id, registration.expires_at = None, None
        registration.jql_filter = jql
        if jql:
            created = endpoints.register_webhook(jira, url=receiver_url(registration), jql=jql)
            if created.webhook_id is None:
                raise atlassian_client.AtlassianError("Jira refused the webhook: " + "; ".join(created.errors)[:300])
            registration.webhook_id = created.webhook_id
            # Jira's webhooks live 30 days from registration.
            registration.expires_at = timezone.now() + datetime.timedelta(days=30)
            registration.refreshed_at = timezone.now()
        registration.last_error = ""
    except (atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized,
            atlassian_client.AtlassianError) as exc:
        registration.last_error = str(exc)[:500]
        registration.save()
        raise ValidationError(f"The Jira webhook could not be set up ({exc}). The channel is saved; the portal "
                              "tries again when the beat refreshes webhooks.") from exc
    registration.save()
    audit_record(organization=connection.organization, action=AuditAction.NOTIFICATION_WEBHOOK_REGISTERED,
                 actor=acting_user, target=connection, target_label=str(connection),
                 details={"webhook_id": registration.webhook_id, "jql": jql})
    return registration


def webhooks_refresh_due(now: datetime.datetime | None = None) -> dict[str, int]:
    """Refresh every webhook expiring within NOTIFICATION_WEBHOOK_REFRESH_DAYS; register again
    those that lapsed or failed. Counts of what happened."""
    now = now or timezone.now()
    horizon = now + datetime.timedelta(days=settings.NOTIFICATION_WEBHOOK_REFRESH_DAYS)
    counts = {"refreshed": 0, "registered": 0, "failed": 0}
    rows = WebhookRegistration.objects.select_related("connection__site", "connection__organization")
    for registration in rows.exclude(jql_filter="", webhook_id__isnull=True):
        connection = registration.connection
        try:
            if registration.webhook_id is None or (registration.expires_at and registration.expires_at <= now):
                registration.webhook_id = None
                registration.jql_filter = ""  # lapsed: Jira removed it; register again
                registration.save(update_fields=["webhook_id", "jql_filter"])
                webhook_sync(connection)
                counts["registered"] += 1
                continue
            if registration.expires_at and registration.expires_at > horizon:
                continue
            jira = atlassian_refresh.jira_for(connection.site)
            expires = _jira_date(endpoints.refresh_webhooks(jira, [registration.webhook_id]))
            registration.expires_at = expires or now + datetime.timedelta(days=30)
            registration.refreshed_at, registration.last_error = now, ""
            registration.save(update_fields=["expires_at", "refreshed_at", "last_error"])
            audit_record(organization=connection.organization, action=AuditAction.NOTIFICATION_WEBHOOK_REFRESHED,
                         actor=None, target=connection, target_label=str(connection),
                         details={"webhook_id": registration.webhook_id,
                                  "expires_at": registration.expires_at.isoformat()})
            counts["refreshed"] += 1
        except (ValidationError, atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized,
                atlassian_client.AtlassianError) as exc:
            WebhookRegistration.objects.filter(pk=registration.pk).update(last_error=str(exc)[:500])
            counts["failed"] += 1
    return counts


# --- receiving Jira's deliveries --------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    status: int  # the HTTP status to answer Jira with
    deliveries: int = 0


def receive(*, receiver: str, authorization: str, body: Any, client: str = "") -> Received:
    registration = (WebhookRegistration.objects.select_related("connection__site", "connection__organization")
                    .filter(receiver=receiver).first())
    if registration is None:
        return Received(404)
    connection = registration.connection
    try:
        signature.verify(authorization)
    except signature.BadSignature as exc:
        # Why, never the token: the header is not logged or kept.
        logger.warning("Refused a Jira webhook delivery for connection %s: %s.", connection.pk, exc)
        audit_record(organization=connection.organization, action=AuditAction.NOTIFICATION_WEBHOOK_REFUSED,
                     actor=None, target=connection, target_label=str(connection),
                     details={"reason": str(exc), "client": client[:64]})
        return Received(401)
    event = messages.issue_event(body, connection.site.url)
    # A disconnected connection (or one without the feature) posts nothing into Teams: Jira's
    # webhook may still send until it lapses, and is answered without a delivery.
    if event is None or not _may_post(connection):
        return Received(204)
    targets = NotificationTarget.objects.filter(connection=connection, source=Source.JIRA_PROJECT,
                                                source_id=event.project_id)
    made = 0
    for target in targets:
        made += _queue(connection, target, event=event.event, event_key=event.event_key,
                       subject=f"{event.key} {event.summary}", link=event.link, card=messages.activity(event))
    return Received(202, made)


# --- delivering -------------------------------------------------------------------------------


def _may_post(connection: Connection) -> bool:
    return (connection.status != Connection.Status.DISCONNECTED
            and "teams_notifications" in (connection.features or []))


def _backoff(attempts: int) -> float:
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def deliver(delivery_id: int) -> str:
    """One attempt. 'sent', 'failed', 'retrying' (queued again) or 'skipped'."""
    with transaction.atomic():
        delivery = (NotificationDelivery.objects.select_for_update(skip_locked=True)
                    .select_related("connection").filter(pk=delivery_id).first())
        if delivery is None or delivery.status in (Status.SENT, Status.FAILED):
            return "skipped"
        if not _may_post(delivery.connection):
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
            delivery.last_error = "Not sent: the connection was disconnected or Teams notifications were switched off."
            delivery.save()
            return "failed"
        # The channel's pace, shared by every worker: wait our turn without holding a worker.
        wait = throttle.default_store().take(f"notify-channel:{delivery.channel_id}", time.time(),
                                             settings.NOTIFICATION_CHANNEL_RATE, 1)
        blocked = throttle.default_store().blocked_until(f"notify-channel:{delivery.channel_id}") - time.time()
        wait = max(wait, blocked)
        if wait > 0:
            delivery.next_attempt_at = timezone.now() + datetime.timedelta(seconds=wait)
            delivery.save(update_fields=["next_attempt_at"])
            outbox.enqueue(DELIVER_TASK, countdown=max(1, int(wait + 0.999)), delivery_id=delivery.pk)
            return "retrying"
        delivery.attempts += 1
        try:
            activity_id = endpoints.send_to_conversation(delivery.channel_id, delivery.card)
        except endpoints.BotError as exc:
            return _failed_attempt(delivery, exc)
        delivery.status, delivery.activity_id, delivery.sent_at = Status.SENT, activity_id[:200], timezone.now()
        delivery.last_error, delivery.next_attempt_at = "", None
        delivery.save()
        return "sent"


def _failed_attempt(delivery: NotificationDelivery, exc: endpoints.BotError) -> str:
    delivery.last_error = str(exc)[:500]
    if exc.transient and delivery.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
        wait = exc.retry_after if exc.retry_after is not None else _backoff(delivery.attempts)
        wait = min(wait, RETRY_AFTER_CAP)
        if exc.status == 429:
            # Teams throttles the conversation: every delivery to this channel waits.
            throttle.default_store().block(f"notify-channel:{delivery.channel_id}", time.time() + wait)
        delivery.status = Status.RETRYING
        delivery.next_attempt_at = timezone.now() + datetime.timedelta(seconds=wait)
        delivery.save()
        outbox.enqueue(DELIVER_TASK, countdown=max(1, int(wait + 0.999)), delivery_id=delivery.pk)
        return "retrying"
    delivery.status, delivery.next_attempt_at = Status.FAILED, None
    delivery.save()
    audit_record(organization=delivery.organization, action=AuditAction.NOTIFICATION_DELIVERY_FAILED, actor=None,
                 target=delivery.connection, target_label=str(delivery.connection),
                 details={"subject": delivery.subject[:100], "channel": delivery.channel_name,
                          "attempts": delivery.attempts, "reason": delivery.last_error[:200]})
    return "failed"


# --- Confluence: asking for changed pages -----------------------------------------------------

CQL_MINUTE = "%Y/%m/%d %H:%M"


def _queue(connection: Connection, target: NotificationTarget, *, event: str, event_key: str, subject: str,
           link: str, card: dict[str, Any]) -> bool:
    """One delivery for the target's channel (False: this event was queued before)."""
    try:
        with transaction.atomic():
            delivery = NotificationDelivery.objects.create(
                organization=connection.organization, connection=connection, target=target, event_key=event_key[:200],
                event=event, subject=subject[:500], link=link[:1000], card=card, channel_id=target.channel_id,
                channel_name=target.channel_name, next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return False
    outbox.enqueue(DELIVER_TASK, delivery_id=delivery.pk)
    return True


def confluence_poll(connection: Connection, now: datetime.datetime | None = None) -> int:
    """Queue a delivery for each page changed in the connection's chosen spaces since the last
    look (CQL's lastmodified counts in minutes, so each look starts at the minute the last one
    started; a page seen twice is delivered once). The number queued."""
    now = now or timezone.now()
    targets = list(NotificationTarget.objects.filter(connection=connection, source=Source.CONFLUENCE_SPACE))
    if not targets:
        return 0
    confluence = atlassian_refresh.confluence_for(connection.site)
    queued = 0
    for target in targets:
        last_look = target.polled_at or target.updated_at
        # CQL reads dates in the calling user's time zone, which the portal does not know: ask
        # from a day earlier (every zone is within 14 hours of UTC), then keep the pages whose
        # lastModified, an absolute time, is since the last look.
        # Reference: https://developer.atlassian.com/cloud/confluence/cql-fields/#last-modified
        since = (last_look - CQL_ZONE_MARGIN).astimezone(datetime.UTC).strftime(CQL_MINUTE)
        for page in endpoints.changed_pages(confluence, space_key=target.source_key, since=since):
            if not _modified_since(page["modified"], last_look.replace(second=0, microsecond=0)):
                continue
            link = connection.site.url.rstrip("/") + "/wiki" + page["webui"] if page["webui"] else ""
            queued += _queue(connection, target, event="confluence:page_updated",
                             event_key=f"confluence:{page['id']}:{page['modified']}",
                             subject=f"{target.source_key} {page['title']}", link=link,
                             card=messages.page_activity(space_key=target.source_key, title=page["title"],
                                                         link=link))
        NotificationTarget.objects.filter(pk=target.pk).update(polled_at=now)
    return queued


CQL_ZONE_MARGIN = datetime.timedelta(hours=24)


def _modified_since(modified: str, moment: datetime.datetime) -> bool:
    try:
        when = datetime.datetime.fromisoformat(modified)
    except ValueError:
        return True  # no time to compare: the delivery's key still sends a page once
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when >= moment


def confluence_poll_all() -> dict[str, int]:
    """The beat's pass over every connection with a Confluence space chosen."""
    counts = {"queued": 0, "failed": 0}
    ids = (NotificationTarget.objects.filter(source=Source.CONFLUENCE_SPACE)
           .values_list("connection_id", flat=True).distinct())
    for connection in Connection.objects.filter(pk__in=list(ids)).select_related("site", "organization"):
        if not _may_post(connection):
            continue
        try:
            counts["queued"] += confluence_poll(connection)
        except (atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized,
                atlassian_client.AtlassianError) as exc:
            logger.warning("Confluence changes of connection %s not read: %s", connection.pk, type(exc).__name__)
            counts["failed"] += 1
    return counts
