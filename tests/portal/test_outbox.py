"""Work handed to Celery while the broker is down is not lost: the change is saved, the page
answers normally, the task waits in the outbox with its error, and the relay sends it once a
broker is back. Real PostgreSQL, a Redis port where nothing listens, then a Redis of the
test's own (and, for the invitation, a real worker that sends the email)."""

import base64
import json
import logging
from datetime import timedelta

import pytest
import redis
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, SyncRun
from portal import outbox
from portal.celery import app
from portal.models import OutboxMessage
from tenants.models import AuditEvent, Invitation
from tests.portal.test_broker_restart import _start_worker, _stop, _wait_for
from tests.processes import RedisServer, free_port

LATER = timedelta(hours=2)  # past the grace and any backoff: the relay's next tick that counts


@pytest.fixture
def broker(tmp_path, monkeypatch):
    """The app's broker switched to a port where nothing listens, eager mode off; `back()`
    starts a Redis of the test's own and switches the app to it. Restored afterwards."""
    server = RedisServer(tmp_path / "redis")

    def switch(url):
        # Celery reads CELERY_BROKER_URL from the environment before its configuration
        # (celery/app/utils.py, Settings.broker_url), and the test settings set it there.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        assert app.conf.broker_write_url == url

    class Broker:
        def back(self):
            server.start()
            switch(server.url(0))
            self.client = redis.Redis.from_url(server.url(0))
            return server

    switch(f"redis://127.0.0.1:{free_port()}/0")
    app.conf.update(task_always_eager=False)
    yield Broker()
    app.conf.update(task_always_eager=True)
    server.stop()


def _queued(client):
    """(task name, kwargs) of each message waiting in the broker's default queue, in the
    order a worker takes them (kombu pushes on the left and pops on the right)."""
    found = []
    for raw in reversed(client.lrange("celery", 0, -1)):
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], kwargs))
    return found


def _pending(task_name):
    return OutboxMessage.objects.filter(task_name=task_name, sent_at=None)


def test_an_invitation_made_while_the_broker_is_down_is_emailed_once_it_is_back(
    transactional_db, client, acme, broker, tmp_path, caplog
):
    client.force_login(acme.admin)
    with caplog.at_level(logging.WARNING, logger="portal.outbox"):
        response = client.post(reverse("tenants:member_invite"), {"email": "later@example.com", "role": "viewer"},
                               follow=True)
    assert response.status_code == 200
    invitation = Invitation.objects.get(email="later@example.com")
    assert AuditEvent.objects.filter(action="member.invited", target_id=str(invitation.pk)).exists()
    message = _pending("tenants.send_invitation_email").get()
    assert message.kwargs == {"invitation_id": invitation.pk}
    assert "Connection refused" in message.last_error and message.attempts == 1
    assert mail.outbox == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "portal.outbox"]
    assert warnings and "invitation_id" not in warnings[0] and "later@example.com" not in warnings[0]

    server = broker.back()
    worker = _start_worker(tmp_path, server.url(0), server.url(1))
    try:
        assert outbox.relay(now=timezone.now() + LATER) == (1, 0)
        message.refresh_from_db()
        assert message.sent_at is not None and message.last_error == ""
        _wait_for(lambda: any(worker.mail.iterdir()), 60, "the worker sent no invitation email")
        sent = [p.read_text() for p in worker.mail.iterdir()]
        assert len(sent) == 1 and "later@example.com" in sent[0] and "/invitations/accept/" in sent[0]
    finally:
        _stop(worker)
    # Sent once: the next tick has nothing to do.
    assert outbox.relay(now=timezone.now() + LATER) == (0, 0)


def test_a_job_started_while_the_broker_is_down_is_queued_once_it_is_back(
    admin_client, acme, broker, django_capture_on_commit_callbacks
):
    acme.connection.status = Connection.Status.ACTIVE
    acme.connection.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("connections:job_start", args=[acme.connection.pk]),
                                     {"kind": SyncRun.Kind.TEAMS_DIRECTORY, "mode": "full"}, follow=True)
    assert response.status_code == 200
    assert "queued." in response.content.decode()
    run = SyncRun.objects.get()
    assert run.state == SyncRun.State.QUEUED
    message = _pending("connections.sync_run_execute").get()
    assert message.kwargs == {"run_id": run.pk} and "Connection refused" in message.last_error

    # "Check grants" calls no service: the view itself queues its task, through the outbox too.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("connections:connection_verify", args=[acme.connection.pk]),
                                     follow=True)
    assert response.status_code == 200
    assert _pending("connections.verify_microsoft_grants").get().kwargs == {
        "connection_id": acme.connection.pk, "acting_user_id": acme.admin.pk,
    }

    broker.back()
    assert outbox.relay(now=timezone.now() + LATER) == (2, 0)
    assert not OutboxMessage.objects.filter(sent_at=None).exists()
    assert _queued(broker.client) == [
        ("connections.sync_run_execute", {"run_id": run.pk}),
        ("connections.verify_microsoft_grants",
         {"connection_id": acme.connection.pk, "acting_user_id": acme.admin.pk}),
    ]


def test_a_dispatch_that_fails_leaves_the_message_pending_and_backs_off(db, broker):
    message = outbox.enqueue("tenants.send_invitation_email", invitation_id=1)
    now = timezone.now()
    assert outbox.relay(now=now) == (0, 0)  # a fresh message is left to the send after commit

    first = now + LATER
    assert outbox.relay(now=first) == (0, 1)
    message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 1 and "Connection refused" in message.last_error
    wait = message.next_attempt_at - first
    assert wait > timedelta(0)
    assert outbox.relay(now=message.next_attempt_at - timedelta(seconds=1)) == (0, 0)  # not due yet

    second = message.next_attempt_at
    assert outbox.relay(now=second) == (0, 1)
    message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 2
    assert message.next_attempt_at - second == 2 * wait  # exponential
    for _ in range(20):
        last = message.next_attempt_at
        outbox.relay(now=last)
        message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 22
    assert message.next_attempt_at - last == timedelta(hours=1)  # capped


def test_sent_messages_are_pruned_and_a_rolled_back_change_queues_nothing(db, broker):
    old = OutboxMessage.objects.create(task_name="tenants.send_invitation_email", kwargs={"invitation_id": 1},
                                       sent_at=timezone.now() - timedelta(days=30))
    recent = OutboxMessage.objects.create(task_name="tenants.send_invitation_email", kwargs={"invitation_id": 2},
                                          sent_at=timezone.now() - timedelta(hours=1))
    outbox.relay()
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk}
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()

    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue("tenants.send_invitation_email", invitation_id=3)
        raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.filter(kwargs={"invitation_id": 3}).exists()


def test_a_health_check_postponed_by_throttling_waits_in_the_outbox_until_retry_after(
    db, broker, django_capture_on_commit_callbacks
):
    broker.back()
    retry_at = timezone.now() + timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue("connections.health_checks_run", not_before=retry_at, connection_id=7)
    assert _queued(broker.client) == []  # not on commit: no long eta message in Redis
    assert outbox.relay(now=retry_at - timedelta(seconds=1)) == (0, 0)
    assert outbox.relay(now=retry_at) == (1, 0)
    assert _queued(broker.client) == [("connections.health_checks_run", {"connection_id": 7})]
