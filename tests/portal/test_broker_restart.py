"""A busy worker rides out a Redis restart: its own Redis, a real worker process started the
way docker-compose.yml starts it (prefork pool, gossip, mingle and heartbeats on), a task in
flight while Redis goes away and comes back, then new jobs still run."""

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import redis
from celery.exceptions import AlwaysEagerIgnored
from django.db import connection

from portal.celery import app
from tenants import services
from tenants.models import Invitation
from tests.factories import MembershipFactory

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def _start_worker(tmp_path, broker_url, result_url):
    """`celery worker` as docker-compose.yml runs it (prefork, gossip, mingle, heartbeats)."""
    log = tmp_path / "worker.log"
    mail = tmp_path / "mail"
    mail.mkdir()
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": result_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_URL": f"filemail:///{mail}",  # environ drops one leading slash
        }
    )
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "--concurrency=2",
             "-n", f"restart-{os.getpid()}@%h", "-I", "tests.portal.worker_tasks"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    process.log, process.mail = log, mail
    _wait_for(lambda: " ready." in log.read_text() or process.poll() is not None, 60, "the worker was not ready")
    assert process.poll() is None, log.read_text()
    return process


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def production_worker(tmp_path, private_redis):
    process = _start_worker(tmp_path, private_redis.url(0), private_redis.url(1))
    yield process
    _stop(process)


def _send(private_redis, name, **kwargs):
    """Queue a job on the test's own Redis (this process's app is configured for the shared one)."""
    with warnings.catch_warnings():
        # send_task always publishes; the test settings' eager mode does not apply to it.
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        with app.connection_for_write(private_redis.url(0)) as conn:
            app.send_task(name, kwargs=kwargs, connection=conn)


def test_a_busy_worker_survives_a_redis_restart_and_runs_the_next_job(
    transactional_db, tmp_path, private_redis, production_worker
):
    job = tmp_path / "job"
    job.mkdir()
    _send(private_redis, "tests.hold_until_released", folder=str(job))
    _wait_for(lambda: (job / "started").exists(), 60, "the long job did not start")

    # Redis goes away while the job is in flight (unacknowledged), then comes back.
    private_redis.restart(down_for=2)
    (job / "release").touch()
    _wait_for(lambda: (job / "finished").exists(), 60, "the long job did not finish")
    log = production_worker.log
    _wait_for(lambda: log.read_text().count("Connected to redis://") >= 2 or production_worker.poll() is not None,
              60, "the worker did not reconnect")
    time.sleep(2)  # a worker that is going to give up does it right after the reconnect
    assert production_worker.poll() is None, "the worker exited after the Redis restart:\n" + log.read_text()
    assert "Unrecoverable error" not in log.read_text(), log.read_text()
    # The job acknowledged its message through the restarted Redis: it will not run again.
    broker = redis.Redis.from_url(private_redis.url(0))
    _wait_for(lambda: broker.hlen("unacked") == 0, 10, "the finished job's message was not acknowledged")
    assert broker.llen("celery") == 0

    # The next job still runs: an invitation email, sent by that same worker.
    admin = MembershipFactory().user
    # The service's own send runs eagerly here (test settings); the worker gets it below.
    invitation = services.invitation_create(
        organization=admin.memberships.get().organization, email="after-restart@example.com", role="viewer",
        acting_user=admin,
    )
    assert Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).count() == 1
    _send(private_redis, "tenants.send_invitation_email", invitation_id=invitation.pk)
    _wait_for(lambda: any(production_worker.mail.iterdir()), 60, "the worker sent no email after the restart")
    sent = [p.read_text() for p in production_worker.mail.iterdir()]
    assert len(sent) == 1
    assert "after-restart@example.com" in sent[0]
    assert production_worker.poll() is None


def test_healthz_says_whether_a_worker_answers(client, transactional_db, settings, tmp_path):
    # /healthz pings through the app's own broker: the worker joins the one this run uses.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.control.purge()
    worker = _start_worker(tmp_path, app.conf.broker_url, app.conf.result_backend or "")
    try:
        response = client.get("/healthz")
        body = response.json()
        assert response.status_code == 200
        assert body["checks"]["workers"]["ok"] is True, body
        assert f"restart-{os.getpid()}@{socket.gethostname()}" in body["checks"]["workers"]["answered"]
    finally:
        _stop(worker)

    response = client.get("/healthz")
    body = response.json()
    # The pages still work: no 503 that would take this web process out of rotation.
    assert response.status_code == 200
    assert body["status"] == "warning"
    assert body["checks"]["workers"]["ok"] is False
    assert "no Celery worker answered" in body["checks"]["workers"]["error"]
