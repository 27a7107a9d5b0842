"""The engine around the runs: schedules per connection, the beat kickoff that starts what is
due (fanning out one task per connection), and the stuck detector.

Duplicates are harmless by construction: the database allows one active run per connection
and kind, so a kickoff racing another (or a person pressing Start) just finds the run there.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.celery import app
from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from ..models import Connection, SyncRun, SyncSchedule
from .services import RUNNABLE, sync_run_retry_due, sync_run_start

logger = logging.getLogger(__name__)

STUCK_REMEDY = (
    "Retry the run: it goes on from its last saved step. If it gets stuck again, the provider may be "
    "very slow or a worker keeps dying; contact support with the run number."
)


@transaction.atomic
def sync_schedule_save(*, connection, kind, enabled, full_every_minutes, incremental_every_minutes, acting_user):
    """Create or change the schedule of one job on a connection (0 minutes: that mode off)."""
    require_admin(connection.organization, acting_user)
    kind = SyncRun.Kind(kind)
    if full_every_minutes < 0 or incremental_every_minutes < 0:
        raise ValidationError("Intervals are minutes, 0 or more.")
    if enabled and not (full_every_minutes or incremental_every_minutes):
        raise ValidationError("Give at least one interval, or switch the schedule off.")
    # The connection's row first, as the kickoff's defaults take it: an admin's schedule and a
    # default one never race for the same job.
    Connection.objects.select_for_update().filter(pk=connection.pk).first()
    schedule, _ = SyncSchedule.objects.select_for_update().get_or_create(
        connection=connection, kind=kind, defaults={"organization": connection.organization}
    )
    now = timezone.now()
    schedule.enabled = enabled
    # A changed interval counts from the last run of that mode (or now, if there was none).
    if full_every_minutes != schedule.full_every_minutes or schedule.next_full_at is None:
        schedule.full_every_minutes = full_every_minutes
        base = schedule.last_full_at or now - timedelta(minutes=full_every_minutes)
        schedule.next_full_at = base + timedelta(minutes=full_every_minutes) if full_every_minutes else None
    if incremental_every_minutes != schedule.incremental_every_minutes or schedule.next_incremental_at is None:
        schedule.incremental_every_minutes = incremental_every_minutes
        base = schedule.last_incremental_at or now
        schedule.next_incremental_at = (
            base + timedelta(minutes=incremental_every_minutes) if incremental_every_minutes else None
        )
    schedule.save()
    audit_record(
        organization=connection.organization,
        action=AuditAction.SYNC_SCHEDULE_CHANGED,
        actor=acting_user,
        target=connection,
        details={
            "kind": kind,
            "enabled": enabled,
            "full_every_minutes": full_every_minutes,
            "incremental_every_minutes": incremental_every_minutes,
        },
    )
    return schedule


# What a working connection runs by itself, per job its features use, until an admin changes
# or switches it off: (features that use the job, full every, incremental every) in minutes.
DEFAULT_SCHEDULES = {
    SyncRun.Kind.USER_MATCHING: ({"user_mapping"}, 24 * 60, 60),
    SyncRun.Kind.TEAMS_DIRECTORY: ({"teams_notifications", "jsm_chatops", "channel_knowledge"}, 24 * 60, 0),
    SyncRun.Kind.CHANNEL_MESSAGES: ({"channel_knowledge"}, 0, 60),
}


def schedules_ensure_defaults(*, connection, now=None):
    """Give each job the connection's features use its default schedule, once: a schedule that
    exists (an admin's, or switched off) is never touched. The first full run is due at once,
    unless a run of that job already started, in which case the interval counts from it.
    Returns the kinds scheduled."""
    now = now or timezone.now()
    with transaction.atomic():
        # Serialises two kickoffs on the same connection: one audit event, no duplicate rows.
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        have = set(connection.sync_schedules.values_list("kind", flat=True))
        made = []
        for kind in sorted(_needed(connection.features) - have):
            _users, full, incremental = DEFAULT_SCHEDULES[kind]
            schedule = SyncSchedule(organization=connection.organization, connection=connection, kind=kind,
                                    enabled=True, full_every_minutes=full, incremental_every_minutes=incremental)
            last = connection.sync_runs.filter(kind=kind).order_by("-queued_at").first()
            if last is not None:
                schedule.advance(last.mode, last.queued_at)
            elif not full:
                schedule.next_incremental_at = now
            made.append(schedule)
        if not made:
            return []
        SyncSchedule.objects.bulk_create(made)
        audit_record(
            organization=connection.organization, action=AuditAction.SYNC_SCHEDULE_CHANGED, target=connection,
            details={"defaults": [s.kind for s in made]},
        )
    return [s.kind for s in made]


def _needed(features):
    return {kind for kind, (users, _full, _incremental) in DEFAULT_SCHEDULES.items() if users & set(features)}


def _ensure_defaults(now):
    """Working connections with a job their features use but no schedule for it yet. Two
    queries find them; only those take a lock (the beat runs this every minute)."""
    have = {}
    for connection_id, kind in SyncSchedule.objects.filter(connection__status__in=RUNNABLE).values_list(
        "connection_id", "kind"
    ):
        have.setdefault(connection_id, set()).add(kind)
    for pk, features in Connection.objects.filter(status__in=RUNNABLE).values_list("pk", "features"):
        if _needed(features or []) - have.get(pk, set()):
            schedules_ensure_defaults(connection=Connection(pk=pk), now=now)


def _due(now):
    return SyncSchedule.objects.filter(enabled=True, connection__status__in=RUNNABLE).filter(
        Q(full_every_minutes__gt=0, next_full_at__isnull=True)
        | Q(full_every_minutes__gt=0, next_full_at__lte=now)
        | Q(incremental_every_minutes__gt=0, next_incremental_at__isnull=True)
        | Q(incremental_every_minutes__gt=0, next_incremental_at__lte=now)
    )


def _task(name: str) -> Any:
    """A registered task, found by its name: the beat's work is queued without importing the
    task modules (which import this one)."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # outside a worker, task modules load lazily
    return app.tasks[name]


def kickoff(now=None):
    """Beat: queue one task per connection that has a due schedule. Returns how many."""
    now = now or timezone.now()
    _ensure_defaults(now)
    ids = sorted(set(_due(now).values_list("connection_id", flat=True)))
    for connection_id in ids:
        _task("connections.sync_schedule_connection").delay(connection_id=connection_id)
    return len(ids)


def start_due(connection_id, now=None):
    """Start the due runs of one connection; returns the runs started."""
    now = now or timezone.now()
    started = []
    for schedule_id in _due(now).filter(connection_id=connection_id).values_list("pk", flat=True):
        with transaction.atomic():
            schedule = SyncSchedule.objects.select_for_update().select_related("connection").get(pk=schedule_id)
            mode = schedule.due_mode(now)
            if mode is None or schedule.connection.status not in RUNNABLE:
                continue  # another kickoff got here first, or the connection was disconnected
            try:
                run = sync_run_start(
                    connection=schedule.connection, kind=schedule.kind, mode=mode, trigger=SyncRun.Trigger.SCHEDULE
                )
            except ValidationError as exc:
                # A run of this job is already active (one per connection and kind): try again
                # at the next tick, without moving the schedule on.
                logger.info("schedule %s not started: %s", schedule.pk, exc.messages[0])
                continue
            schedule.advance(mode, now)
            schedule.save()
            started.append(run)
    return started


def unstick(now=None):
    """Beat: runs whose worker went silent. Resume each from its checkpoint (the runner claims a
    run whose heartbeat is older than SYNC_STUCK_AFTER) up to SYNC_STUCK_MAX_RESUMES times, then
    mark it failed with a remedy, so no run stays "running" for ever. Only takeovers count: a
    run that gave its worker back to wait out a Retry-After was claimed again, not stuck.
    Queued runs whose task was lost are queued again (a run given back is queued for when its
    wait ends, so it is not lost before then). Returns (resumed, failed) run ids."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_STUCK_AFTER)
    resumed, failed = [], []
    lost = SyncRun.objects.filter(state=SyncRun.State.QUEUED, cancel_requested=False, queued_at__lt=stale)
    stuck = SyncRun.objects.filter(state=SyncRun.State.RUNNING, heartbeat_at__lt=stale)
    for run in list(lost) + list(stuck.select_related("organization", "connection")):
        if run.state == SyncRun.State.QUEUED or run.takeovers < settings.SYNC_STUCK_MAX_RESUMES:
            _task("connections.sync_run_execute").delay(run_id=run.pk)
            resumed.append(run.pk)
        elif _fail_stuck(run, now):
            failed.append(run.pk)
    return resumed, failed


def retry_due(now=None):
    """Beat: start again, from its checkpoint, each failed run whose automatic retry is due
    (the runner sets `retry_at` on a transient provider failure). Returns the new runs' ids."""
    now = now or timezone.now()
    retried = []
    for run in SyncRun.objects.filter(state=SyncRun.State.FAILED, retry_at__lte=now).order_by("retry_at"):
        retry = sync_run_retry_due(run=run, now=now)
        if retry is not None:
            retried.append(retry.pk)
    return retried


def _fail_stuck(run, now):
    since = timezone.localtime(run.heartbeat_at).strftime("%Y-%m-%d %H:%M:%S %Z")
    error = f"stuck: no progress since {since}, after {run.attempts} attempts."
    with transaction.atomic():
        # Only if nothing moved meanwhile (a slow worker may have come back to life).
        ended = SyncRun.objects.filter(
            pk=run.pk, state=SyncRun.State.RUNNING, attempts=run.attempts, heartbeat_at=run.heartbeat_at
        ).update(state=SyncRun.State.FAILED, error=error, remedy=STUCK_REMEDY, finished_at=now)
        if ended:
            audit_record(
                organization=run.organization,
                action=AuditAction.SYNC_RUN_FINISHED,
                actor=None,
                target=run.connection,
                details={"run": run.pk, "kind": run.kind, "mode": run.mode, "state": "failed", "error": error},
            )
    return bool(ended)


def schedules_for(connection):
    """One schedule per job for the page (unsaved defaults where none exists yet)."""
    existing = {s.kind: s for s in connection.sync_schedules.all()}
    return [
        existing.get(kind)
        or SyncSchedule(connection=connection, organization=connection.organization, kind=kind, enabled=False)
        for kind in SyncRun.Kind.values
        # Microsoft Search's schedules are its refresh step, on its own page.
        if not kind.startswith("search_")
    ]
