"""End to end: a run started by the service goes through Redis to a real Celery worker, which
matches users against the sandbox over HTTPS (a PostgreSQL and a Redis of the test's own)."""

from connections.models import SyncRun, UserMatch
from connections.sync.services import sync_run_start
from portal.celery import app
from tests.processes import wait_until


def test_a_real_worker_matches_the_users(private_stack, matching):
    assert app.conf.broker_url == private_stack.redis.url(0)
    worker = private_stack.worker()
    run = sync_run_start(connection=matching.connection, kind=SyncRun.Kind.USER_MATCHING, acting_user=matching.admin)

    def ended():
        run.refresh_from_db()
        return not run.is_active

    wait_until(ended, 90, "the run to end", every=0.5)
    assert run.state == SyncRun.State.SUCCEEDED, (run.state, run.error)
    assert run.created > 0 and run.created == UserMatch.objects.filter(connection=matching.connection).count()
    hal = UserMatch.objects.get(
        connection=matching.connection, account_id=matching.account_id("hal.hidden@acme.example")
    )
    assert hal.outcome == "hidden"
    assert "Traceback" not in worker.log.read_text(), worker.log.read_text()
