"""A real Celery worker process consumes a task from Redis: the invitation email."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from portal.celery import app
from tenants import services
from tests.factories import MembershipFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(tmp_path):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            # The worker must see what this test committed: the test database.
            "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_URL": f"filemail:///{tmp_path}",  # environ drops one leading slash
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield tmp_path
    process.terminate()
    try:
        output = process.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        output = process.communicate()[0]
    assert "Traceback" not in output, output


@pytest.fixture
def not_eager():
    app.conf.update(task_always_eager=False)
    yield
    app.conf.update(task_always_eager=True)


def test_a_real_worker_sends_the_invitation_email_from_redis(transactional_db, worker, not_eager):
    assert app.conf.broker_url.startswith("redis://")
    app.control.purge()
    admin = MembershipFactory().user
    invitation = services.invitation_create(
        organization=admin.memberships.get().organization, email="worker@example.com", role="viewer",
        acting_user=admin,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(worker.iterdir()):
        time.sleep(0.2)
    sent = [p.read_text() for p in worker.iterdir()]
    assert sent, "the worker did not send the email within 60 s"
    assert "worker@example.com" in sent[0]
    assert "/invitations/accept/" in sent[0]
    assert invitation.organization.name in sent[0]
