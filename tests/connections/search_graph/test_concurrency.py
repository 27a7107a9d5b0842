"""A crawled page's Graph writes go out together, never more at once than
SEARCH_INGEST_CONCURRENCY, each through the connection's throttle; a 429 in the middle of a page
and a page that fails half sent leave the index and the run's counts exact."""

import threading
from datetime import timedelta

from django.utils import timezone

from connections.microsoft import search_endpoints
from connections.microsoft.graph import GraphError
from connections.models import IndexedItem, SyncRun
from connections.search.confluence import ConfluenceUnavailable
from connections.sync import schedules
from sandbox.microsoft.search_models import ExternalItem, SearchFaults

from . import memory_source
from .memory_source import page

ITEMS = 12


def _index_from_empty(world, monkeypatch, settings, *, per_page=6, concurrency=3):
    """Published with its first crawl done, then the index emptied: the next full crawl sends all."""
    world.confluence(items=[page(i, acl=[("user", "acc-ann")]) for i in range(1, ITEMS + 1)])
    world.setup()
    world.publish()
    ExternalItem.objects.all().delete()
    IndexedItem.objects.all().delete()
    monkeypatch.setattr(memory_source, "PAGE_SIZE", per_page)
    settings.SEARCH_INGEST_CONCURRENCY = concurrency


def _watch_puts(monkeypatch, *, meet=0):
    """Counts the PUTs in flight; the first `meet` wait for each other (they are only all there if
    the crawl sends that many at once)."""
    state = {"now": 0, "most": 0, "started": 0}
    lock = threading.Lock()
    together = threading.Barrier(meet) if meet else None
    real = search_endpoints.put_item

    def put_item(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["started"] += 1
            state["most"] = max(state["most"], state["now"])
            first = state["started"] <= meet
        try:
            if together is not None and first:
                together.wait(timeout=30)
            return real(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(search_endpoints, "put_item", put_item)
    return state


def test_a_pages_puts_are_sent_together_and_never_more_at_once_than_the_setting(search_world, monkeypatch,
                                                                                  settings):
    world = search_world
    _index_from_empty(world, monkeypatch, settings, per_page=6, concurrency=3)
    watched = _watch_puts(monkeypatch, meet=3)
    run = world.crawl("full")
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert watched["started"] == ITEMS
    assert watched["most"] == 3  # three met in flight, and never a fourth beside them
    assert run.created == ITEMS and IndexedItem.objects.count() == ITEMS
    assert world.finds("ann") == {f"page{i}" for i in range(1, ITEMS + 1)}


def test_a_429_in_the_middle_of_a_page_loses_and_duplicates_nothing(search_world, monkeypatch, settings):
    world = search_world
    _index_from_empty(world, monkeypatch, settings, per_page=6, concurrency=4)
    SearchFaults.objects.update_or_create(tenant=world.ms_tenant, defaults={"ingest_rate": 2})
    first = world.sandbox.requests(path_contains="/confluencewiki/items/", method="PUT")
    run = world.crawl("full")
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    sent = world.sandbox.requests(path_contains="/confluencewiki/items/", method="PUT")[len(first):]
    assert any(r.status == 429 for r in sent)  # Graph did throttle the page's writes
    assert run.created == ITEMS and run.updated == 0
    assert IndexedItem.objects.count() == ITEMS
    # Each item stored once: what was refused with a 429 was sent again, nothing accepted twice.
    assert sorted(i.item_id for i in ExternalItem.objects.all()) == sorted(f"page{i}" for i in range(1, ITEMS + 1))
    assert {i.puts for i in ExternalItem.objects.all()} == {1}


def test_a_page_that_fails_half_sent_is_redone_from_its_checkpoint_and_counted_once(search_world, monkeypatch,
                                                                                    settings):
    world = search_world
    _index_from_empty(world, monkeypatch, settings, per_page=4, concurrency=4)
    real = search_endpoints.put_item
    failed = []

    def put_item(graph, connection_id, item_id, item):
        if item_id == "page7" and not failed:  # the second page: its other PUTs are in flight meanwhile
            failed.append(item_id)
            raise GraphError(503, "serviceUnavailable", "Graph is unavailable")
        return real(graph, connection_id, item_id, item)

    monkeypatch.setattr(search_endpoints, "put_item", put_item)
    run = world.crawl("full")
    assert run.state == SyncRun.State.FAILED and run.retry_at
    assert run.created == 4 and IndexedItem.objects.count() == 4  # the first page only
    assert run.checkpoint["done"] == 4

    schedules.retry_due(now=timezone.now() + timedelta(hours=1))
    retry = SyncRun.objects.filter(kind=SyncRun.Kind.SEARCH_CRAWL).order_by("-pk").first()
    assert retry is not None and retry.pk != run.pk
    retry.refresh_from_db()
    assert retry.state == SyncRun.State.SUCCEEDED, (retry.error, retry.remedy)
    assert run.created + retry.created == ITEMS  # the half-sent page counted once, by the retry
    assert IndexedItem.objects.count() == ITEMS
    assert sorted(i.item_id for i in ExternalItem.objects.all()) == sorted(f"page{i}" for i in range(1, ITEMS + 1))
    assert world.finds("ann") == {f"page{i}" for i in range(1, ITEMS + 1)}


def test_the_next_pages_puts_go_out_while_a_pages_slowest_answer_is_awaited(search_world, monkeypatch, settings):
    """At Graph's rate every idle moment is budget lost: the workers a page's last PUT leaves
    free start on the next page instead of waiting for it; pages still commit in order."""
    world = search_world
    _index_from_empty(world, monkeypatch, settings, per_page=6, concurrency=3)
    real = search_endpoints.put_item
    next_page_started = threading.Event()
    waited: list[bool] = []

    def put_item(graph, connection_id, item_id, item):
        if item_id == "page7":  # the second page's first item
            next_page_started.set()
        if item_id == "page6":  # the first page's last item answers only once the next page is going
            waited.append(next_page_started.wait(timeout=20))
        return real(graph, connection_id, item_id, item)

    monkeypatch.setattr(search_endpoints, "put_item", put_item)
    run = world.crawl("full")
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    assert waited == [True]
    assert run.created == ITEMS and run.checkpoint["done"] == ITEMS and IndexedItem.objects.count() == ITEMS
    assert world.finds("ann") == {f"page{i}" for i in range(1, ITEMS + 1)}


def test_a_page_that_cannot_be_read_keeps_the_page_sent_before_it(search_world, monkeypatch, settings):
    world = search_world
    _index_from_empty(world, monkeypatch, settings, per_page=6, concurrency=3)
    real = memory_source.MemorySource.items

    def items(self, scope, cursor="", *, with_acl=True):
        if cursor == "6":
            raise ConfluenceUnavailable("Listing the pages of space ENG: Confluence answered HTTP 503.",
                                        transient=True, status=503)
        return real(self, scope, cursor, with_acl=with_acl)

    monkeypatch.setattr(memory_source.MemorySource, "items", items)
    run = world.crawl("full")
    assert run.state == SyncRun.State.FAILED and "HTTP 503" in run.error
    # The first page's PUTs went out while the second was read: committed, so a retry starts after it.
    assert run.checkpoint["done"] == 6 and run.created == 6
    assert sorted(IndexedItem.objects.values_list("item_id", flat=True)) == sorted(f"page{i}" for i in range(1, 7))
