"""Fetch the next page while the current one is being written.

A run reads a provider page by page and writes each page in a transaction with its
checkpoint. Done in turn, the run waits on the network and then on the database; with the
next request already in flight while a page is written, a run takes about as long as its
fetches alone. Only the request itself runs in the helper thread: whatever needs the
database (a token from stored credentials, checkpoints, the heartbeat) stays in the run's own
thread, so the run's transactions and locks are never shared with another thread.

Order, checkpoints and request counts are those of a plain loop: page N+1 is asked for once
page N is in hand (its cursor comes from page N), and nothing beyond the last page is asked for.

`gather(requests, workers)` is the same arrangement for requests that do not depend on each
other (one per item of a page): up to `workers` of them in flight at once in helper threads,
their answers handed back in order to the run's thread, which alone touches the database.
`Sender(workers)` keeps those helper threads for a whole run, so the next page's requests can be
handed over before the current page's last answers are in (see Sender).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from .. import throttle

C = TypeVar("C")  # a cursor: a link, an offset
P = TypeVar("P")  # a page

Request = Callable[[], P]


class Pages(Generic[C, P]):
    """`for cursor, page in Pages(start, next_cursor, first)`:

    - `start(cursor)` runs in the caller's thread (it may read the database) and returns the
      request to send, a no-argument callable, which runs in the helper thread;
    - `next_cursor(page, cursor)` says where the following page starts, None after the last.
    """

    def __init__(self, start: Callable[[C], Request[P]], next_cursor: Callable[[P, C], C | None], first: C):
        self.start, self.next_cursor, self.first = start, next_cursor, first

    def __iter__(self) -> Iterator[tuple[C, P]]:
        reader = self.reader()
        try:
            while (item := reader.take()) is not None:
                yield item
        finally:
            reader.close()

    def reader(self) -> Reader[C, P]:
        """The same pages taken one call at a time, with a way to tell whether the next one is
        already in (`ready`), so a caller can collect pages between other work without waiting."""
        return Reader(self)

    def _submit(self, executor: ThreadPoolExecutor, cursor: C) -> Future[P]:
        request = self.start(cursor)
        context = contextvars.copy_context()  # the run's throttle settings (outage window, give back)
        return executor.submit(context.run, _in_helper, request)


class Reader(Generic[C, P]):
    """Pages one `take()` at a time (see Pages.reader); `close()` when done with it."""

    def __init__(self, pages: Pages[C, P]):
        self._pages = pages
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._cursor: C | None = pages.first
        self._pending: Future[P] | None = pages._submit(self._executor, pages.first)

    def ready(self) -> bool:
        """The next page is in, and was read without an error (an error waits for `take`)."""
        pending = self._pending
        return pending is not None and pending.done() and pending.exception() is None

    def take(self) -> tuple[C, P] | None:
        """The next (cursor, page), waiting for it if need be; None after the last page. The
        page after it is asked for before this returns."""
        if self._cursor is None or self._pending is None:
            return None
        cursor, page = self._cursor, _result(self._pending)
        following = self._pages.next_cursor(page, cursor)
        self._pending = self._pages._submit(self._executor, following) if following is not None else None
        self._cursor = following
        return cursor, page

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _in_helper(request: Request[P]) -> P:
    throttle.without_heartbeat()
    return request()


def _result(pending: Future[P]) -> P:
    """The page, beating the run's heartbeat meanwhile: a request waiting out a Retry-After in
    the helper thread is progress, as it would be in the run's own thread."""
    hook = throttle.heartbeat_hook()
    if hook is None:
        return pending.result()
    heartbeat, every = hook
    while True:
        try:
            return pending.result(timeout=every)
        except FutureTimeout:
            heartbeat()


def gather(requests: Sequence[Request[P]], workers: int) -> list[P]:
    """Each request's answer, in order, with at most `workers` requests in flight at once.

    The requests run in helper threads with the run's throttle settings (a short Retry-After is
    waited out there while this thread beats the heartbeat; a long one raises GiveBack, which
    reaches the caller like any other exception). On the first exception the requests not yet
    started are dropped, the ones in flight are waited for, and the exception is raised: the
    caller commits nothing of the batch, so a redone batch neither loses nor counts twice."""
    if not requests:
        return []
    if workers <= 1 or len(requests) == 1:
        return [request() for request in requests]
    executor = ThreadPoolExecutor(max_workers=min(workers, len(requests)), thread_name_prefix="gather")
    try:
        pending = [executor.submit(contextvars.copy_context().run, _in_helper, request) for request in requests]
        return _in_order(pending)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class Sender:
    """`with Sender(workers) as sender: batch = sender.submit(requests); ...; batch.results()`.

    One pool of `workers` helper threads for a run's batches, taken in the order handed over:
    while one batch's slowest answers are awaited, the workers already free start on the next
    batch, where `gather` would leave them idle until the whole batch is in (at a provider's rate
    limit, every idle moment is budget lost). Leaving the block drops the requests not yet
    started and waits for those in flight; with `workers` <= 1 a batch's requests run in the run's
    own thread when its results are asked for, as with `gather`."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._executor: ThreadPoolExecutor | None = None

    def __enter__(self) -> Sender:
        if self.workers > 1:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sender")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, requests: Sequence[Request[P]]) -> Batch[P]:
        if self._executor is None:
            return Batch(list(requests), [])
        # Each with the run's throttle settings, as in gather.
        return Batch([], [self._executor.submit(contextvars.copy_context().run, _in_helper, r) for r in requests])


class Batch(Generic[P]):
    """The answers of one Sender batch, in order (see gather for what an exception does)."""

    def __init__(self, inline: list[Request[P]], pending: list[Future[P]]):
        self._inline, self._pending = inline, pending

    def results(self) -> list[P]:
        if self._inline:
            return [request() for request in self._inline]
        return _in_order(self._pending)


def _in_order(pending: list[Future[P]]) -> list[P]:
    """The futures' answers in order; on the first exception, those not started are cancelled,
    those in flight waited for, and the exception raised."""
    answers: list[P] = []
    for future in pending:
        try:
            answers.append(_result(future))
        except BaseException:
            for other in pending:
                other.cancel()
            for other in pending:
                if not other.cancelled():
                    _settled(other)
            raise
    return answers


def _settled(pending: Future[P]) -> None:
    """Wait for a request in flight to end, whatever it answered (the batch fails anyway)."""
    try:
        _result(pending)
    except BaseException:  # noqa: BLE001, S110 - the first failure is the one raised
        pass
