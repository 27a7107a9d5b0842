"""A sync run whose app-only token request Microsoft throttles (429 with Retry-After) ends
with a throttling remedy that says when to retry, never "check that consent is still granted",
and the connection keeps its status."""

from connections.microsoft import graph
from connections.models import Connection, SyncRun


def test_a_run_throttled_at_the_token_endpoint_says_microsoft_is_throttling(teams_world):
    graph.forget_tokens()
    teams_world.sandbox.set_fault("token_throttled", "fabrikam", retry_after=90)

    run = teams_world.directory()

    assert run.state == SyncRun.State.FAILED
    assert "Microsoft is throttling the portal's token requests" in run.error
    assert "throttling" in run.remedy and "retry the run after" in run.remedy
    assert "consent" not in run.remedy.lower()
    teams_world.connection.refresh_from_db()
    assert teams_world.connection.status == Connection.Status.ACTIVE
    assert SyncRun.objects.filter(connection=teams_world.connection, state=SyncRun.State.FAILED).count() == 1

    teams_world.sandbox.clear_faults()
    assert teams_world.directory().state == SyncRun.State.SUCCEEDED
