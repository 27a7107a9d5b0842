"""Run one sync run to its end: claim it, hand the job a context, record how it ended."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Q, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AuditAction

from .. import throttle
from ..models import Connection, SyncRun
from . import services
from .context import RunContext
from .errors import WAITING_FOR, JobError, RunStopped, RunWaits
from .jobs import job_for

logger = logging.getLogger(__name__)

UNEXPECTED_REMEDY = "Retry the run. If it fails again, contact support with the run number."


def claim(run_id):
    """Take the run for this worker, atomically: a queued run, or a running one whose worker
    stopped beating (killed mid-run), which then resumes from its checkpoint. Returns the
    run, or None when someone else has it or it has ended."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_STUCK_AFTER)
    taken = (
        SyncRun.objects.filter(pk=run_id, cancel_requested=False)
        .filter(Q(state=SyncRun.State.QUEUED) | Q(state=SyncRun.State.RUNNING, heartbeat_at__lt=stale))
        .update(
            state=SyncRun.State.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            # The WHEN reads the row as it was: a running run is taken over, a queued one started.
            takeovers=Case(
                When(state=SyncRun.State.RUNNING, then=F("takeovers") + 1), default=F("takeovers"),
                output_field=PositiveSmallIntegerField(),
            ),
        )
    )
    if not taken:
        return None
    return SyncRun.objects.select_related("connection__site", "connection__tenant", "organization").get(pk=run_id)


def run_execute(run_id):
    """Returns the state the run ended in (or "skipped" when it was not ours to run)."""
    _cancel_if_requested_before_start(run_id)
    run = claim(run_id)
    if run is None:
        return "skipped"
    job = job_for(run.kind)
    if job is None:
        return _finish(run, SyncRun.State.FAILED, error=f"No job is registered for {run.kind}.",
                       remedy=UNEXPECTED_REMEDY)
    ctx = RunContext(run)
    try:
        if run.connection.status == Connection.Status.DISCONNECTED:
            raise RunStopped("the connection was disconnected")
        # Heartbeats well inside SYNC_STUCK_AFTER while a run sleeps through a short Retry-After;
        # a longer one gives the worker back (GiveBack below); requests ride out a short
        # provider outage instead of failing the run.
        with throttle.run_scope(heartbeat=ctx.heartbeat, every=max(settings.SYNC_STUCK_AFTER / 3, 1),
                                outage_window=settings.SYNC_OUTAGE_WINDOW,
                                give_back_after=settings.SYNC_GIVE_BACK_AFTER):
            job(ctx)
    except RunStopped as stop:
        if stop.taken_over:
            return "taken over"  # the run goes on in the worker that resumed it
        return _finish(run, SyncRun.State.CANCELLED, error=f"Stopped: {stop.reason}.", attempt=ctx.attempt)
    except RunWaits as wait:
        return _wait(run, wait, attempt=ctx.attempt, checkpoint=ctx.checkpoint)
    except throttle.GiveBack as throttled:
        return _give_back(run, throttled, attempt=ctx.attempt, checkpoint=ctx.checkpoint)
    except JobError as failure:
        return _finish(run, SyncRun.State.FAILED, error=failure.message, remedy=failure.remedy,
                       attempt=ctx.attempt, retry_at=_automatic_retry_at(run, failure, ctx))
    except Exception as exc:  # noqa: BLE001 - a run must end, whatever the job raised
        logger.exception("sync run %s (%s) failed", run.pk, run.kind)
        return _finish(run, SyncRun.State.FAILED, error=f"Unexpected error ({type(exc).__name__}).",
                       remedy=UNEXPECTED_REMEDY, attempt=ctx.attempt)
    return _finish(run, SyncRun.State.SUCCEEDED, attempt=ctx.attempt)


def _cancel_if_requested_before_start(run_id):
    SyncRun.objects.filter(pk=run_id, state=SyncRun.State.QUEUED, cancel_requested=True).update(
        state=SyncRun.State.CANCELLED, finished_at=timezone.now(), error="Cancelled before it started."
    )


def _automatic_retry_at(run, failure, ctx):
    """When the beat retries this failed run by itself: only a transient provider failure, only
    with a checkpoint to go on from (without one the retry would redo the whole run, which a
    schedule does anyway), at most SYNC_AUTO_RETRIES times, each wait twice the one before."""
    if not failure.transient or not ctx.checkpoint or run.auto_retries >= settings.SYNC_AUTO_RETRIES:
        return None
    return timezone.now() + timedelta(seconds=settings.SYNC_AUTO_RETRY_DELAY * 2**run.auto_retries)




def _wait(run, wait, *, attempt, checkpoint):
    """Back in the queue until the run waited for ends. Its row is locked while deciding, and
    `_finish` updates that row before looking for waiting runs: either this sees it ended
    (and queues the run again at once) or its end sees this run waiting, never neither.
    A wake-up lost with its task is sent again by the stuck detector (queued_at is now)."""
    with transaction.atomic():
        other = SyncRun.objects.select_for_update().filter(pk=wait.run_id).values_list("state", flat=True).first()
        queued = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING, attempts=attempt).update(
            state=SyncRun.State.QUEUED, queued_at=timezone.now(), heartbeat_at=None,
            checkpoint={**checkpoint, WAITING_FOR: wait.run_id},
        )
        if not queued:
            return "skipped"  # cancelled or taken over meanwhile: not ours to requeue
        if other not in SyncRun.ACTIVE_STATES:
            services._enqueue(run)
    logger.info("sync run %s (%s) waits for run %s: %s", run.pk, run.kind, wait.run_id, wait.reason)
    return "waiting"


THROTTLED_UNTIL, THROTTLED_BY = "throttled_until", "throttled_by"  # read by SyncRun.throttled_note


def _give_back(run, throttled, *, attempt, checkpoint):
    """The provider asked to wait longer than a run holds its worker for: back in the queue from
    its checkpoint (the last committed batch), due when the wait ends, so this worker serves
    other tenants meanwhile. queued_at is that time, so the stuck detector counts from then."""
    seconds = max(throttled.until - time.time(), 0.0)
    due = timezone.now() + timedelta(seconds=seconds)
    with transaction.atomic():
        queued = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING, attempts=attempt).update(
            state=SyncRun.State.QUEUED, queued_at=due, heartbeat_at=None,
            checkpoint={**checkpoint, THROTTLED_UNTIL: due.isoformat(), THROTTLED_BY: throttled.key.split(":")[0]},
        )
        if not queued:
            return "skipped"  # cancelled or taken over meanwhile: not ours to requeue
        services._enqueue(run, countdown=seconds)
    logger.info("sync run %s (%s) gives its worker back for %.1f s: %s", run.pk, run.kind, seconds, throttled)
    return "throttled"


def _wake_waiting(run):
    for waiting in SyncRun.objects.filter(
        connection_id=run.connection_id, state=SyncRun.State.QUEUED, **{f"checkpoint__{WAITING_FOR}": run.pk}
    ):
        services._enqueue(waiting)


def _finish(run, state, *, error="", remedy="", attempt=None, retry_at=None):
    with transaction.atomic():
        rows = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING)
        if attempt is not None:
            rows = rows.filter(attempts=attempt)
        ended = rows.update(state=state, error=error, remedy=remedy, finished_at=timezone.now(), retry_at=retry_at)
        if not ended:
            return "skipped"
        _wake_waiting(run)
        run.refresh_from_db()
        audit_record(
            organization=run.organization,
            action=AuditAction.SYNC_RUN_FINISHED,
            actor=None,
            target=run.connection,
            details={
                "run": run.pk, "kind": run.kind, "mode": run.mode, "state": state, "error": error,
                **({"retry_at": retry_at.isoformat()} if retry_at else {}),
                **{name: getattr(run, name) for name in ("fetched", "created", "updated", "deleted", "unchanged")},
            },
        )
    return state
