"""End to end: a run started by the service goes through Redis to a real Celery worker, which
matches users against the sandbox over HTTPS."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection as db

from connections.models import SyncRun, UserMatch
from connections.sync.services import sync_run_start
from portal.celery import app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def worker(matching):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # The sandbox this test serves (ephemeral ports), as the test's settings point at it.
            "MICROSOFT_AUTHORITY_HOST": settings.MICROSOFT_AUTHORITY_HOST,
            "MICROSOFT_GRAPH_URL": settings.MICROSOFT_GRAPH_URL,
            "ATLASSIAN_AUTH_URL": settings.ATLASSIAN_AUTH_URL,
            "ATLASSIAN_API_URL": settings.ATLASSIAN_API_URL,
            "HTTP_CA_BUNDLE": settings.HTTP_CA_BUNDLE,
        }
    )
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
            "--without-gossip", "--without-mingle", "--loglevel=INFO",
        ],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    app.conf.update(task_always_eager=False)
    yield
    app.conf.update(task_always_eager=True)
    process.terminate()
    try:
        output = process.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        output = process.communicate()[0]
    assert "Traceback" not in output, output


def test_a_real_worker_matches_the_users(matching, worker):
    assert app.conf.broker_url.startswith("redis://")
    app.control.purge()
    run = sync_run_start(connection=matching.connection, kind=SyncRun.Kind.USER_MATCHING, acting_user=matching.admin)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            break
        time.sleep(0.5)
    assert run.state == SyncRun.State.SUCCEEDED, (run.state, run.error)
    assert run.created > 0 and run.created == UserMatch.objects.filter(connection=matching.connection).count()
    hal = UserMatch.objects.get(
        connection=matching.connection, account_id=matching.account_id("hal.hidden@acme.example")
    )
    assert hal.outcome == "hidden"
