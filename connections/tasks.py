"""Thin Celery tasks for connections: take ids, reload, call a service."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from tenants.models import User

from . import projects, retention, services
from .health import services as health_services
from .microsoft import verification
from .models import Connection, ConsentRequest
from .notifications import services as notification_services
from .sync import runner, schedules

logger = logging.getLogger(__name__)


@shared_task(name="connections.notify_consent_result", acks_late=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=5)
def notify_consent_result(*, consent_request_id):
    """Tell the site admin who sent a consent link that it was granted or declined."""
    consent_request = ConsentRequest.objects.select_related(
        "connection__site", "connection__tenant", "created_by"
    ).filter(pk=consent_request_id).first()
    if consent_request is None or not consent_request.created_by.email:
        return "skipped"
    what, todo = consent_request.advice
    context = {
        "consent_request": consent_request,
        "connection": consent_request.connection,
        "what": what,
        "todo": todo,
        "url": settings.SITE_URL
        + reverse("connections:connection_detail", args=[consent_request.connection_id]),
    }
    verb = {"consented": "granted", "declined": "declined"}.get(consent_request.state, consent_request.state)
    send_mail(
        subject=f"[Connections portal] Consent {verb} for {consent_request.connection}",
        message=render_to_string("connections/email/consent_result.txt", context),
        from_email=None,
        recipient_list=[consent_request.created_by.email],
    )
    return "sent"


@shared_task(name="connections.send_consent_link", acks_late=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=5)
def send_consent_link(*, consent_request_id, to):
    """Email an open consent link to a tenant admin; the link is read here, never queued."""
    consent_request = ConsentRequest.objects.select_related(
        "connection__site", "connection__tenant", "organization", "created_by"
    ).filter(pk=consent_request_id).first()
    if consent_request is None or not consent_request.is_usable or not consent_request.token:
        return "skipped"
    context = {
        "consent_request": consent_request,
        "connection": consent_request.connection,
        "url": settings.SITE_URL + reverse("connections:microsoft:consent_link", args=[consent_request.token]),
    }
    send_mail(
        subject=f"[Connections portal] {consent_request.organization} asks for permission in "
        f"{consent_request.connection.tenant.display_name}",
        message=render_to_string("connections/email/consent_link.txt", context),
        from_email=None,
        recipient_list=[to],
    )
    return "sent"


@shared_task(name="connections.verify_microsoft_grants", acks_late=True)
def verify_microsoft_grants(*, connection_id, acting_user_id=None):
    """Re-read the tenant's application grants from a fresh app-only token (drift check)."""
    connection = Connection.objects.select_related("tenant").filter(pk=connection_id).first()
    if connection is None or connection.status == Connection.Status.DISCONNECTED:
        return "skipped"
    user = User.objects.filter(pk=acting_user_id).first() if acting_user_id else None
    return verification.verify(connection=connection, acting_user=user)


@shared_task(name="connections.sync_run_execute", acks_late=True)
def sync_run_execute(*, run_id):
    """Run one sync run (user matching, Teams directory, messages) to its end."""
    return runner.run_execute(run_id)


# --- sync: schedules and stuck runs -----------------------------------


@shared_task(name="connections.sync_kickoff", acks_late=True)
def sync_kickoff():
    """Beat: fan out one task per connection with a due schedule."""
    return schedules.kickoff()


@shared_task(name="connections.sync_schedule_connection", acks_late=True)
def sync_schedule_connection(*, connection_id):
    """Start the due scheduled runs of one connection."""
    return [run.pk for run in schedules.start_due(connection_id)]


@shared_task(name="connections.sync_unstick", acks_late=True)
def sync_unstick():
    """Beat: resume runs whose worker went silent; fail them after SYNC_STUCK_MAX_RESUMES.
    Retry the runs that failed on a transient provider failure, once their retry is due."""
    resumed, failed = schedules.unstick()
    return {"resumed": resumed, "failed": failed, "retried": schedules.retry_due()}


# --- health checks ----------------------------------------------------


@shared_task(name="connections.health_checks_run", acks_late=True)
def health_checks_run(*, connection_id, acting_user_id=None):
    """Run one connection's health checks (idempotent: a new run replaces the latest results)."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None or connection.status == Connection.Status.DISCONNECTED:
        return "skipped"
    user = User.objects.filter(pk=acting_user_id).first() if acting_user_id else None
    results = health_services.health_checks_run(connection=connection, acting_user=user)
    return {o: sum(r.outcome == o for r in results) for o in ("passed", "failed", "skipped")}


@shared_task(name="connections.health_checks_kickoff", acks_late=True)
def health_checks_kickoff():
    """Periodic (CELERY_BEAT_SCHEDULE): one health_checks_run per connection worth checking.
    Needs-re-authorization ones too, so a grant restored on the provider's side is noticed."""
    ids = list(
        Connection.objects.filter(
            status__in=[Connection.Status.ACTIVE, Connection.Status.DEGRADED, Connection.Status.NEEDS_REAUTH]
        ).values_list("pk", flat=True)
    )
    for connection_id in ids:
        health_checks_run.delay(connection_id=connection_id)
    # The same beat keeps each service desk's project list current (new projects, gone ones).
    services.projects_refresh_soon(Connection.objects.filter(pk__in=ids).select_related("site"))
    return len(ids)


@shared_task(name="connections.projects_refresh", acks_late=True)
def projects_refresh(*, connection_id):
    """Read a connection's service projects from Jira (idempotent upsert)."""
    connection = Connection.objects.select_related("site").filter(pk=connection_id).first()
    if connection is None or not projects.reads_service_projects(connection):
        return "skipped"
    try:
        return len(projects.projects_refresh(connection=connection))
    except ValidationError as exc:  # the page's "Refresh from Jira" shows the same words to an admin
        logger.warning("service projects of connection %s not read: %s", connection_id, " ".join(exc.messages))
        return "failed"


@shared_task(name="connections.retention_purge", acks_late=True)
def retention_purge():
    """Daily: records carrying tenant or site URLs older than LOG_RETENTION_DAYS are removed."""
    purged = retention.purge()
    return {"health_results": purged.health_results, "sync_run_errors": purged.sync_run_errors,
            "log_files": purged.log_files}


# --- Teams notifications ----------------------------------------------------------------------


@shared_task(name="connections.notifications_deliver", acks_late=True)
def notifications_deliver(*, delivery_id):
    """One attempt to post a notification into its Teams channel (retries queue themselves)."""
    return notification_services.deliver(delivery_id)


@shared_task(name="connections.notifications_refresh_webhooks", acks_late=True)
def notifications_refresh_webhooks():
    """Refresh the Jira webhooks that expire soon (they live 30 days)."""
    return notification_services.webhooks_refresh_due()


@shared_task(name="connections.notifications_poll_confluence", acks_late=True)
def notifications_poll_confluence():
    """Ask Confluence which pages of the chosen spaces changed (it has no webhooks for OAuth apps)."""
    return notification_services.confluence_poll_all()
# Intune app protection registers its tasks with these.
from .intune import tasks as _intune_tasks  # noqa: E402,F401
