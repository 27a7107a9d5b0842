"""The throttled, paged Graph reader against the sandbox: paging, Retry-After honoured
(asserted from the sandbox's request log), jittered backoff, per-tenant budgets, errors."""

import random
import time
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from connections import throttle
from connections.microsoft import endpoints as graph_endpoints
from connections.microsoft import graph as graph_module
from connections.microsoft.graph import DeltaExpired, Forbidden, Graph, GraphError
from connections.throttle import MemoryStore, Throttle, retry_after_seconds
from tests.factories import ConnectionFactory, own_consent


class FakeClock:
    """Time stands still except for what the code slept (so a slow machine changes nothing)."""

    def __init__(self, on_sleep=None):
        self.start = time.time()
        self.offset = 0.0
        self.sleeps = []
        self.on_sleep = on_sleep

    def now(self):
        return self.start + self.offset

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.offset += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


@pytest.fixture
def tenants(sandbox, settings):
    """Connections to the sandbox's consented Fabrikam and Northwind, each on its organization's
    own admin consent; a clean budget."""
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph_module.forget_tokens()
    connections = {
        name: ConnectionFactory(tenant__tenant_id=sandbox.tenants[name].id, tenant__display_name=name)
        for name in ("fabrikam", "northwind")
    }
    for connection in connections.values():
        own_consent(connection)
    yield connections
    throttle.default_store().clear()


def _log(sandbox, since=0, path="/v1.0/users"):
    return [r for r in sandbox.requests(path_contains=path, since_id=since)]


def _last_id(sandbox):
    rows = sandbox.requests()
    return rows[-1].pk if rows else 0


def test_pages_follow_next_links_and_send_select_once(sandbox, tenants):
    since = _last_id(sandbox)
    pages = list(Graph(tenants["fabrikam"]).pages("/v1.0/users", {"$select": "id,mail", "$top": 3}))
    users = [u for p in pages for u in p["value"]]
    assert len(pages) > 2
    assert len({u["id"] for u in users}) == len(users) > 6
    assert all(set(u) <= {"id", "mail"} for u in users)
    log = _log(sandbox, since)
    assert len(log) == len(pages)
    assert "%24select=id%2Cmail" in log[0].query or "$select=id,mail" in log[0].query
    # The nextLink carries the query; nothing is added to it.
    assert all("select" not in r.query for r in log[1:])


def test_no_request_is_sent_before_retry_after_elapses(sandbox, tenants):
    sandbox.set_fault("rate_limit", "fabrikam", limit=2, window=2)
    graph = Graph(tenants["fabrikam"])
    seen = []  # (status, Retry-After) as the client received them, in order
    graph.session.hooks["response"].append(
        lambda r, *a, **k: seen.append((r.status_code, r.headers.get("Retry-After")))
    )
    since = _last_id(sandbox)
    for _ in range(5):
        assert graph.get("/v1.0/users", {"$select": "id", "$top": 1})["value"]
    log = _log(sandbox, since)
    assert [r.status for r in log] == [s for s, _ in seen]
    throttled = [i for i, r in enumerate(log) if r.status == 429]
    assert throttled, "the fault never throttled: the test proves nothing"
    for i in throttled:
        retry_after = float(seen[i][1])
        answered = log[i].created
        following = log[i + 1]
        started = following.created - timedelta(milliseconds=following.duration_ms)
        # The next request reached the sandbox only after Retry-After had passed since the
        # 429 was logged (which is before the client even received it).
        assert started >= answered + timedelta(seconds=retry_after), (i, answered, started, retry_after)
    assert log[-1].status == 200


def test_503_without_retry_after_backs_off_with_full_jitter(sandbox, tenants):
    Graph(tenants["fabrikam"]).get("/v1.0/organization")  # the token, before Graph fails
    sandbox.set_fault("error_rate", "fabrikam", share=1, status=503, retry_after="")
    clock = FakeClock()
    graph = Graph(tenants["fabrikam"], throttle=Throttle(max_attempts=4, clock=clock, rng=random.Random(7)))
    since = _last_id(sandbox)
    with pytest.raises(GraphError) as failure:
        graph.get("/v1.0/users", {"$select": "id"})
    assert failure.value.status == 503
    assert len(_log(sandbox, since)) == 4  # bounded attempts
    assert len(clock.sleeps) == 3
    caps = [0.5, 1.0, 2.0]
    assert all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))
    assert clock.sleeps != caps  # random within the cap, not the plain exponential


def test_a_transient_503_is_retried_and_the_call_succeeds(sandbox, tenants):
    Graph(tenants["fabrikam"]).get("/v1.0/organization")
    sandbox.set_fault("error_rate", "fabrikam", share=1, status=503, retry_after="")
    clock = FakeClock(on_sleep=lambda n: sandbox.clear_faults())  # the service recovers
    graph = Graph(tenants["fabrikam"], throttle=Throttle(clock=clock))
    assert graph.get("/v1.0/users", {"$select": "id"})["value"]
    assert len(clock.sleeps) == 1


def test_one_tenants_burst_does_not_hold_up_another(sandbox, tenants):
    clock = FakeClock()
    budget = Throttle(rate=1, burst=2, clock=clock)
    fabrikam, northwind = Graph(tenants["fabrikam"], throttle=budget), Graph(tenants["northwind"], throttle=budget)
    for _ in range(6):
        fabrikam.get("/v1.0/users", {"$select": "id", "$top": 1})
    waited_by_fabrikam = sum(clock.sleeps)
    assert 3.9 <= waited_by_fabrikam <= 4.1  # 2 free, then one a second
    clock.sleeps.clear()
    northwind.get("/v1.0/users", {"$select": "id", "$top": 1})
    northwind.get("/v1.0/users", {"$select": "id", "$top": 1})
    assert clock.sleeps == []  # Northwind's budget is its own


def test_budgets_in_memory_are_per_key_too():
    store, clock = MemoryStore(), FakeClock()
    budget = Throttle(rate=2, burst=1, clock=clock, store=store, max_attempts=1, max_wait=60)
    for _ in range(3):
        budget.wait_turn("graph:a")
    assert 0.9 <= sum(clock.sleeps) <= 1.1
    clock.sleeps.clear()
    budget.wait_turn("graph:b")
    assert clock.sleeps == []


def test_retry_after_accepts_seconds_and_http_dates():
    now = time.time()
    assert retry_after_seconds("7", now) == 7
    later = format_datetime(timezone.now() + timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_after_seconds(later, time.time()) <= 31
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_a_missing_permission_is_named_from_the_endpoints_declaration(sandbox, tenants):
    sandbox.revoke("fabrikam", "Channel.ReadBasic.All", delegated=False)
    graph_module.forget_tokens()  # the next token carries the tenant's roles as they are now
    graph = Graph(tenants["fabrikam"])
    team = next(graph_endpoints.teams_pages(graph, top=1))["value"][0]
    with pytest.raises(Forbidden) as failure:
        list(graph_endpoints.channels_pages(graph, team["id"]))
    # Teams' own wording; the portal names what the declaration of the call says it needs.
    assert failure.value.code == "Forbidden"
    assert failure.value.endpoint == graph_endpoints.CHANNELS
    assert failure.value.permissions == list(graph_endpoints.CHANNELS.permissions)
    assert "Channel.ReadBasic.All" in failure.value.remedy


def test_a_directory_refusal_names_the_declared_permission_though_graph_names_none(sandbox, tenants):
    sandbox.revoke("fabrikam", "User.Read.All", delegated=False)
    sandbox.revoke("fabrikam", "Directory.Read.All", delegated=False)
    graph_module.forget_tokens()
    with pytest.raises(Forbidden) as failure:
        graph_endpoints.users_first_page(Graph(tenants["fabrikam"]))
    assert failure.value.code == "Authorization_RequestDenied"
    assert failure.value.message == "Insufficient privileges to complete the operation."
    assert "User.Read.All" in failure.value.remedy


def test_an_expired_delta_token_says_so(sandbox, tenants):
    graph = Graph(tenants["fabrikam"])
    pages = list(graph.pages("/v1.0/users/delta", {"$select": "id"}))
    delta_link = pages[-1]["@odata.deltaLink"]
    sandbox.set_fault("delta_expiry", "fabrikam", seconds=0)
    time.sleep(1.1)
    with pytest.raises(DeltaExpired):
        graph.get(delta_link)


def test_links_off_graphs_origin_are_refused(sandbox, tenants):
    with pytest.raises(GraphError) as failure:
        Graph(tenants["fabrikam"]).get("https://attacker.example/v1.0/users")
    assert failure.value.code == "foreignLink"


def test_without_redis_the_budget_and_blocks_stay_in_the_process():
    store = throttle.RedisStore("redis://127.0.0.1:1/0")  # nothing listens there
    clock = FakeClock()
    budget = Throttle(rate=1, burst=1, clock=clock, store=store, max_wait=60)
    budget.wait_turn("graph:a")
    store.block("graph:a", clock.now() + 5)
    budget.wait_turn("graph:a")
    assert 4.9 <= sum(clock.sleeps) <= 5.1


def test_inside_a_run_a_short_outage_is_ridden_out(sandbox, tenants):
    """Five retries wait only seconds; inside a sync run a request goes on retrying for the
    outage window, so an outage of a minute does not fail a run of hours."""
    Graph(tenants["fabrikam"]).get("/v1.0/organization")
    sandbox.set_fault("error_rate", "fabrikam", share=1, status=503, retry_after="")
    clock = FakeClock(on_sleep=lambda n: clock.offset >= 60 and sandbox.clear_faults())  # back after a minute
    graph = Graph(tenants["fabrikam"], throttle=Throttle(max_attempts=4, clock=clock, rng=random.Random(3)))
    with throttle.run_scope(heartbeat=lambda: None, every=100, outage_window=120):
        assert graph.get("/v1.0/users", {"$select": "id"})["value"]
    assert len(clock.sleeps) > 4 and 60 <= clock.offset <= 120 + 30


def test_inside_a_run_a_longer_outage_still_fails_after_the_window(sandbox, tenants):
    Graph(tenants["fabrikam"]).get("/v1.0/organization")
    sandbox.set_fault("error_rate", "fabrikam", share=1, status=503, retry_after="")
    clock = FakeClock()
    graph = Graph(tenants["fabrikam"], throttle=Throttle(max_attempts=4, clock=clock, rng=random.Random(3)))
    with throttle.run_scope(heartbeat=lambda: None, every=100, outage_window=120):
        with pytest.raises(GraphError) as failure:
            graph.get("/v1.0/users", {"$select": "id"})
    assert failure.value.status == 503 and len(clock.sleeps) > 4
    assert 120 <= sum(clock.sleeps) <= 120 + 30  # the window, and no more than one backoff past it
