"""A PostgreSQL restart in the middle of a user matching run loses nothing and duplicates
nothing: a private cluster (initdb + pg_ctl) and a private Redis, the sandbox served over HTTPS
from that cluster, a real Celery worker running the run, PostgreSQL restarted while the run is
between pages, the beat's stuck detector resuming the run from its checkpoint; then the rows
are counted against the sandbox's directory."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.processes import _wait_for_port, free_port

ROOT = Path(__file__).resolve().parents[2]
USERS = 4000


class Portal:
    """manage.py and a worker against the private cluster, the private Redis and a sandbox."""

    def __init__(self, tmp_path, cluster, broker):
        self.cluster = cluster
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "SANDBOX_"))},
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "true",
            "SANDBOX_ENABLED": "true",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{cluster.port}/portal",
            "CELERY_BROKER_URL": broker.url(0),
            "CELERY_RESULT_BACKEND": broker.url(1),
            "VAR_DIR": str(tmp_path / "var"),
            "SANDBOX_PORT": str(self.port),
            "SYNC_STUCK_AFTER": "4",  # the stuck detector resumes a silent run after 4 s
            "SYNC_OUTAGE_WINDOW": "30",
            "PYTHONUNBUFFERED": "1",
        }
        self.tmp_path = tmp_path
        self.processes = []

    def manage(self, *args, timeout=600):
        done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def python(self, code):
        return self.manage("shell", "-c", code)

    def start(self, name, *args):
        log = (self.tmp_path / f"{name}.log").open("w")
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        process.log = Path(log.name)
        self.processes.append(process)
        return process

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def sql(self, query):
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.cluster.port}/portal", connect_timeout=3) as db:
            return db.execute(query).fetchall()


@pytest.fixture
def portal(tmp_path, private_postgres, private_redis):
    cluster, broker = private_postgres, private_redis
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True) as db:
        db.execute("CREATE DATABASE portal")
    portal = Portal(tmp_path, cluster, broker)
    portal.manage("migrate", "-v0")
    yield portal
    portal.stop_all()


def _tail(portal, name):
    return (portal.tmp_path / f"{name}.log").read_text()[-3000:]


def _run_state(portal, run_id):
    try:
        return portal.sql(f"SELECT state, checkpoint, attempts, error FROM connections_syncrun WHERE id = {run_id}")[0]  # noqa: S608
    except psycopg.OperationalError:
        return None  # the database is restarting


def test_a_postgres_restart_mid_run_loses_and_duplicates_nothing(portal):
    cluster = portal.cluster
    portal.manage("benchmark", "sync", "--users", str(USERS), "--seed-only")
    server = portal.start("sandbox", sys.executable, str(ROOT / "manage.py"), "sandbox", "serve",
                          "--port", str(portal.port), "--browser-port", str(portal.port - 1))  # fmt: skip
    _wait_for_port(portal.port, timeout=60)
    # Slow Jira down a little, so the run is surely between pages when PostgreSQL goes.
    run_id = int(
        portal.python(
            "from django.conf import settings; from bench.sync import world; "
            "from connections.models import SyncRun; from connections.sync.services import sync_run_start; "
            "from sandbox import faults; "
            "faults.set_fault('latency', 'site:acme', ms=700); "
            f"c = world('https://127.0.0.1:{portal.port}'); "
            "print(sync_run_start(connection=c, kind=SyncRun.Kind.USER_MATCHING).pk)"
        ).split()[-1]
    )
    worker = portal.start("worker", sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
                          "--without-gossip", "--without-mingle", "--loglevel=INFO")  # fmt: skip

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        row = _run_state(portal, run_id)
        if row and row[1].get("phase") == "atlassian" and row[1].get("start_at", 0) >= 1000:
            break
        assert row is None or row[0] in ("queued", "running"), (row, server.poll(), _tail(portal, "sandbox"))
        time.sleep(0.2)
    else:
        raise AssertionError(f"the run did not reach the accounts: {_run_state(portal, run_id)}")

    cluster.stop()  # fast shutdown: every connection is cut, the worker's too
    time.sleep(2)
    cluster.start_again()

    # The beat's stuck detector, every few seconds, until the run has ended.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        row = _run_state(portal, run_id)
        if row and row[0] not in ("queued", "running"):
            break
        portal.python("from connections.sync.schedules import unstick; unstick()")
        time.sleep(1)
    state, checkpoint, attempts, error = _run_state(portal, run_id)
    assert state == "succeeded", (state, error, worker.log.read_text()[-3000:])
    assert attempts >= 2  # it was resumed, not started over by luck

    counts = json.loads(
        portal.python(
            "import json; from django.db.models import Count; "
            "from connections.models import MicrosoftUserKey, UserMatch; "
            "from sandbox.atlassian.models import Account; from sandbox.microsoft.models import DirectoryUser; "
            "m = UserMatch.objects.filter(connection__organization__slug='benchmark'); "
            "k = MicrosoftUserKey.objects.filter(connection__organization__slug='benchmark'); "
            "print(json.dumps({'accounts': Account.objects.filter(sites__name='acme').count(), "
            "'matches': m.count(), 'distinct_accounts': m.values('account_id').distinct().count(), "
            "'users': DirectoryUser.objects.filter(tenant__display_name='Northwind Traders', deleted=False).count(), "
            "'keyed_users': k.values('user_id').distinct().count(), 'keys': k.count(), "
            "'distinct_keys': k.values('user_id', 'digest').distinct().count()}))"
        ).splitlines()[-1]
    )
    assert counts["accounts"] >= USERS
    assert counts["matches"] == counts["distinct_accounts"] == counts["accounts"], counts  # none lost, none twice
    assert counts["keyed_users"] == counts["users"] and counts["keys"] == counts["distinct_keys"], counts
    assert server.poll() is None and worker.poll() is None
