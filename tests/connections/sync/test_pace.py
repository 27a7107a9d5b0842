"""A key throttled by a window limit is paced to it: after the two 429s that teach the limit
(the requests served between them), no more are met; a lone 429 paces nothing; Retry-After is
never cut short; the pace is forgotten after a while.

Against a service that counts like the sandbox's rate limit (N requests per window opened by
the first request, 429 with Retry-After in whole seconds, rounded up), on a clock that moves
only when a request takes time or the throttle sleeps; and once against the sandbox itself."""

import math
import time
from datetime import timedelta

import pytest

from connections import throttle
from connections.microsoft import graph as graph_module
from connections.microsoft.graph import Graph
from connections.throttle import MemoryStore, Throttle
from tests.factories import ConnectionFactory, own_consent


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += max(0.0, seconds)


class Response:
    def __init__(self, status, retry_after=None):
        self.status_code = status
        self.headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}


class WindowService:
    """N requests per window seconds, the window opened by the first request after the last
    one ended; past N, 429 with Retry-After = the rest of the window, whole seconds rounded up.
    Each request takes `took` seconds (half before the service counts it, half after)."""

    def __init__(self, clock, limit, window, took):
        self.clock, self.limit, self.window, self.took = clock, limit, window, took
        self.started, self.count = -math.inf, 0
        self.log = []  # (when the service saw it, status, Retry-After)
        self.not_before = -math.inf

    def call(self):
        self.clock.t += self.took / 2
        now = self.clock.t
        assert now >= self.not_before, "a request was sent before Retry-After had elapsed"
        if now - self.started >= self.window:
            self.started, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            wait = max(1, math.ceil(self.started + self.window - now))
            self.not_before = now + wait
            self.log.append((now, 429, wait))
            response = Response(429, wait)
        else:
            self.log.append((now, 200, None))
            response = Response(200)
        self.clock.t += self.took / 2
        return response

    def refused(self):
        return sum(1 for _t, status, _w in self.log if status == 429)

    def budget_used(self):
        """As `benchmark sync` reports it: the fastest span the limit allows for the requests
        served, over the span they took."""
        served = [t for t, status, _w in self.log if status == 200]
        fastest = math.floor((len(served) - 1) / self.limit) * self.window
        return fastest / (served[-1] - served[0])


def _run(service, clock, requests, store=None, **kwargs):
    budget = Throttle(rate=1000, burst=1000, clock=clock, store=store or MemoryStore(), max_wait=60, **kwargs)
    for _ in range(requests):
        assert budget.send("graph:tenant", service.call).status_code == 200
    return budget


@pytest.mark.parametrize(("limit", "window", "took"), [(20, 10, 0.08), (20, 2, 0.04), (4, 2, 0.04), (5, 10, 0.3)])
def test_after_the_429s_that_teach_the_limit_no_more_are_met(settings, limit, window, took):
    clock = Clock()
    service = WindowService(clock, limit, window, took)
    _run(service, clock, 10 * limit + 1)
    # The same requests with the pace forgotten as soon as it is learnt: Retry-After alone.
    settings.SYNC_PACE_FORGET_AFTER = 0
    unpaced_clock = Clock()
    unpaced = WindowService(unpaced_clock, limit, window, took)
    _run(unpaced, unpaced_clock, 10 * limit + 1)
    # Retry-After alone meets one 429 in each of the ten windows after the first; paced, only
    # the two the limit is learnt between, and the budget is used better.
    assert unpaced.refused() == 10
    assert service.refused() == 2
    assert service.budget_used() > unpaced.budget_used()


def test_a_request_served_before_the_throttling_began_is_not_counted_in_the_limit(settings):
    """The request just before the storm is not in the service's first window: the first 429
    teaches nothing, the second the limit, and none follows."""
    clock = Clock()
    service = WindowService(clock, 20, 10, 0.08)
    store = MemoryStore()
    limit, service.limit = service.limit, 10_000
    _run(service, clock, 1, store=store)
    service.limit, service.started = limit, -math.inf
    _run(service, clock, 200, store=store)
    refused = [i for i, (_t, status, _w) in enumerate(service.log) if status == 429]
    assert len(refused) == 2 and refused[1] < 50, refused


def test_a_window_that_is_not_whole_seconds_is_still_met_at_most_once_more(settings):
    clock = Clock()
    service = WindowService(clock, 10, 2.5, 0.05)
    _run(service, clock, 101)
    assert service.refused() <= 3


def test_a_lone_429_paces_nothing(settings):
    clock = Clock()
    service = WindowService(clock, 10_000, 10, 0.05)
    store = MemoryStore()
    _run(service, clock, 30, store=store)
    refuse_once = iter([Response(429, 6)])
    budget = Throttle(rate=1000, burst=1000, clock=clock, store=store, max_wait=60)
    budget.send("graph:tenant", lambda: next(refuse_once, None) or service.call())
    assert store.pace("graph:tenant") is None
    started = clock.t
    _run(service, clock, 100, store=store)
    assert clock.t - started == pytest.approx(100 * 0.05)


def test_retry_after_is_honoured_even_when_the_pace_would_go_sooner(settings):
    """The service asks for longer than its window: the throttle waits all of it (the service
    asserts no request comes sooner)."""
    clock = Clock()
    service = WindowService(clock, 5, 2, 0.05)
    store = MemoryStore()
    _run(service, clock, 6, store=store)
    service.not_before = clock.t + 30  # e.g. another app exhausted the tenant's budget
    refused = Response(429, 30)
    budget = Throttle(rate=1000, burst=1000, clock=clock, store=store, max_wait=60)
    calls = iter([refused])
    budget.send("graph:tenant", lambda: next(calls, None) or service.call())
    assert clock.t >= service.not_before


def test_the_pace_is_forgotten_after_a_while_so_the_key_speeds_up_when_throttling_ends(settings):
    settings.SYNC_PACE_FORGET_AFTER = 60
    clock = Clock()
    service = WindowService(clock, 5, 10, 0.05)
    store = MemoryStore()
    _run(service, clock, 17, store=store)
    assert store.pace("graph:tenant") is not None
    service.limit = 10_000  # the throttling ends
    clock.sleep(61)
    started = clock.t
    _run(service, clock, 50, store=store)
    assert clock.t - started == pytest.approx(50 * 0.05)  # not one paced wait


@pytest.fixture
def northwind(sandbox):
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph_module.forget_tokens()
    connection = ConnectionFactory(tenant__tenant_id=sandbox.tenants["northwind"].id)
    own_consent(connection)
    yield connection
    throttle.default_store().clear()


def test_against_the_sandboxs_storm_the_pace_meets_fewer_429s_and_never_cuts_retry_after_short(
    sandbox, northwind, settings
):
    settings.SYNC_GIVE_BACK_AFTER = None
    sandbox.set_fault("rate_limit", "northwind", limit=3, window=1)
    graph = Graph(northwind)
    seen = []
    graph.session.hooks["response"].append(
        lambda r, *a, **k: seen.append((r.status_code, r.headers.get("Retry-After")))
    )
    rows = sandbox.requests()
    since = rows[-1].pk if rows else 0
    started = time.monotonic()
    for _ in range(16):  # five windows and one request
        assert graph.get("/v1.0/users", {"$select": "id", "$top": 1})["value"]
    log = list(sandbox.requests(path_contains="/v1.0/users", since_id=since))
    assert [r.status for r in log] == [s for s, _ in seen]
    refused = [i for i, r in enumerate(log) if r.status == 429]
    # Retry-After alone meets a 429 in each of the five windows; paced, the limit is learnt
    # between the first two.
    assert 1 <= len(refused) <= 2, [r.status for r in log]
    for i in refused:
        following = log[i + 1]
        assert following.created - timedelta(milliseconds=following.duration_ms) >= log[i].created + timedelta(
            seconds=float(seen[i][1])
        )
    assert time.monotonic() - started < 30


def test_a_throttle_for_a_per_second_limit_learns_no_window_and_honours_retry_after(settings):
    """Microsoft Search's ingestion is limited per second and its token bucket is set under the
    rate: two 429s close together (requests that arrived bunched) must not pace the key to a
    window guessed from them, well under its rate."""
    clock = Clock()
    service = WindowService(clock, 20, 10, 0.08)
    store = MemoryStore()
    _run(service, clock, 10 * 20 + 1, store=store, learn_pace=False)
    assert store.pace("graph:tenant") is None
    assert service.refused() == 10  # one 429 per window, each waited out: Retry-After alone
