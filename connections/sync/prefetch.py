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
`Ahead(...)` reads a listing further ahead, in a thread that goes from page to page by itself
(bounded), for a listing that can be read long before it is used (see Ahead).
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
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
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        try:
            cursor: C | None = self.first
            pending = self._submit(executor, self.first)
            while cursor is not None:
                page = _result(pending)
                following = self.next_cursor(page, cursor)
                if following is not None:
                    pending = self._submit(executor, following)  # in flight while the caller works
                yield cursor, page
                cursor = following
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def _submit(self, executor: ThreadPoolExecutor, cursor: C) -> Future[P]:
        request = self.start(cursor)
        context = contextvars.copy_context()  # the run's throttle settings (outage window, give back)
        return executor.submit(context.run, _in_helper, request)


S = TypeVar("S")  # what a helper thread sends with: a client holding a fresh token


class Ahead(Generic[S, C, P]):
    """Pages read ahead of their use by a helper thread that goes on from page to page by
    itself (each cursor from the page before) while the pages it holds have fewer than `limit`
    items, so a caller that writes slower than the provider answers never waits for a page.

    What needs the database stays in the caller's thread: `client()` runs there, at every
    `hand_over()` and `take()`, and the helper sends with the latest one it was handed (a
    token refreshed by the run, never by the helper). `send(client, cursor)` runs in the helper
    and returns the page as it is to be held (small); `size(page)` counts its items. An error
    (GiveBack included) is held in its place and raised by the `take` that reaches it.
    `close()` when done: the helper stops before its next request."""

    def __init__(
        self,
        client: Callable[[], S],
        send: Callable[[S, C], P],
        next_cursor: Callable[[P, C], C | None],
        first: C,
        *,
        limit: int,
        size: Callable[[P], int],
    ):
        self._client_of, self._send, self._next_cursor, self._size, self._limit = client, send, next_cursor, size, limit
        self._ready: deque[tuple[C, P] | BaseException] = deque()
        self._holding, self._ended, self._closed = 0, False, False
        self._changed = threading.Condition()
        self._client = client()
        context = contextvars.copy_context()  # the run's throttle settings (outage window, give back)
        self._thread = threading.Thread(target=context.run, args=(self._read, first), name="ahead", daemon=True)
        self._thread.start()

    def hand_over(self) -> None:
        """A fresh client for the helper's next requests (call it between other work)."""
        client = self._client_of()
        with self._changed:
            self._client = client

    def take_ready(self, fits: Callable[[P], bool]) -> tuple[C, P] | None:
        """The next (cursor, page) if it is in already and `fits` it, else None (never waits;
        an error is left for `take`). No new client: the caller just took one."""
        with self._changed:
            head = self._ready[0] if self._ready else None
            if head is None or isinstance(head, BaseException) or not fits(head[1]):
                return None
            self._ready.popleft()
            self._holding -= self._size(head[1])
            self._changed.notify_all()
            return head

    def take(self) -> tuple[C, P] | None:
        """The next (cursor, page), waiting for it (the run's heartbeat beats meanwhile); None
        after the last page."""
        self.hand_over()
        hook = throttle.heartbeat_hook()
        with self._changed:
            while not self._ready and not self._ended:
                if hook is None:
                    self._changed.wait()
                elif not self._changed.wait(timeout=hook[1]):
                    self._changed.release()
                    try:
                        hook[0]()
                    finally:
                        self._changed.acquire()
            if not self._ready:
                return None
            item = self._ready.popleft()
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            self._holding -= self._size(item[1])
            self._changed.notify_all()
            return item

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _read(self, cursor: C | None) -> None:
        throttle.without_heartbeat()
        while cursor is not None:
            with self._changed:
                while self._holding >= self._limit and self._ready and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                client = self._client
            try:
                page = self._send(client, cursor)
                following = self._next_cursor(page, cursor)
            except BaseException as exc:  # noqa: BLE001 - handed to the run's thread, which raises it
                with self._changed:
                    self._ready.append(exc)
                    self._changed.notify_all()
                return
            with self._changed:
                self._ready.append((cursor, page))
                self._holding += self._size(page)
                self._changed.notify_all()
            cursor = following
        with self._changed:
            self._ended = True
            self._changed.notify_all()


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
