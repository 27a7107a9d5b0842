"""Races a user would notice, on a PostgreSQL of the test's own with one database connection
per thread: many people pressing Start on the same job at once, several beat kickoffs firing
together, workers racing for the same run. Each ends with exactly one run per job, one task
sent for it, one audit event, and one worker running it."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db

from connections.models import Connection, SyncRun, SyncSchedule
from connections.sync import runner, schedules, services
from tenants.models import AuditEvent
from tests.factories import ConnectionFactory

KICKOFFS = 4
CLAIMERS = 8
DIRECTORY, MESSAGES, MATCHING = (
    SyncRun.Kind.TEAMS_DIRECTORY, SyncRun.Kind.CHANNEL_MESSAGES, SyncRun.Kind.USER_MATCHING,
)


@pytest.fixture(autouse=True)
def own_database(private_stack):
    """Before the worlds below are made, so they are made there. Tasks stay eager: what each
    race sent is recorded by `sent`, in this process."""
    from portal.celery import app

    app.conf.update(task_always_eager=True)
    return private_stack


@pytest.fixture
def sent(monkeypatch):
    """The run ids a worker would receive (eager Celery hands the task to run_execute)."""
    received = []
    monkeypatch.setattr(runner, "run_execute", lambda run_id: received.append(run_id) or "queued")
    return received


def _race(count, call):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(call())
        except ValidationError as refused:
            results.append(refused)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()  # each thread had its own connection

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == count, "a thread did not finish"
    return results


def _active(connection):
    connection.status = Connection.Status.ACTIVE
    connection.save()
    return connection


@pytest.mark.parametrize("starters", [2, 10])
def test_people_pressing_start_at_once_get_one_run(transactional_db, acme, sent, starters):
    connection = _active(acme.connection)
    results = _race(
        starters,
        lambda: services.sync_run_start(connection=Connection.objects.get(pk=connection.pk), kind=DIRECTORY,
                                        acting_user=acme.admin),
    )
    runs = [r for r in results if isinstance(r, SyncRun)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(runs) == 1 and len(refused) == starters - 1
    assert all("already queued or running" in r.messages[0] for r in refused)
    assert SyncRun.objects.filter(connection=connection, kind=DIRECTORY).count() == 1
    assert sent == [runs[0].pk]
    assert AuditEvent.objects.filter(action="sync.run_started", target_id=str(connection.pk)).count() == 1


def test_four_kickoffs_at_once_start_one_run_per_due_job(transactional_db, acme, sent):
    # Two connections: one with two due jobs of its own, one whose features need default schedules.
    first = _active(acme.connection)
    for kind in (DIRECTORY, MESSAGES):
        schedules.sync_schedule_save(connection=first, kind=kind, enabled=True, full_every_minutes=60,
                                     incremental_every_minutes=0, acting_user=acme.admin)
    second = ConnectionFactory(organization=acme.organization, status=Connection.Status.ACTIVE,
                               features=["user_mapping"])

    _race(KICKOFFS, schedules.kickoff)  # eager Celery: each kickoff starts the due runs itself

    runs = SyncRun.objects.order_by("connection_id", "kind")
    assert sorted((r.connection_id, r.kind) for r in runs) == sorted(
        [(first.pk, DIRECTORY), (first.pk, MESSAGES), (second.pk, MATCHING)]
    )
    assert all(r.trigger == "schedule" for r in runs)
    assert sorted(sent) == sorted(r.pk for r in runs), "one task per run"
    assert AuditEvent.objects.filter(action="sync.run_started").count() == 3
    # The defaults were made once, each schedule moved on once: the next tick starts nothing.
    assert SyncSchedule.objects.filter(connection=second).count() == 1
    assert AuditEvent.objects.filter(action="sync.schedule_changed", target_id=str(second.pk)).count() == 1
    assert schedules.kickoff() == 0


def test_four_beats_retrying_at_once_start_one_retry(transactional_db, acme, sent, settings):
    from datetime import timedelta

    from django.utils import timezone

    connection = _active(acme.connection)
    failed = SyncRun.objects.create(
        organization=acme.organization, connection=connection, kind=DIRECTORY, state=SyncRun.State.FAILED,
        checkpoint={"phase": "channels", "team_after": 3}, retry_at=timezone.now() - timedelta(seconds=1),
        error="Microsoft Graph: HTTP 503", finished_at=timezone.now(),
    )
    results = _race(KICKOFFS, schedules.retry_due)
    assert sorted(len(r) for r in results) == [0] * (KICKOFFS - 1) + [1]
    retry = SyncRun.objects.get(resumed_from=failed)
    assert retry.checkpoint == {"phase": "channels", "team_after": 3} and retry.auto_retries == 1
    assert sent == [retry.pk]
    assert AuditEvent.objects.filter(action="sync.run_retried").count() == 1


def test_workers_racing_for_the_same_run_run_it_once(transactional_db, acme, monkeypatch):
    """The same task delivered to several workers at once (a redelivery, the stuck detector's
    resend): one claims the run and runs its job, the others find it taken."""
    connection = _active(acme.connection)
    run = SyncRun.objects.create(organization=acme.organization, connection=connection, kind=DIRECTORY)
    ran = []

    def job(ctx):
        ran.append(ctx.attempt)
        with ctx.batch():
            ctx.save_checkpoint({"page": 1}, created=1)

    monkeypatch.setattr(runner, "job_for", lambda kind: job)
    results = _race(CLAIMERS, lambda: runner.run_execute(run.pk))
    assert sorted(results) == ["skipped"] * (CLAIMERS - 1) + [SyncRun.State.SUCCEEDED]
    run.refresh_from_db()
    assert (run.state, run.attempts, run.takeovers, run.created) == (SyncRun.State.SUCCEEDED, 1, 0, 1)
    assert ran == [1]
