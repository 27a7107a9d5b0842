"""A sync run whose app-only token request Microsoft throttles (429 with Retry-After) waits it
out: it gives its worker back until the time Microsoft gave and then goes on from its
checkpoint, never failing with "check that consent is still granted"; the connection keeps its
status. A Retry-After past SYNC_RETRY_AFTER_MAX ends the run with a throttling remedy that says
when to retry."""

from datetime import timedelta

from connections.microsoft import graph
from connections.models import Connection, SyncRun
from connections.sync.runner import THROTTLED_UNTIL
from portal import outbox


def test_a_run_throttled_at_the_token_endpoint_waits_for_microsoft_and_then_succeeds(teams_world):
    graph.forget_tokens()
    teams_world.sandbox.set_fault("token_throttled", "fabrikam", retry_after=90)

    run = teams_world.directory()

    assert run.state == SyncRun.State.QUEUED, (run.state, run.error)
    assert run.error == "" and THROTTLED_UNTIL in run.checkpoint
    assert run.throttled_note.startswith("Microsoft is throttling, retrying at ")  # on the jobs page
    assert 80 < (run.queued_at - run.started_at).total_seconds() <= 91
    teams_world.connection.refresh_from_db()
    assert teams_world.connection.status == Connection.Status.ACTIVE

    # Microsoft's wait is over: the relay hands the run to a worker again, and it finishes.
    teams_world.sandbox.clear_faults()
    graph.forget_tokens()
    outbox.relay(now=run.queued_at + timedelta(seconds=1))
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.state, run.error)
    assert run.created > 0  # the directory was read in full after the wait
    assert not SyncRun.objects.filter(connection=teams_world.connection, state=SyncRun.State.FAILED).exists()


def test_a_token_wait_longer_than_allowed_fails_the_run_with_a_throttling_remedy(teams_world, settings):
    settings.SYNC_RETRY_AFTER_MAX = 60
    graph.forget_tokens()
    teams_world.sandbox.set_fault("token_throttled", "fabrikam", retry_after=90)

    run = teams_world.directory()

    assert run.state == SyncRun.State.FAILED
    assert "Microsoft is throttling the portal's token requests" in run.error
    assert "throttling" in run.remedy and "retry the run after" in run.remedy
    assert "consent" not in run.remedy.lower()
    teams_world.connection.refresh_from_db()
    assert teams_world.connection.status == Connection.Status.ACTIVE

    teams_world.sandbox.clear_faults()
    graph.forget_tokens()
    assert teams_world.directory().state == SyncRun.State.SUCCEEDED
