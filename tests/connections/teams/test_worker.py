"""Real Celery workers on Redis: a worker killed in the middle of a channel messages run; the
stuck detector hands the run to a fresh worker, which resumes from the checkpoint and writes
no duplicates."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection as db

from connections.models import SyncRun, TeamsMessage
from connections.sync import schedules, services
from portal.celery import app

ROOT = Path(__file__).resolve().parents[3]
SEEDED = 5 * 12


@pytest.fixture
def start_worker(sandbox, tmp_path):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "MICROSOFT_AUTHORITY_HOST": sandbox.authority_host,
            "MICROSOFT_GRAPH_URL": sandbox.graph_url,
            "HTTP_CA_BUNDLE": sandbox.ca_bundle,
            "SYNC_STUCK_AFTER": "2",
        }
    )
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    processes = []

    def start():
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
             "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        processes.append(process)
        return process

    app.conf.update(task_always_eager=False)
    yield start
    app.conf.update(task_always_eager=True)
    for process in processes:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_run_is_resumed_by_another_without_duplicates(teams_world, start_worker, settings):
    assert app.conf.broker_url.startswith("redis://")
    app.control.purge()
    # The directory first (in this process), so the messages job knows the five channels.
    app.conf.update(task_always_eager=True)
    assert teams_world.directory().state == SyncRun.State.SUCCEEDED
    app.conf.update(task_always_eager=False)
    settings.SYNC_STUCK_AFTER = 2
    teams_world.sandbox.set_fault("latency", "fabrikam", ms=700)  # slow enough to die mid-run
    first = start_worker()
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

    start_worker()
    # Once its heartbeat is older than SYNC_STUCK_AFTER, the beat's detector re-queues it.
    resumed = _wait(lambda: schedules.unstick()[0], 30, "the stuck detector")
    assert resumed == [run.pk]
    _wait(lambda: SyncRun.objects.filter(pk=run.pk).exclude(state=SyncRun.State.RUNNING).exists(), 90,
          "the resumed run to end")
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert run.attempts == 2
    assert TeamsMessage.objects.count() == SEEDED
    assert run.created == SEEDED  # every message written exactly once over both workers
    assert run.progress_done == run.progress_total == 5
