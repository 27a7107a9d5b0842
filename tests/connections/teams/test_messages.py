"""The channel messages job against the sandbox: declared fields only, the body only with
the feature that needs it, incremental per channel, resumed without duplicates."""

import datetime
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from connections.models import SyncRun, TeamsChannel, TeamsMessage
from connections.sync import runner
from connections.sync.context import RunContext
from connections.teams import messages as messages_job
from sandbox.microsoft.models import Channel, ChannelMessage, DirectoryUser

SEEDED = 5 * 12  # five channels, twelve root messages each


def _since(sandbox):
    return max([r.pk for r in sandbox.requests()] or [0])


def _message_calls(sandbox, since):
    return [r for r in sandbox.requests(path_contains="/messages", since_id=since)]


def _post(world, channel, *, mentions=(), minutes=1):
    """A new root message in a sandbox channel, newer than every other."""
    newest = ChannelMessage.objects.filter(channel=channel).order_by("-id").first()
    created = newest.created + timedelta(minutes=minutes)
    author = DirectoryUser.objects.filter(tenant=world.ms_tenant, deleted=False).order_by("pk").first()
    return ChannelMessage.objects.create(
        id=str(int(newest.id) + minutes * 60_000), channel=channel, created=created, from_user=author,
        content="<p>Fresh news</p>", mentions=list(mentions),
    )


def test_messages_are_kept_as_declared_fields_only(teams_world):
    teams_world.directory()
    since = _since(teams_world.sandbox)
    run = teams_world.messages(mode="full")
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert TeamsMessage.objects.count() == run.created == run.fetched == SEEDED
    ours = ChannelMessage.objects.filter(channel__team__tenant=teams_world.ms_tenant).select_related("from_user")
    source = next(m for m in ours.order_by("id") if m.mentions)
    kept = TeamsMessage.objects.get(message_id=source.id)
    assert kept.author_id == str(source.from_user.pk)
    assert kept.mention_ids == source.mentions
    assert kept.created_at == source.created
    assert kept.body == ""  # channel_knowledge is off: no message text is kept
    # Only `$top` is sent: no replies expanded, nothing beyond the list.
    calls = _message_calls(teams_world.sandbox, since)
    assert len(calls) == 5
    assert all(set(parse_qs(c.query)) == {"$top"} for c in calls)


def test_the_body_is_kept_only_while_the_feature_needs_it(teams_world):
    teams_world.connection.features = ["teams_notifications", "channel_knowledge"]
    teams_world.connection.save()
    teams_world.directory()
    teams_world.messages(mode="full")
    assert TeamsMessage.objects.exclude(body="").count() == SEEDED
    assert "Message" in TeamsMessage.objects.first().body
    teams_world.connection.features = ["teams_notifications"]
    teams_world.connection.save()
    teams_world.messages()
    assert not TeamsMessage.objects.exclude(body="").exists()


def test_an_incremental_run_reads_only_what_is_new(teams_world, monkeypatch):
    monkeypatch.setattr(messages_job, "PAGE_SIZE", 5)
    teams_world.directory()
    first = teams_world.messages()  # no cursor yet: reads everything
    assert first.created == SEEDED
    channel = Channel.objects.filter(team__tenant=teams_world.ms_tenant).order_by("pk").first()
    mentioned = str(DirectoryUser.objects.filter(tenant=teams_world.ms_tenant).last().pk)
    fresh = [_post(teams_world, channel, mentions=[mentioned], minutes=m) for m in (1, 2, 3)]
    since = _since(teams_world.sandbox)
    second = teams_world.messages()
    assert second.state == SyncRun.State.SUCCEEDED
    assert (second.fetched, second.created, second.updated) == (3, 3, 0)
    # One page per channel: each pass stops at its cursor.
    assert len(_message_calls(teams_world.sandbox, since)) == 5
    assert TeamsMessage.objects.count() == SEEDED + 3
    assert TeamsMessage.objects.get(message_id=fresh[0].id).mention_ids == [mentioned]
    assert TeamsChannel.objects.get(channel_id=channel.id).messages_cursor_id == fresh[-1].id
    third = teams_world.messages()
    assert (third.fetched, third.created) == (0, 0)


class Killed(BaseException):
    """The worker dies (not an Exception: the runner must not get to record an ending)."""


def test_a_run_killed_mid_channel_resumes_from_its_checkpoint_without_duplicates(teams_world, monkeypatch):
    monkeypatch.setattr(messages_job, "PAGE_SIZE", 5)
    teams_world.directory()
    saves = {"n": 0}
    real_save = RunContext.save_checkpoint

    def dying_save(self, checkpoint, **counts):
        real_save(self, checkpoint, **counts)
        saves["n"] += 1
        if saves["n"] == 5:  # inside the batch of channel 2's second page: it never commits
            raise Killed()

    monkeypatch.setattr(RunContext, "save_checkpoint", dying_save)
    run = SyncRun.objects.create(
        organization=teams_world.organization, connection=teams_world.connection,
        kind=SyncRun.Kind.CHANNEL_MESSAGES, mode=SyncRun.Mode.FULL,
    )
    with pytest.raises(Killed):
        runner.run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.RUNNING and run.checkpoint.get("next")
    assert TeamsMessage.objects.count() == 12 + 5  # channel 1, and channel 2's first page
    monkeypatch.setattr(RunContext, "save_checkpoint", real_save)
    # Nobody beats for a long time: the run is stale, another worker claims and resumes it.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - datetime.timedelta(hours=1))
    since = _since(teams_world.sandbox)
    assert runner.run_execute(run.pk) == SyncRun.State.SUCCEEDED
    run.refresh_from_db()
    assert run.attempts == 2
    assert TeamsMessage.objects.count() == SEEDED
    assert run.created == SEEDED and run.fetched == SEEDED  # no page was written twice
    calls = _message_calls(teams_world.sandbox, since)
    assert "skiptoken" in calls[0].query  # the resumed run went on from the saved nextLink
    assert len(calls) == 2 + 3 * 3  # rest of channel 2, then channels 3-5


def test_cancel_stops_a_running_run_and_retry_goes_on_from_its_checkpoint(teams_world, monkeypatch):
    monkeypatch.setattr(messages_job, "PAGE_SIZE", 5)
    teams_world.directory()
    real_save = RunContext.save_checkpoint

    def save_then_cancel(self, checkpoint, **counts):
        real_save(self, checkpoint, **counts)
        if checkpoint.get("channel_after") and not checkpoint.get("next"):  # first channel done
            SyncRun.objects.filter(pk=self.run.pk).update(cancel_requested=True)  # an admin pressed Cancel

    monkeypatch.setattr(RunContext, "save_checkpoint", save_then_cancel)
    run = teams_world.messages(mode="full")
    assert run.state == SyncRun.State.CANCELLED and "cancelled" in run.error
    assert TeamsMessage.objects.count() == 12
    monkeypatch.setattr(RunContext, "save_checkpoint", real_save)
    from connections.sync import services

    retry = services.sync_run_retry(run=run, acting_user=teams_world.admin)
    runner.run_execute(retry.pk)
    retry.refresh_from_db()
    assert retry.state == SyncRun.State.SUCCEEDED
    assert TeamsMessage.objects.count() == SEEDED
    assert retry.created == SEEDED - 12  # it did not start over


def test_the_first_messages_run_waits_for_the_directory_instead_of_failing(teams_world):
    from connections.sync import services

    # A new connection: the schedule starts channel messages before any directory run (each
    # queued task runs here and now, as a worker would run it).
    run = services.sync_run_start(connection=teams_world.connection, kind=SyncRun.Kind.CHANNEL_MESSAGES,
                                  mode="incremental", trigger=SyncRun.Trigger.SCHEDULE)

    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert TeamsMessage.objects.filter(connection=teams_world.connection).count() == SEEDED
    directory = SyncRun.objects.get(connection=teams_world.connection, kind=SyncRun.Kind.TEAMS_DIRECTORY)
    assert directory.state == SyncRun.State.SUCCEEDED and directory.trigger == SyncRun.Trigger.SCHEDULE
    # The same run waited and went on: no failed run, no second one.
    assert list(SyncRun.objects.filter(kind=SyncRun.Kind.CHANNEL_MESSAGES).values_list("pk", "state")) == [
        (run.pk, SyncRun.State.SUCCEEDED)
    ]


def test_a_waiting_run_stays_the_one_active_run_and_fails_with_the_directory_it_waited_for(
    teams_world, monkeypatch
):
    from django.core.exceptions import ValidationError

    from connections.sync import jobs, services
    from connections.sync.errors import JobError

    sent = []  # what a worker would be handed, run here one by one instead
    monkeypatch.setattr(services, "_enqueue", lambda queued: sent.append(queued.pk))
    run = services.sync_run_start(connection=teams_world.connection, kind=SyncRun.Kind.CHANNEL_MESSAGES,
                                  acting_user=teams_world.admin)
    assert runner.run_execute(run.pk) == "waiting"
    run.refresh_from_db()
    directory = SyncRun.objects.get(connection=teams_world.connection, kind=SyncRun.Kind.TEAMS_DIRECTORY)
    assert run.state == SyncRun.State.QUEUED and directory.state == SyncRun.State.QUEUED
    assert run.checkpoint == {"waiting_for_run": directory.pk}
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(teams_world.admin)
    page = client.get(reverse("connections:connection_detail", args=[teams_world.connection.pk])).content.decode()
    assert f"waiting for run #{directory.pk} to finish" in page
    with pytest.raises(ValidationError, match="already queued or running"):
        services.sync_run_start(connection=teams_world.connection, kind=SyncRun.Kind.CHANNEL_MESSAGES,
                                acting_user=teams_world.admin)
    # Run again before the directory ended (the stuck detector's resend): it keeps waiting.
    assert runner.run_execute(run.pk) == "waiting"

    def refused(ctx):
        raise JobError("Graph refused to list the teams.", remedy="Ask a Teams administrator.")

    monkeypatch.setitem(jobs.load_all(), SyncRun.Kind.TEAMS_DIRECTORY, refused)
    sent.clear()
    assert runner.run_execute(directory.pk) == SyncRun.State.FAILED
    assert sent == [run.pk]  # its end wakes the run that waits for it

    assert runner.run_execute(run.pk) == SyncRun.State.FAILED
    run.refresh_from_db()
    assert run.error == f"The Teams directory run #{directory.pk} this run waited for failed: " \
                        "Graph refused to list the teams."
    assert SyncRun.objects.filter(kind=SyncRun.Kind.TEAMS_DIRECTORY).count() == 1  # no endless restarts
