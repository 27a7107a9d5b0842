"""Real Celery workers on Redis: a worker killed in the middle of a full crawl; the stuck detector
hands the run to a fresh worker, which resumes from its checkpoint: every item indexed once in
the portal's table and once in Microsoft Search, none twice."""

import signal
import time

from connections.models import IndexedItem, SearchConnection, SyncRun
from connections.sync import schedules, services
from portal.celery import app
from sandbox.microsoft.search_models import ExternalItem

from .memory_source import page

PAGES = 16


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_crawl_is_resumed_without_duplicate_items(search_world, start_worker, settings):
    world = search_world
    assert app.conf.broker_url.startswith("redis://")
    app.control.purge()
    world.confluence(items=[page(i, acl=[("user", "acc-ann")]) for i in range(1, PAGES + 1)])
    # Set up in this process (eager), with the first crawl's schedule far away.
    app.conf.update(task_always_eager=True)
    world.setup()
    world.publish()
    assert world.search.state == SearchConnection.State.INDEXED
    # Start from an empty index: the crawl to kill is a first full crawl.
    ExternalItem.objects.all().delete()
    IndexedItem.objects.all().delete()
    app.conf.update(task_always_eager=False)
    settings.SYNC_STUCK_AFTER = 2
    world.sandbox.set_fault("latency", "fabrikam", ms=400)  # slow enough to die mid-run
    first = start_worker()
    run = services.sync_run_start(connection=world.connection, kind=SyncRun.Kind.SEARCH_CRAWL, mode="full",
                                  acting_user=world.admin)
    _wait(lambda: IndexedItem.objects.count() >= 4, 90, "two pages indexed")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    run.refresh_from_db()
    assert run.state == SyncRun.State.RUNNING
    before = IndexedItem.objects.count()
    assert 4 <= before < PAGES
    world.sandbox.clear_faults()

    start_worker()
    resumed = _wait(lambda: schedules.unstick()[0], 30, "the stuck detector")
    assert run.pk in resumed
    _wait(lambda: SyncRun.objects.filter(pk=run.pk).exclude(state=SyncRun.State.RUNNING).exists(), 90,
          "the resumed run to end")
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert run.attempts == 2
    assert run.created == PAGES  # each item counted once over both workers
    assert IndexedItem.objects.count() == PAGES
    assert sorted(ExternalItem.objects.values_list("item_id", flat=True)) == sorted(f"page{i}" for i in range(1, 17))
    assert world.finds("ann") == {f"page{i}" for i in range(1, PAGES + 1)}
