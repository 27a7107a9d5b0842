"""A run that failed because Microsoft Graph was unavailable is retried by the beat from its
checkpoint, after a delay, a bounded number of times, audited as the system; a failure that
needs a person (a missing permission) is never retried by itself."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.microsoft import graph
from connections.models import SyncRun, TeamsChannel, TeamsTeam
from connections.sync import schedules
from connections.sync.context import RunContext
from tenants.models import AuditEvent


@pytest.fixture
def fail_fast(settings):
    """One try per request and no outage window: a 503 fails the run at once."""
    settings.SYNC_HTTP_MAX_ATTEMPTS = 1
    settings.SYNC_OUTAGE_WINDOW = 0
    settings.SYNC_AUTO_RETRY_DELAY = 300
    settings.SYNC_AUTO_RETRIES = 2


def _after_checkpoints(monkeypatch, count, action):
    """`action` happens (Graph goes down, a permission goes away) once the run has saved
    `count` checkpoints: the run fails with a checkpoint to go on from."""
    saved = []
    original = RunContext.save_checkpoint

    def save_checkpoint(self, checkpoint, **counts):
        original(self, checkpoint, **counts)
        saved.append(dict(checkpoint))
        if len(saved) == count:
            action()

    monkeypatch.setattr(RunContext, "save_checkpoint", save_checkpoint)
    return saved


def _outage_after_checkpoints(monkeypatch, sandbox, count, **fault):
    return _after_checkpoints(monkeypatch, count, lambda: sandbox.set_fault("error_rate", "fabrikam", **fault))


@pytest.fixture
def jobs_page(client):
    def get(world):
        client.force_login(world.admin)
        return client.get(reverse("connections:jobs_live", args=[world.connection.pk])).content.decode()

    return get


def _rows(connection):
    return (
        sorted(TeamsTeam.objects.filter(connection=connection).values_list("team_id", flat=True)),
        sorted(TeamsChannel.objects.filter(connection=connection).values_list("channel_id", flat=True)),
    )


def test_a_graph_outage_is_retried_once_due_from_the_checkpoint_without_losing_a_row(
    teams_world, fail_fast, monkeypatch, jobs_page
):
    _outage_after_checkpoints(monkeypatch, teams_world.sandbox, 2, share=1, status=503, retry_after="")
    failed = teams_world.directory()
    assert failed.state == SyncRun.State.FAILED and "503" in failed.error
    assert failed.checkpoint.get("phase") == "channels"
    assert failed.retry_at is not None
    delay = (failed.retry_at - failed.finished_at).total_seconds()
    assert 299 <= delay <= 301
    assert "will be retried automatically at" in jobs_page(teams_world)

    teams_world.sandbox.clear_faults()  # Graph is back
    monkeypatch.undo()
    assert schedules.retry_due() == [], "not before its time"
    retried = schedules.retry_due(now=failed.retry_at + timedelta(seconds=1))
    assert len(retried) == 1
    assert schedules.retry_due(now=failed.retry_at + timedelta(seconds=2)) == [], "once"

    retry = SyncRun.objects.get(pk=retried[0])
    assert (retry.state, retry.trigger, retry.resumed_from_id, retry.requested_by) == (
        "succeeded", "retry", failed.pk, None,
    )
    failed.refresh_from_db()
    assert failed.retry_at is None
    # It went on from the checkpoint: together the two runs created every row exactly once.
    teams, channels = _rows(teams_world.connection)
    assert len(teams) == len(set(teams)) and len(channels) == len(set(channels))
    assert failed.created + retry.created == len(teams) + len(channels)
    assert retry.fetched < len(teams) + len(channels), "the retry did not start over"
    # A fresh full run finds nothing missing and nothing extra.
    check = teams_world.directory()
    assert (check.state, check.created, check.deleted) == ("succeeded", 0, 0)
    assert _rows(teams_world.connection) == (teams, channels)

    audit = AuditEvent.objects.get(action="sync.run_retried", details__run=retry.pk)
    assert (audit.actor_type, audit.actor_label, audit.details["retry_of"]) == ("system", "system", failed.pk)


def test_a_missing_permission_is_never_retried_by_itself(teams_world, fail_fast, monkeypatch, jobs_page):
    def revoke():
        teams_world.sandbox.revoke("fabrikam", "Channel.ReadBasic.All")
        graph.forget_tokens()  # the next token carries what the tenant grants now

    _after_checkpoints(monkeypatch, 1, revoke)
    failed = teams_world.directory()
    assert failed.state == SyncRun.State.FAILED and "permission" in failed.error
    assert failed.checkpoint.get("phase") == "channels", "it could go on from a checkpoint"
    assert failed.retry_at is None
    assert "retried automatically" not in jobs_page(teams_world)
    assert schedules.retry_due(now=timezone.now() + timedelta(days=1)) == []
    assert SyncRun.objects.filter(connection=teams_world.connection).count() == 1


def test_automatic_retries_are_bounded_and_wait_longer_each_time(teams_world, fail_fast, monkeypatch):
    _outage_after_checkpoints(monkeypatch, teams_world.sandbox, 1, share=1, status=503, retry_after="")
    run = teams_world.directory()
    waits = []
    while run.retry_at is not None:
        waits.append(round((run.retry_at - run.finished_at).total_seconds()))
        (retried,) = schedules.retry_due(now=run.retry_at + timedelta(seconds=1))
        run = SyncRun.objects.get(pk=retried)
    # SYNC_AUTO_RETRIES = 2: the first run and two retries failed; the last one waits for a person.
    assert waits == [300, 600]
    assert run.state == SyncRun.State.FAILED and run.auto_retries == 2
    assert SyncRun.objects.filter(connection=teams_world.connection).count() == 3
