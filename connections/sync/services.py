"""Starting, cancelling and retrying sync runs: for people on the page and for schedules."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import outbox
from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from ..models import Connection, SyncRun

RUNNABLE = (Connection.Status.ACTIVE, Connection.Status.DEGRADED)


def _enqueue(run, countdown=None):
    # Committed with the run: a broker outage leaves it queued, and the outbox sends it later.
    outbox.enqueue("connections.sync_run_execute", run_id=run.pk, countdown=countdown)


def _create(*, connection, kind, mode, trigger, acting_user, resumed_from=None, checkpoint=None, auto_retries=0):
    try:
        # A savepoint: the unique constraint may refuse the row without spoiling the caller's
        # transaction.
        with transaction.atomic():
            return SyncRun.objects.create(
                organization=connection.organization, connection=connection, kind=kind, mode=mode,
                trigger=trigger, requested_by=acting_user, resumed_from=resumed_from,
                checkpoint=checkpoint or {}, auto_retries=auto_retries,
            )
    except IntegrityError:
        label = SyncRun.Kind(kind).label
        raise ValidationError(
            f"A {label.lower()} run is already queued or running on this connection. "
            "Wait for it to finish, or cancel it first."
        ) from None


@transaction.atomic
def sync_run_start(*, connection, kind, mode=SyncRun.Mode.FULL, acting_user=None, trigger=SyncRun.Trigger.MANUAL):
    if acting_user is not None:
        require_admin(connection.organization, acting_user)
    kind, mode = SyncRun.Kind(kind), SyncRun.Mode(mode)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status not in RUNNABLE:
        raise ValidationError(
            f"This connection is {connection.get_status_display().lower()}: sync jobs run only on an "
            "active or degraded connection. Fix what the status section says first."
        )
    run = _create(connection=connection, kind=kind, mode=mode, trigger=trigger, acting_user=acting_user)
    audit_record(
        organization=connection.organization, action=AuditAction.SYNC_RUN_STARTED, actor=acting_user,
        target=connection, details={"run": run.pk, "kind": kind, "mode": mode, "trigger": trigger},
    )
    _enqueue(run)
    return run


@transaction.atomic
def sync_run_cancel(*, run, acting_user):
    require_admin(run.organization, acting_user)
    run = SyncRun.objects.select_for_update().get(pk=run.pk)
    if not run.is_active:
        raise ValidationError(f"This run has already ended ({run.get_state_display().lower()}).")
    if run.state == SyncRun.State.QUEUED:
        # Not started: end it now; the queued task finds nothing to do.
        run.state, run.finished_at, run.error = SyncRun.State.CANCELLED, timezone.now(), "Cancelled before it started."
    # A running one stops at its next step (RunContext.check) and ends itself as cancelled.
    run.cancel_requested = True
    run.save(update_fields=["state", "finished_at", "error", "cancel_requested"])
    audit_record(
        organization=run.organization, action=AuditAction.SYNC_RUN_CANCELLED, actor=acting_user,
        target=run.connection, details={"run": run.pk, "kind": run.kind},
    )
    return run


@transaction.atomic
def sync_run_retry(*, run, acting_user):
    """A new run of the same job, starting from where the failed or cancelled one stopped."""
    require_admin(run.organization, acting_user)
    if run.state not in (SyncRun.State.FAILED, SyncRun.State.CANCELLED):
        raise ValidationError("Only a failed or cancelled run can be retried.")
    connection = Connection.objects.select_for_update().get(pk=run.connection_id)
    if connection.status not in RUNNABLE:
        raise ValidationError(
            f"This connection is {connection.get_status_display().lower()}: fix that before retrying."
        )
    retry = _create(
        connection=connection, kind=run.kind, mode=run.mode, trigger=SyncRun.Trigger.RETRY,
        acting_user=acting_user, resumed_from=run, checkpoint=run.checkpoint,
    )
    # A person retried it: the beat does not retry it a second time.
    SyncRun.objects.filter(pk=run.pk).update(retry_at=None)
    audit_record(
        organization=run.organization, action=AuditAction.SYNC_RUN_RETRIED, actor=acting_user,
        target=connection, details={"run": retry.pk, "retry_of": run.pk, "kind": run.kind},
    )
    _enqueue(retry)
    return retry


@transaction.atomic
def sync_run_retry_due(*, run, now=None):
    """The beat's own retry of a failed run whose `retry_at` has come (a transient provider
    failure): a new run from its checkpoint, audited as the system. Runs once per failed run,
    whoever else calls it at the same time; returns the new run, or None when there is none to
    start (no longer due, the connection stopped working, or a run of the job is active and
    does the work already)."""
    now = now or timezone.now()
    # The connection's row first, as sync_run_start and sync_run_retry take it.
    connection = Connection.objects.select_for_update().get(pk=run.connection_id)
    run = SyncRun.objects.select_for_update().get(pk=run.pk)
    if run.state != SyncRun.State.FAILED or run.retry_at is None or run.retry_at > now:
        return None
    run.retry_at = None  # once: the page stops promising a retry whatever happens below
    run.save(update_fields=["retry_at"])
    if connection.status not in RUNNABLE:
        return None
    try:
        retry = _create(
            connection=connection, kind=run.kind, mode=run.mode, trigger=SyncRun.Trigger.RETRY,
            acting_user=None, resumed_from=run, checkpoint=run.checkpoint, auto_retries=run.auto_retries + 1,
        )
    except ValidationError:
        return None
    audit_record(
        organization=run.organization, action=AuditAction.SYNC_RUN_RETRIED, actor=None, target=connection,
        details={"run": retry.pk, "retry_of": run.pk, "kind": run.kind, "automatic": retry.auto_retries},
    )
    _enqueue(retry)
    return retry
