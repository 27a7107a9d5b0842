"""Real Celery workers on a PostgreSQL and a Redis of the test's own: a worker SIGKILLed in the
middle of a channel messages run; the stuck detector hands the run to a fresh worker, which
resumes from the checkpoint and writes every message exactly once."""

import signal
import time

from connections.models import SyncRun, TeamsMessage
from connections.sync import schedules, services
from portal.celery import app

SEEDED = 5 * 12


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_run_is_resumed_by_another_without_duplicates(private_stack, teams_world, settings):
    assert app.conf.broker_url == private_stack.redis.url(0)
    # The directory first (in this process), so the messages job knows the five channels.
    app.conf.update(task_always_eager=True)
    assert teams_world.directory().state == SyncRun.State.SUCCEEDED
    app.conf.update(task_always_eager=False)
    settings.SYNC_STUCK_AFTER = 2
    teams_world.sandbox.set_fault("latency", "fabrikam", ms=700)  # slow enough to die mid-run
    first = private_stack.worker("first", SYNC_STUCK_AFTER=2)
    run = services.sync_run_start(  # queued on Redis once committed
        connection=teams_world.connection, kind=SyncRun.Kind.CHANNEL_MESSAGES, mode="full",
        acting_user=teams_world.admin,
    )
    _wait(lambda: SyncRun.objects.filter(pk=run.pk, progress_done__gte=2).exists(), 90, "two channels done")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    run.refresh_from_db()
    assert run.state == SyncRun.State.RUNNING and run.progress_done < 5
    written_before = TeamsMessage.objects.count()
    assert 24 <= written_before < SEEDED
    teams_world.sandbox.clear_faults()

    private_stack.worker("second", SYNC_STUCK_AFTER=2)
    # Once its heartbeat is older than SYNC_STUCK_AFTER, the beat's detector re-queues it.
    resumed = _wait(lambda: schedules.unstick()[0], 30, "the stuck detector")
    assert resumed == [run.pk]
    _wait(lambda: SyncRun.objects.filter(pk=run.pk).exclude(state=SyncRun.State.RUNNING).exists(), 90,
          "the resumed run to end")
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert (run.attempts, run.takeovers) == (2, 1)
    assert TeamsMessage.objects.count() == SEEDED
    assert run.created == SEEDED  # every message written exactly once over both workers
    assert run.progress_done == run.progress_total == 5
