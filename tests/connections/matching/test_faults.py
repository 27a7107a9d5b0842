"""Provider faults during user matching runs, on a PostgreSQL and a Redis of the test's own
with real Celery workers (tests.processes.PrivateStack), the sandbox serving over HTTPS and a
beat ticking every half second in this process; every run ends with its rows counted against
the sandbox's directories: every account matched once, every Microsoft user keyed.

- a 5 s outage of both providers and then a 50% rate of 503s do not fail the run;
- a run failed by a longer outage is started again by the beat from its checkpoint;
- a long Retry-After (Graph's or the token endpoint's) is waited out without the stuck
  detector taking the run over, whether the run sleeps (with heartbeats) or gives its worker
  back, and a throttled token request never reads as a consent problem;
- two throttled tenants on two workers do not delay a third tenant's run.
"""

import threading
import time
import uuid

import pytest
from django.urls import reverse

from bench import fairness
from bench.sync import add_directory_users
from connections.models import Connection, MicrosoftUserKey, SyncRun, UserMatch
from connections.sync import schedules
from connections.sync.runner import THROTTLED_UNTIL
from connections.sync.services import sync_run_start
from sandbox import faults
from sandbox.atlassian.models import Account, Site
from sandbox.microsoft.models import DirectoryUser
from tests.factories import TenantFactory, own_consent
from tests.processes import wait_until

ACCOUNTS = 300  # on acme, each met by a Fabrikam user (or not at all, 1 in 10)
PAGE = 30  # items per page both providers serve here: about ten pages each
STUCK_AFTER = 2  # seconds without a heartbeat before the stuck detector takes a run over


@pytest.fixture
def world(private_stack, matching, settings):
    """`matching` (acme <-> Fabrikam) on the private stack, grown to ACCOUNTS accounts, with
    small pages so a run spans many requests."""
    site = Site.objects.get(name="acme")
    have = site.accounts.count()
    accounts = Account.objects.bulk_create(
        Account(account_id=f"557058:{uuid.uuid4()}", email=f"person{n}@acme.example", display_name=f"Person {n}")
        for n in range(ACCOUNTS - have)
    )
    site.accounts.add(*accounts)
    add_directory_users(matching.tenant, ACCOUNTS, prefix="fault")
    for target in ("fabrikam", "site:acme"):
        matching.sandbox.set_fault("page_limit", target, max=PAGE)
    settings.SYNC_STUCK_AFTER = STUCK_AFTER
    matching.stack = private_stack
    return matching


@pytest.fixture
def beat():
    """The beat's sync ticks (stuck detector, automatic retries) every half second, in a
    thread. A run it took over for stuck counts in the run's `takeovers`."""
    from django.db import connection

    stop = threading.Event()

    def tick():
        try:
            while not stop.wait(0.5):
                schedules.unstick()
                schedules.retry_due()
        finally:
            connection.close()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


def _start(w, connection=None):
    return sync_run_start(connection=connection or w.connection, kind=SyncRun.Kind.USER_MATCHING, acting_user=w.admin)


def _ended(run, timeout):
    def done():
        run.refresh_from_db()
        return not run.is_active

    wait_until(done, timeout, f"run {run.pk} to end", every=0.2)
    return run


def _at(run, predicate, timeout=60):
    """Wait until the run's saved checkpoint satisfies `predicate` (the run is mid-way)."""

    def reached():
        run.refresh_from_db()
        assert run.is_active, (run.state, run.error)
        return predicate(run.checkpoint)

    wait_until(reached, timeout, f"run {run.pk} to reach its checkpoint", every=0.05)


def _assert_complete(connection, tenant, matched=ACCOUNTS * 8 // 10):
    """Nothing lost, nothing twice: one match per account on acme, every user keyed, once."""
    matches = UserMatch.objects.filter(connection=connection)
    keys = MicrosoftUserKey.objects.filter(connection=connection)
    accounts = Account.objects.filter(sites__name="acme").count()
    users = DirectoryUser.objects.filter(tenant=tenant, deleted=False).count()
    assert accounts >= ACCOUNTS
    assert matches.count() == matches.values("account_id").distinct().count() == accounts
    assert keys.values("user_id").distinct().count() == users
    assert keys.count() == keys.values("user_id", "digest").distinct().count()
    assert matches.exclude(outcome="unmatched").count() >= matched


def _requests(since_id=0):
    from sandbox import requestlog

    return requestlog.entries(since_id=since_id)


def test_a_short_outage_and_a_high_error_rate_do_not_fail_the_run(world, beat):
    world.stack.worker()
    for target in ("fabrikam", "site:acme"):
        world.sandbox.set_fault("page_limit", target, max=2 * PAGE)  # fewer requests to retry
    world.sandbox.set_fault("latency", "*", ms=60)
    run = _start(world)
    _at(run, lambda c: c.get("phase") == "microsoft" and c.get("next") or c.get("phase") == "atlassian")

    # Both providers answer nothing but 503 (no Retry-After) for five seconds ...
    for target in ("fabrikam", "site:acme"):
        world.sandbox.set_fault("error_rate", target, share=1, status=503, retry_after="")
    time.sleep(5)
    # ... then every other answer, for six seconds (a bounded spell keeps the test's time
    # bounded: a request failing six times running waits up to 30 s before its next try).
    for target in ("fabrikam", "site:acme"):
        world.sandbox.set_fault("error_rate", target, share=0.5, status=503, retry_after="")
    spell_ends = time.monotonic() + 6
    while time.monotonic() < spell_ends and SyncRun.objects.get(pk=run.pk).is_active:
        time.sleep(0.2)
    faults.clear("error_rate")

    _ended(run, 120)
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert (run.attempts, run.takeovers, run.retry_at) == (1, 0, None)  # the same run rode it out
    assert len([r for r in _requests() if r.status == 503]) >= 5
    _assert_complete(world.connection, world.tenant)


def test_a_run_failed_by_a_longer_outage_is_retried_by_the_beat_from_its_checkpoint(world, beat):
    # A window of a second: the outage below outlasts it, and the run fails (transiently).
    world.stack.worker(SYNC_OUTAGE_WINDOW=1, SYNC_HTTP_MAX_ATTEMPTS=2, SYNC_AUTO_RETRY_DELAY=1)
    world.sandbox.set_fault("latency", "site:acme", ms=150)
    run = _start(world)
    _at(run, lambda c: c.get("phase") == "atlassian" and c.get("start_at", 0) >= PAGE)
    world.sandbox.set_fault("error_rate", "site:acme", share=1, status=503, retry_after="")
    _ended(run, 60)
    assert run.state == SyncRun.State.FAILED and "503" in run.error, run.error
    assert run.checkpoint["phase"] == "atlassian" and run.checkpoint["start_at"] >= PAGE
    written = UserMatch.objects.filter(connection=world.connection).count()
    assert written == run.checkpoint["start_at"]
    world.sandbox.clear_faults()
    for target in ("fabrikam", "site:acme"):
        world.sandbox.set_fault("page_limit", target, max=PAGE)

    retry = wait_until(lambda: SyncRun.objects.filter(resumed_from=run).first(), 30, "the beat's retry")
    _ended(retry, 60)
    assert retry.state == SyncRun.State.SUCCEEDED, (retry.error, retry.remedy)
    assert (retry.trigger, retry.auto_retries) == (SyncRun.Trigger.RETRY, 1)
    # It went on from the checkpoint: neither Microsoft's users nor the accounts before it were
    # read again.
    assert 0 < retry.fetched <= Account.objects.filter(sites__name="acme").count() - written
    _assert_complete(world.connection, world.tenant)


@pytest.mark.parametrize(
    ("give_back_after", "claims"),
    [(30, 1), (3, 2)],
    ids=["sleeps-with-heartbeats", "gives-the-worker-back"],
)
def test_a_long_retry_after_is_waited_out_and_the_stuck_detector_leaves_the_run_alone(
    world, beat, give_back_after, claims
):
    world.stack.worker(SYNC_STUCK_AFTER=STUCK_AFTER, SYNC_GIVE_BACK_AFTER=give_back_after)
    world.sandbox.set_fault("latency", "fabrikam", ms=60)
    run = _start(world)
    _at(run, lambda c: c.get("phase") == "microsoft" and c.get("next"))
    since = _requests()[-1].pk
    # Graph throttles the tenant once: Retry-After 6 s, three times SYNC_STUCK_AFTER.
    world.sandbox.set_fault("error_rate", "fabrikam", share=1, status=429, retry_after="6")
    wait_until(lambda: any(r.status == 429 for r in _requests(since)), 30, "Graph's 429")
    faults.clear("error_rate")

    _ended(run, 90)
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert run.takeovers == 0  # never taken over as stuck
    assert run.attempts == claims
    log = world.stack.workers[0].log.read_text()
    assert ("gives its worker back" in log) == (claims == 2), log[-3000:]
    assert "another worker resumed" not in log
    # Nobody asked Graph again before the 6 s were over.
    graph = [r for r in _requests(since) if r.target == world.sandbox.target("fabrikam") and "/oauth2/" not in r.path]
    throttled_at = next(r.created for r in graph if r.status == 429)
    after = [r.created for r in graph if r.created > throttled_at]
    assert after and (after[0] - throttled_at).total_seconds() >= 5.5
    _assert_complete(world.connection, world.tenant)


def test_a_throttled_token_endpoint_delays_the_run_and_never_reads_as_a_consent_problem(world, beat, client):
    world.stack.worker(SYNC_STUCK_AFTER=STUCK_AFTER)
    # The worker has no token yet: its first request to Microsoft is the token request.
    world.sandbox.set_fault("token_throttled", "fabrikam", retry_after=8)
    run = _start(world)

    def given_back():
        run.refresh_from_db()
        return run.state == SyncRun.State.QUEUED and THROTTLED_UNTIL in run.checkpoint

    wait_until(given_back, 30, "the run to give its worker back")
    world.sandbox.clear_faults()
    client.force_login(world.admin)
    page = client.get(reverse("connections:connection_detail", args=[world.connection.pk])).content.decode()
    assert "Microsoft is throttling, retrying at " in page and "consent" not in run.throttled_note
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE

    _ended(run, 60)
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert "consent" not in (run.error + run.remedy).lower()
    assert run.takeovers == 0
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE
    tokens = [r for r in _requests() if r.path.endswith("/oauth2/v2.0/token")]
    assert tokens[0].status == 429 and tokens[-1].status == 200
    assert (tokens[-1].created - tokens[0].created).total_seconds() >= 7.5  # Microsoft's 8 s were kept
    _assert_complete(world.connection, world.tenant)


def test_two_throttled_tenants_on_two_workers_do_not_delay_a_third_tenants_run(world, beat):
    """Each throttled run gives its worker back while it waits (re-queued for when its wait
    ends, from its checkpoint); a worker sleeping through it would hold both workers."""
    w = world
    stack = w.stack
    calm_tenant = fairness.add_tenant(0, ACCOUNTS)
    calm = Connection.objects.create(
        organization=w.organization, site=w.connection.site, status=Connection.Status.ACTIVE,
        tenant=TenantFactory(organization=w.organization, tenant_id=calm_tenant.pk, display_name="Calm"),
        features=["user_mapping"],
    )  # fmt: skip
    own_consent(calm, by=w.admin)
    northwind = w.sandbox.tenants["northwind"]
    busy = Connection.objects.create(
        organization=w.organization, site=w.connection.site, status=Connection.Status.ACTIVE,
        tenant=TenantFactory(organization=w.organization, tenant_id=northwind.id, display_name="Northwind"),
        features=["user_mapping"],
    )  # fmt: skip
    own_consent(busy, by=w.admin)
    stack.worker("first", SYNC_STUCK_AFTER=STUCK_AFTER)
    stack.worker("second", SYNC_STUCK_AFTER=STUCK_AFTER)
    # Fabrikam and Northwind: every Graph answer a 429 with Retry-After 15 s.
    for target in ("fabrikam", "northwind"):
        w.sandbox.set_fault("error_rate", target, share=1, status=429, retry_after="15")
        w.sandbox.set_fault("page_limit", target, max=PAGE)

    throttled = [_start(w), _start(w, busy)]
    for run in throttled:
        wait_until(lambda run=run: SyncRun.objects.filter(pk=run.pk, checkpoint__has_key=THROTTLED_UNTIL,
                                                          state=SyncRun.State.QUEUED).exists(),  # fmt: skip
                   30, "a throttled run to give its worker back")
    started = time.monotonic()
    third = _start(w, calm)
    _ended(third, 60)
    took = time.monotonic() - started
    assert third.state == SyncRun.State.SUCCEEDED, (third.error, third.remedy)
    # Done while both throttled runs still waited: no worker was held by them.
    for run in throttled:
        run.refresh_from_db()
        assert run.state == SyncRun.State.QUEUED, run.state
        assert third.finished_at < run.queued_at  # queued_at: when its wait ends
    assert took < 14
    _assert_complete(calm, calm_tenant)

    faults.clear("error_rate")
    for run in throttled:
        _ended(run, 90)
        assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
        assert run.takeovers == 0
    _assert_complete(w.connection, w.tenant)
