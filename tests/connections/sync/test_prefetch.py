"""A run's next page is already being fetched while it writes the current one; the run sees
the same pages, in the same order, the same errors, and its heartbeat beats while it waits."""

import threading
import time

import pytest

from connections import throttle
from connections.sync.prefetch import Pages


class Site:
    """Three pages of a paged API, recording when each request starts and which thread sends it."""

    def __init__(self, pages=3, slow=0.0, fail_at=None):
        self.pages, self.slow, self.fail_at = pages, slow, fail_at
        self.started: dict[int, float] = {}
        self.prepared_in: set[str] = set()

    def start(self, n):
        self.prepared_in.add(threading.current_thread().name)  # where tokens and the database are read

        def request():
            self.started[n] = time.monotonic()
            time.sleep(self.slow)
            if n == self.fail_at:
                raise RuntimeError(f"page {n} failed")
            return [f"item{n}"] if n < self.pages else []

        return request


def _next(page, n):
    return n + 1 if page else None


def test_the_next_page_is_in_flight_while_the_caller_writes_and_nothing_past_the_end_is_asked():
    site = Site(pages=3)
    seen = []
    for n, page in Pages(site.start, _next, 0):
        time.sleep(0.05)  # the caller writes the page
        if page:
            assert n + 1 in site.started, "the next request was sent while the caller worked"
        seen.append((n, page))
    assert seen == [(0, ["item0"]), (1, ["item1"]), (2, ["item2"]), (3, [])]
    assert sorted(site.started) == [0, 1, 2, 3]  # the empty page ends it; no page 4 is asked for
    assert site.prepared_in == {threading.current_thread().name}


def test_an_error_surfaces_at_its_page_after_the_pages_before_it():
    site = Site(pages=5, fail_at=2)
    seen = []
    with pytest.raises(RuntimeError, match="page 2 failed"):
        for n, _page in Pages(site.start, _next, 0):
            seen.append(n)
    assert seen == [0, 1]


def test_the_run_heartbeat_beats_while_a_prefetched_request_waits():
    beats = []
    site = Site(pages=1, slow=0.35)
    with throttle.run_scope(heartbeat=lambda: beats.append(threading.current_thread().name), every=0.1):
        pages = list(Pages(site.start, _next, 0))
    assert [n for n, _ in pages] == [0, 1]
    # Beaten by the run's own thread (the heartbeat writes the run's row), never the helper's.
    assert len(beats) >= 2 and set(beats) == {threading.current_thread().name}


def test_a_prefetched_request_still_waits_as_a_run_waits():
    # Inside a run a wait beats failing (outage window, give back); the helper thread keeps
    # that, only without touching the run's row.
    seen = []

    def start(n):
        return lambda: seen.append((throttle.heartbeat_hook() is not None, threading.current_thread().name)) or []

    with throttle.run_scope(heartbeat=lambda: None, every=0.1, outage_window=120):
        list(Pages(start, lambda page, n: None, 0))
    (in_run, thread), = seen
    assert in_run and thread != threading.current_thread().name
