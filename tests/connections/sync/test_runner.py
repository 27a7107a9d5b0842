"""The sync run life cycle: start, one active run per job, end states, cancel, disconnect,
resume after a dead worker, retry. The jobs here are stand-ins; each real job has its own tests."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.models import Connection, SyncRun
from connections.sync import runner, services
from connections.sync.context import RunContext
from connections.sync.errors import JobError, RunStopped
from tenants.models import AuditEvent

KIND = SyncRun.Kind.TEAMS_DIRECTORY


@pytest.fixture
def connection(acme):
    acme.connection.status = Connection.Status.ACTIVE
    acme.connection.save()
    return acme.connection


@pytest.fixture
def use_job(monkeypatch):
    def install(func):
        monkeypatch.setattr(runner, "job_for", lambda kind: func)

    return install


def start(connection, acme, **kwargs):
    # on_commit never fires inside the test's transaction: the run stays queued until the
    # test executes it, as a worker would.
    return services.sync_run_start(connection=connection, kind=KIND, acting_user=acme.admin, **kwargs)


def test_a_run_goes_from_queued_to_succeeded_with_its_counts_and_audit(acme, connection, use_job):
    def job(ctx):
        with ctx.batch():
            ctx.save_checkpoint({"page": 1}, fetched=10, created=7, unchanged=3)
        ctx.progress(done=10, total=10)

    use_job(job)
    run = start(connection, acme)
    assert run.state == SyncRun.State.QUEUED
    assert runner.run_execute(run.pk) == SyncRun.State.SUCCEEDED
    run.refresh_from_db()
    assert (run.state, run.fetched, run.created, run.unchanged, run.percent) == ("succeeded", 10, 7, 3, 100)
    assert run.checkpoint == {"page": 1} and run.started_at and run.finished_at
    actions = list(AuditEvent.objects.filter(target_id=str(connection.pk)).values_list("action", flat=True))
    assert "sync.run_started" in actions and "sync.run_finished" in actions


def test_only_one_active_run_per_connection_and_kind(acme, connection):
    start(connection, acme)
    with pytest.raises(ValidationError, match="already queued or running"):
        start(connection, acme)
    # Another kind may run beside it.
    services.sync_run_start(connection=connection, kind=SyncRun.Kind.USER_MATCHING, acting_user=acme.admin)
    # The database itself refuses a second active row, whoever writes it.
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRun.objects.create(organization=acme.organization, connection=connection, kind=KIND,
                               state=SyncRun.State.RUNNING)


def test_runs_start_only_on_a_working_connection_and_only_for_admins(acme, connection):
    with pytest.raises(PermissionDenied):
        services.sync_run_start(connection=connection, kind=KIND, acting_user=acme.viewer)
    connection.status = Connection.Status.PENDING_CONSENT
    connection.save()
    with pytest.raises(ValidationError, match="pending consent"):
        start(connection, acme)
    assert not SyncRun.objects.exists()


def test_a_job_error_fails_the_run_with_its_remedy(acme, connection, use_job):
    def job(ctx):
        raise JobError("Graph refused the users list (403).", remedy="Grant User.Read.All again.")

    use_job(job)
    run = start(connection, acme)
    assert runner.run_execute(run.pk) == SyncRun.State.FAILED
    run.refresh_from_db()
    assert run.error == "Graph refused the users list (403)." and run.remedy == "Grant User.Read.All again."


def test_an_unexpected_error_still_ends_the_run(acme, connection, use_job):
    use_job(lambda ctx: 1 / 0)
    run = start(connection, acme)
    assert runner.run_execute(run.pk) == SyncRun.State.FAILED
    run.refresh_from_db()
    assert "ZeroDivisionError" in run.error and "Retry" in run.remedy


def test_cancel_a_queued_run_ends_it_at_once_and_the_worker_skips_it(acme, connection, use_job):
    use_job(lambda ctx: pytest.fail("a cancelled run must not start"))
    run = start(connection, acme)
    services.sync_run_cancel(run=run, acting_user=acme.admin)
    run.refresh_from_db()
    assert run.state == SyncRun.State.CANCELLED
    assert runner.run_execute(run.pk) == "skipped"


def test_cancel_a_running_run_stops_it_at_its_next_step(acme, connection, use_job):
    written = []

    def job(ctx):
        for page in range(5):
            with ctx.batch():
                written.append(page)
                ctx.save_checkpoint({"page": page}, created=1)
            if page == 1:
                services.sync_run_cancel(run=ctx.run, acting_user=acme.admin)

    use_job(job)
    run = start(connection, acme)
    assert runner.run_execute(run.pk) == SyncRun.State.CANCELLED
    run.refresh_from_db()
    assert written == [0, 1] and run.checkpoint == {"page": 1} and "cancelled" in run.error


def test_a_disconnected_connection_stops_the_run_before_it_writes_again(acme, connection, use_job):
    written = []

    def job(ctx):
        for page in range(5):
            with ctx.batch():
                written.append(page)
                ctx.save_checkpoint({"page": page})
            if page == 0:
                Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISCONNECTED)

    use_job(job)
    run = start(connection, acme)
    assert runner.run_execute(run.pk) == SyncRun.State.CANCELLED
    run.refresh_from_db()
    assert written == [0] and "disconnected" in run.error


def test_a_run_whose_worker_died_resumes_from_its_checkpoint(acme, connection, use_job, settings):
    run = start(connection, acme)
    assert runner.claim(run.pk) is not None
    # The worker wrote two pages, then died: its heartbeat stops.
    SyncRun.objects.filter(pk=run.pk).update(checkpoint={"page": 2}, created=2)
    assert runner.claim(run.pk) is None, "a live run is not taken from its worker"
    old = timezone.now() - timedelta(seconds=settings.SYNC_STUCK_AFTER + 1)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=old)

    seen = {}

    def job(ctx):
        seen["checkpoint"] = dict(ctx.checkpoint)
        with ctx.batch():
            ctx.save_checkpoint({"page": 3}, created=1)

    use_job(job)
    assert runner.run_execute(run.pk) == SyncRun.State.SUCCEEDED
    run.refresh_from_db()
    assert seen["checkpoint"] == {"page": 2} and run.created == 3 and run.attempts == 2


def test_the_worker_that_lost_its_run_stops_writing(acme, connection, settings):
    run = start(connection, acme)
    first = RunContext(runner.claim(run.pk))
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    second = RunContext(runner.claim(run.pk))
    second.save_checkpoint({"page": 9})
    with pytest.raises(RunStopped) as stopped:
        first.save_checkpoint({"page": 1})
    assert stopped.value.taken_over
    run.refresh_from_db()
    assert run.checkpoint == {"page": 9}


def test_retry_starts_a_new_run_from_the_failed_runs_checkpoint(acme, connection, use_job):
    def failing(ctx):
        with ctx.batch():
            ctx.save_checkpoint({"page": 4})
        raise JobError("Jira timed out.", remedy="Retry.")

    use_job(failing)
    run = start(connection, acme)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    retry = services.sync_run_retry(run=run, acting_user=acme.admin)
    assert (retry.state, retry.trigger, retry.resumed_from_id) == ("queued", "retry", run.pk)
    assert retry.checkpoint == {"page": 4}
    with pytest.raises(ValidationError, match="already queued or running"):
        services.sync_run_retry(run=run, acting_user=acme.admin)


def test_a_run_waiting_out_a_long_retry_after_keeps_its_heartbeat(acme, connection, use_job, settings):
    """Waiting is progress: the stuck detector must not take over a run that sleeps through a
    Retry-After longer than SYNC_STUCK_AFTER (here, where runs sleep rather than give back)."""
    from connections.throttle import MemoryStore, Throttle

    settings.SYNC_STUCK_AFTER = 60
    settings.SYNC_GIVE_BACK_AFTER = 3600
    seen = {}

    class Clock:  # fake time: the wait takes no real time
        offset = 0.0

        def now(self):
            return 1_000_000.0 + self.offset

        def sleep(self, seconds):
            self.offset += seconds

    def job(ctx):
        # As if the last heartbeat were long ago: only the wait can make it fresh again.
        SyncRun.objects.filter(pk=ctx.run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
        clock, store = Clock(), MemoryStore()
        store.block("graph:tenant", clock.now() + 3 * settings.SYNC_STUCK_AFTER)
        Throttle(clock=clock, store=store, max_wait=3600).wait_turn("graph:tenant")
        seen["waited"] = clock.offset
        stale = timezone.now() - timedelta(seconds=settings.SYNC_STUCK_AFTER)
        seen["stuck"] = SyncRun.objects.filter(pk=ctx.run.pk, heartbeat_at__lt=stale).exists()

    use_job(job)
    run = start(connection, acme)
    assert runner.run_execute(run.pk) == SyncRun.State.SUCCEEDED
    assert seen == {"waited": 180.0, "stuck": False}


def test_a_long_retry_after_gives_the_worker_back_and_the_run_goes_on_from_its_checkpoint(
    acme, connection, use_job, settings
):
    """A wait longer than SYNC_GIVE_BACK_AFTER is not slept through: the run goes back in the
    queue, due when the wait ends, keeping what it wrote, and carries on from there then."""
    from connections.throttle import MemoryStore, Throttle
    from portal import outbox
    from portal.models import OutboxMessage

    settings.SYNC_GIVE_BACK_AFTER = 5
    store, seen = MemoryStore(), []

    def job(ctx):
        seen.append(dict(ctx.checkpoint))
        if "page" not in ctx.checkpoint:
            with ctx.batch():
                ctx.save_checkpoint({"page": 1}, fetched=10)
            store.block("graph:tenant", time.time() + 60)  # the provider: Retry-After 60
        Throttle(store=store, max_wait=3600).wait_turn("graph:tenant")
        with ctx.batch():
            ctx.save_checkpoint({"page": 2}, fetched=10)

    use_job(job)
    run = start(connection, acme)
    started = time.monotonic()
    assert runner.run_execute(run.pk) == "throttled"
    assert time.monotonic() - started < 5  # the worker did not sleep through the minute
    run.refresh_from_db()
    assert (run.state, run.checkpoint["page"], run.fetched, run.heartbeat_at) == (SyncRun.State.QUEUED, 1, 10, None)
    assert 50 < (run.queued_at - timezone.now()).total_seconds() <= 60
    message = OutboxMessage.objects.filter(kwargs__run_id=run.pk, sent_at=None).latest("pk")
    assert message.next_attempt_at >= run.queued_at - timedelta(seconds=1)

    store.clear()  # the minute is over
    outbox.relay(now=run.queued_at + timedelta(seconds=1))
    run.refresh_from_db()
    assert (run.state, run.checkpoint["page"], run.fetched) == (SyncRun.State.SUCCEEDED, 2, 20), run.error
    assert seen[1]["page"] == 1  # the second turn started from the checkpoint


def _transient_failure(acme, connection, use_job):
    def failing(ctx):
        with ctx.batch():
            ctx.save_checkpoint({"page": 2})
        raise JobError("Microsoft Graph: HTTP 503", remedy="Retry later.", transient=True)

    use_job(failing)
    run = start(connection, acme)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    assert run.retry_at is not None
    return run


def test_a_person_retrying_first_replaces_the_automatic_retry(acme, connection, use_job, admin_client):
    from django.urls import reverse

    from connections.sync import schedules

    run = _transient_failure(acme, connection, use_job)
    page = reverse("connections:jobs_live", args=[connection.pk])
    assert "will be retried automatically at" in admin_client.get(page).content.decode()
    services.sync_run_retry(run=run, acting_user=acme.admin)
    assert "will be retried automatically" not in admin_client.get(page).content.decode()
    assert schedules.retry_due(now=timezone.now() + timedelta(days=1)) == []
    assert SyncRun.objects.filter(resumed_from=run).count() == 1


def test_no_automatic_retry_while_another_run_of_the_job_is_active(acme, connection, use_job):
    from connections.sync import schedules

    run = _transient_failure(acme, connection, use_job)
    start(connection, acme)  # a schedule or a person started the job again meanwhile
    assert schedules.retry_due(now=run.retry_at + timedelta(seconds=1)) == []
    run.refresh_from_db()
    assert run.retry_at is None, "the page no longer promises a retry"
    assert SyncRun.objects.filter(connection=connection, kind=KIND).count() == 2


def test_the_beats_stuck_detector_task_starts_the_due_retry(acme, connection, use_job):
    from connections import tasks

    run = _transient_failure(acme, connection, use_job)
    assert tasks.sync_unstick()["retried"] == [], "not before its time"
    SyncRun.objects.filter(pk=run.pk).update(retry_at=timezone.now() - timedelta(seconds=1))
    (retried,) = tasks.sync_unstick()["retried"]
    retry = SyncRun.objects.get(pk=retried)
    assert (retry.trigger, retry.checkpoint, retry.requested_by) == ("retry", {"page": 2}, None)


def test_the_jobs_section_says_who_started_each_run(acme, connection, client):
    by_hand = start(connection, acme)
    SyncRun.objects.filter(pk=by_hand.pk).update(state=SyncRun.State.SUCCEEDED)
    scheduled = SyncRun.objects.create(organization=connection.organization, connection=connection,
                                       kind=SyncRun.Kind.USER_MATCHING, trigger=SyncRun.Trigger.SCHEDULE)
    client.force_login(acme.admin)
    page = client.get(f"/connections/{connection.pk}/").content.decode()
    row = page.split(f'data-run="{by_hand.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f"Started by hand by {acme.admin}" in row
    row = page.split(f'data-run="{scheduled.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Schedule (by the portal)" in row
