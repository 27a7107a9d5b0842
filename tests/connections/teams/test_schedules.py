"""Schedules, the beat kickoff (one task per connection, a due run started once) and the
stuck detector (resume from the checkpoint, then fail with a remedy, never running for ever)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from connections import tasks
from connections.models import Connection, SyncRun, SyncSchedule
from connections.sync import runner, schedules
from tenants.models import AuditEvent

DIRECTORY, MESSAGES = SyncRun.Kind.TEAMS_DIRECTORY, SyncRun.Kind.CHANNEL_MESSAGES


@pytest.fixture
def connection(acme):
    acme.connection.status = Connection.Status.ACTIVE
    acme.connection.save()
    return acme.connection


@pytest.fixture
def fan_out(monkeypatch):
    """Record the per-connection tasks the kickoff queues, and run them like a worker would."""
    calls = []

    def delay(*, connection_id):
        calls.append(connection_id)

    monkeypatch.setattr(tasks.sync_schedule_connection, "delay", delay)
    return calls


def _schedule(connection, acme, kind=DIRECTORY, full=24 * 60, incremental=60):
    return schedules.sync_schedule_save(
        connection=connection, kind=kind, enabled=True, full_every_minutes=full,
        incremental_every_minutes=incremental, acting_user=acme.admin,
    )


def test_the_kickoff_starts_a_due_run_once(acme, connection, fan_out):
    _schedule(connection, acme)
    assert schedules.kickoff() == 1
    assert fan_out == [connection.pk]
    schedules.start_due(connection.pk)
    schedules.start_due(connection.pk)  # the same task delivered twice
    run = SyncRun.objects.get()
    assert (run.kind, run.mode, run.trigger, run.state) == (DIRECTORY, "full", "schedule", "queued")
    # The next tick finds nothing due.
    assert schedules.kickoff() == 0
    # Later the incremental run is due, but the full one is still active: nothing new, no error,
    # and the schedule stays due for the next tick.
    later = timezone.now() + timedelta(minutes=61)
    assert schedules.kickoff(now=later) == 1
    schedules.start_due(connection.pk, now=later)
    assert SyncRun.objects.count() == 1
    assert SyncSchedule.objects.get().next_incremental_at <= later
    # Once the first run ended, the next tick starts the incremental one.
    SyncRun.objects.update(state=SyncRun.State.SUCCEEDED)
    schedules.start_due(connection.pk, now=later)
    assert list(SyncRun.objects.values_list("mode", flat=True).order_by("pk")) == ["full", "incremental"]


def test_one_task_per_connection_and_none_for_disconnected_ones(acme, globex, connection, fan_out):
    _schedule(connection, acme, DIRECTORY)
    _schedule(connection, acme, MESSAGES)
    globex.connection.status = Connection.Status.DISCONNECTED
    globex.connection.save()
    schedules.sync_schedule_save(
        connection=globex.connection, kind=DIRECTORY, enabled=True, full_every_minutes=60,
        incremental_every_minutes=0, acting_user=globex.admin,
    )
    schedules.kickoff()
    assert fan_out == [connection.pk]
    schedules.start_due(connection.pk)
    schedules.start_due(globex.connection.pk)
    assert sorted(SyncRun.objects.values_list("kind", flat=True)) == sorted([DIRECTORY, MESSAGES])
    assert not SyncRun.objects.filter(connection=globex.connection).exists()


def test_switched_off_schedules_do_not_run_and_bad_intervals_are_refused(acme, connection, fan_out):
    schedules.sync_schedule_save(
        connection=connection, kind=DIRECTORY, enabled=False, full_every_minutes=60,
        incremental_every_minutes=10, acting_user=acme.admin,
    )
    assert schedules.kickoff() == 0
    with pytest.raises(ValidationError):
        schedules.sync_schedule_save(
            connection=connection, kind=DIRECTORY, enabled=True, full_every_minutes=0,
            incremental_every_minutes=0, acting_user=acme.admin,
        )
    assert AuditEvent.objects.filter(action="sync.schedule_changed").count() == 1


class Died(BaseException):
    """The worker process dies mid-run (the runner cannot record anything)."""


def test_a_stuck_run_is_resumed_then_failed_after_the_last_attempt(acme, connection, monkeypatch, settings):
    settings.SYNC_STUCK_MAX_RESUMES = 2
    resumed_from = []

    def dying_job(ctx):
        resumed_from.append(dict(ctx.checkpoint))
        with ctx.batch():
            ctx.save_checkpoint({"page": len(resumed_from)}, fetched=1)
        raise Died()

    monkeypatch.setattr(runner, "job_for", lambda kind: dying_job)

    def execute(*, run_id):  # a worker takes the task and dies again
        with pytest.raises(Died):
            runner.run_execute(run_id)

    monkeypatch.setattr(tasks.sync_run_execute, "delay", execute)
    run = SyncRun.objects.create(organization=acme.organization, connection=connection, kind=DIRECTORY)
    execute(run_id=run.pk)

    def silent():
        """No heartbeat for longer than SYNC_STUCK_AFTER."""
        SyncRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=settings.SYNC_STUCK_AFTER + 1)
        )
        return schedules.unstick()

    assert schedules.unstick() == ([], [])  # fresh heartbeat: not stuck
    assert silent() == ([run.pk], [])
    assert silent() == ([run.pk], [])
    resumed, failed = silent()
    assert (resumed, failed) == ([], [run.pk])
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED and run.attempts == 3
    assert run.error.startswith("stuck: no progress since ")
    assert "Retry" in run.remedy
    # Each resume started from the checkpoint the dead worker had saved.
    assert resumed_from == [{}, {"page": 1}, {"page": 2}]
    assert AuditEvent.objects.filter(action="sync.run_finished", details__state="failed").exists()


def test_a_queued_run_whose_task_was_lost_is_queued_again(acme, connection, monkeypatch, settings):
    queued = []
    monkeypatch.setattr(tasks.sync_run_execute, "delay", lambda *, run_id: queued.append(run_id))
    run = SyncRun.objects.create(organization=acme.organization, connection=connection, kind=DIRECTORY)
    schedules.unstick()
    assert queued == []
    schedules.unstick(now=timezone.now() + timedelta(seconds=settings.SYNC_STUCK_AFTER + 1))
    assert queued == [run.pk]


MATCHING = SyncRun.Kind.USER_MATCHING


def test_a_working_connection_schedules_the_jobs_its_features_use_by_itself(acme, globex, connection, fan_out):
    connection.features = ["user_mapping", "channel_knowledge"]
    connection.save()
    globex.connection.features = ["user_mapping"]
    globex.connection.save()  # pending consent: nothing runs there yet

    assert schedules.kickoff() == 1 and fan_out == [connection.pk]

    made = {s.kind: (s.enabled, s.full_every_minutes, s.incremental_every_minutes)
            for s in SyncSchedule.objects.filter(connection=connection)}
    assert made == {MATCHING: (True, 1440, 60), DIRECTORY: (True, 1440, 0), MESSAGES: (True, 0, 60)}
    assert not SyncSchedule.objects.filter(connection=globex.connection).exists()
    schedules.start_due(connection.pk)
    assert sorted(SyncRun.objects.values_list("kind", "mode", "trigger")) == sorted(
        [(MATCHING, "full", "schedule"), (DIRECTORY, "full", "schedule"), (MESSAGES, "incremental", "schedule")]
    )
    event = AuditEvent.objects.get(action="sync.schedule_changed")
    assert event.actor_type == "system" and sorted(event.details["defaults"]) == sorted([MATCHING, DIRECTORY, MESSAGES])
    # Later ticks add nothing and say nothing.
    schedules.kickoff()
    assert SyncSchedule.objects.count() == 3 and AuditEvent.objects.filter(action="sync.schedule_changed").count() == 1


def test_an_admins_schedule_is_kept_and_a_run_already_made_counts(acme, connection, fan_out):
    connection.features = ["user_mapping", "teams_notifications"]
    connection.save()
    schedules.sync_schedule_save(  # the admin switched the directory off before it ever ran
        connection=connection, kind=DIRECTORY, enabled=False, full_every_minutes=1440,
        incremental_every_minutes=0, acting_user=acme.admin,
    )
    started = SyncRun.objects.create(organization=acme.organization, connection=connection, kind=MATCHING,
                                     mode="full", state=SyncRun.State.SUCCEEDED)

    schedules.kickoff()
    schedules.start_due(connection.pk)

    assert not SyncSchedule.objects.get(kind=DIRECTORY).enabled
    matching = SyncSchedule.objects.get(kind=MATCHING)
    assert matching.next_full_at == started.queued_at + timedelta(days=1)
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [started.pk], "nothing due yet"
