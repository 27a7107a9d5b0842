"""Polite outbound calls for sync jobs: Retry-After honoured exactly, jittered backoff, and a
request budget per tenant (or site) so one large tenant cannot starve the others.

`Throttle.send(key, call)` runs `call()` (which makes one HTTP request through
connections.http.session() and returns the response) when `key` may be called again:

- A 429 or 503 with `Retry-After` (seconds or an HTTP date) blocks the key until then, for
  every worker (the block lives in Redis), and the call is retried after it. Microsoft and
  Atlassian both say a request sent earlier only prolongs the throttling.
- Other 5xx, a 429 without Retry-After, and connection errors are retried after a "full
  jitter" backoff (a random wait between 0 and base * 2^attempt, capped), so workers that
  failed together do not come back together; after SYNC_HTTP_MAX_ATTEMPTS (and, inside a sync
  run, once SYNC_OUTAGE_WINDOW has passed since the request first failed) the last response
  is handed back (or the connection error raised) for the caller to turn into an error.
- Each key has a token bucket (SYNC_TENANT_RATE per second, bursts of SYNC_TENANT_BURST).
  Keys are independent: a tenant that spends its budget waits; the others do not.
- A key that met 429s is paced just under the limit they show (connections.pace): N requests
  per T seconds, learnt from the requests served between two 429s and the second's Retry-After,
  forgotten SYNC_PACE_FORGET_AFTER seconds later. A paced wait is waited like a block (GiveBack inside a
  run when longer than a run holds its worker).

The state is shared through Redis when the broker is Redis (every worker sees the same
budget and blocks); without Redis (the embedded demo) it is kept in this process.
Time goes through an injectable clock, so tests can check the waits without sleeping.
"""

import contextvars
import email.utils
import json
import logging
import random
import threading
import time
from collections import deque
from contextlib import contextmanager

import redis
import requests
from django.conf import settings

from . import pace as pacing

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds; the first retry waits up to this long
BACKOFF_CAP = 30.0  # seconds; no single backoff waits longer
_KEY_TTL_MS = 3_600_000  # idle budgets and blocks vanish from Redis after an hour


# Set for the duration of a sync run (runner.run_execute): what a wait does meanwhile (the
# run's heartbeat, at most every N seconds) and how long failures may go on before giving up.
_while_waiting = contextvars.ContextVar("throttle_while_waiting", default=None)
_outage_window = contextvars.ContextVar("throttle_outage_window", default=0.0)
_give_back_after = contextvars.ContextVar("throttle_give_back_after", default=None)


def heartbeat_hook():
    """The running sync run's (heartbeat, every seconds), or None outside a run."""
    return _while_waiting.get()


def without_heartbeat() -> None:
    """In a helper thread (its own copy of the context): waits there still count as a run's
    waits, but call no heartbeat, which touches the database; the run's own thread beats for
    it (see connections.sync.prefetch)."""
    hook = _while_waiting.get()
    if hook is not None:
        _while_waiting.set((_no_heartbeat, hook[1]))


def _no_heartbeat() -> None:
    pass


@contextmanager
def run_scope(*, heartbeat, every, outage_window=0.0, give_back_after=None):
    """Inside a sync run, every Throttle:

    - calls `heartbeat` at least every `every` seconds while it sleeps: waiting out a
      Retry-After is progress, and without a heartbeat the stuck detector would take a healthy
      run over (and fail it after SYNC_STUCK_MAX_RESUMES);
    - keeps retrying 5xx, 429 and connection errors for `outage_window` seconds after the first
      failure of a request, even past max_attempts, so a short outage or a high error rate does
      not fail a long run. Outside a run (health checks, pages) a request gives up after
      max_attempts, as a person is waiting for the answer;
    - raises GiveBack instead of sleeping when a key is blocked (Retry-After) for longer than
      `give_back_after` seconds: the runner puts the run back in the queue from its checkpoint,
      due when the block ends, and the worker takes other work meanwhile (None: always sleep)."""
    tokens = (
        _while_waiting.set((heartbeat, max(float(every), 0.01))),
        _outage_window.set(float(outage_window)),
        _give_back_after.set(None if give_back_after is None else float(give_back_after)),
    )
    try:
        yield
    finally:
        _while_waiting.reset(tokens[0])
        _outage_window.reset(tokens[1])
        _give_back_after.reset(tokens[2])


def in_run():
    """Whether this code runs inside a sync run (run_scope), where waiting beats failing."""
    return _while_waiting.get() is not None


class Throttled(Exception):
    """The service asked us to wait longer than SYNC_RETRY_AFTER_MAX; try the job later."""

    def __init__(self, key, seconds):
        super().__init__(f"asked to wait {seconds:.0f} s before the next request")
        self.key = key
        self.seconds = seconds


class GiveBack(Exception):
    """Inside a sync run: `key` is blocked until `until` (epoch seconds), longer than a run
    holds its worker for; the run is to be queued again for then (see run_scope)."""

    def __init__(self, key, until, seconds):
        super().__init__(f"{key} asked to wait {seconds:.1f} s")
        self.key = key
        self.until = until
        self.seconds = seconds


class Clock:
    """Wall-clock time (shared with other workers through Redis) and sleeping."""

    def now(self):
        return time.time()

    def sleep(self, seconds):
        if seconds > 0:
            time.sleep(seconds)


def retry_after_seconds(value, now):
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def full_jitter(attempt, rng=random):
    """AWS's "full jitter": uniform between 0 and the capped exponential."""
    return rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1))))


# --- where budgets and blocks live ----------------------------------------------------------

# Atomic token bucket: refill by elapsed time, take one token if there is one, else say how
# long until there will be. KEYS[1] bucket hash; ARGV: now, rate, burst, ttl_ms.
_TAKE = """
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return tostring(wait)
"""

# Keep the later of the stored and the new "blocked until". KEYS[1]; ARGV: until, ttl_ms.
_BLOCK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


class MemoryStore:
    """Budgets and blocks of this process only (the embedded demo has no Redis)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets = {}
        self._blocks = {}
        self._served = {}
        self._paces = {}

    def take(self, key, now, rate, burst):
        with self._lock:
            tokens, at = self._buckets.get(key, (float(burst), now))
            if now > at:
                tokens = min(float(burst), tokens + (now - at) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            self._buckets[key] = (tokens, max(now, at))
            return wait

    def block(self, key, until):
        with self._lock:
            self._blocks[key] = max(until, self._blocks.get(key, 0.0))

    def blocked_until(self, key):
        with self._lock:
            return self._blocks.get(key, 0.0)

    def note_served(self, key, sent, received):
        with self._lock:
            self._served.setdefault(key, deque(maxlen=pacing.LOG_MAX)).append((sent, received))

    def served(self, key, last=pacing.LOG_MAX):
        """The key's last `last` served requests (sent, answered), oldest first."""
        with self._lock:
            log = self._served.get(key, ())
            return list(log)[-last:] if last else []

    def pace(self, key):
        with self._lock:
            return self._paces.get(key)

    def set_pace(self, key, pace):
        with self._lock:
            if pace is None:
                self._paces.pop(key, None)
            else:
                self._paces[key] = pace

    def clear(self):
        with self._lock:
            self._buckets.clear()
            self._blocks.clear()
            self._served.clear()
            self._paces.clear()


class RedisStore:
    """Budgets and blocks shared by every worker. If Redis cannot be reached, this process
    keeps them itself meanwhile (politeness per worker beats failing every run)."""

    PREFIX = "sync-throttle:"

    def __init__(self, url):
        self.errors = redis.RedisError
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._take = self.redis.register_script(_TAKE)
        self._block = self.redis.register_script(_BLOCK)
        self.fallback = MemoryStore()

    def _shared(self, call, fallback):
        try:
            return call()
        except self.errors as exc:
            logger.warning("throttle: Redis unavailable (%s); using this process's budget", type(exc).__name__)
            return fallback()

    def take(self, key, now, rate, burst):
        return self._shared(
            lambda: float(self._take(keys=[f"{self.PREFIX}bucket:{key}"], args=[repr(now), rate, burst, _KEY_TTL_MS])),
            lambda: self.fallback.take(key, now, rate, burst),
        )

    def block(self, key, until):
        self.fallback.block(key, until)  # also here: this process must wait even if Redis is gone
        self._shared(
            lambda: self._block(keys=[f"{self.PREFIX}until:{key}"], args=[repr(until), _KEY_TTL_MS]), lambda: None
        )

    def blocked_until(self, key):
        def shared():
            value = self.redis.get(f"{self.PREFIX}until:{key}")
            return float(value) if value else 0.0

        return max(self._shared(shared, lambda: 0.0), self.fallback.blocked_until(key))

    def note_served(self, key, sent, received):
        name = f"{self.PREFIX}served:{key}"

        def shared():
            pipe = self.redis.pipeline(transaction=False)
            pipe.rpush(name, f"{sent!r} {received!r}")
            pipe.ltrim(name, -pacing.LOG_MAX, -1)
            pipe.pexpire(name, _KEY_TTL_MS)
            pipe.execute()

        self._shared(shared, lambda: self.fallback.note_served(key, sent, received))

    def served(self, key, last=pacing.LOG_MAX):
        def shared():
            rows = self.redis.lrange(f"{self.PREFIX}served:{key}", -last, -1) if last else []
            return [tuple(float(x) for x in row.split()) for row in rows]

        return self._shared(shared, lambda: self.fallback.served(key, last))

    def pace(self, key):
        def shared():
            value = self.redis.get(f"{self.PREFIX}pace:{key}")
            return pacing.Pace.from_dict(json.loads(value)) if value else None

        return self._shared(shared, lambda: self.fallback.pace(key))

    def set_pace(self, key, pace):
        name = f"{self.PREFIX}pace:{key}"

        def shared():
            if pace is None:
                self.redis.delete(name)
            else:
                self.redis.set(name, json.dumps(pace.as_dict()), px=_KEY_TTL_MS)

        self._shared(shared, lambda: self.fallback.set_pace(key, pace))

    def clear(self):
        self.fallback.clear()
        for name in self.redis.scan_iter(f"{self.PREFIX}*"):
            self.redis.delete(name)


_default_store = None
_store_lock = threading.Lock()


def default_store():
    """Redis when the broker is Redis, else this process's memory."""
    global _default_store
    with _store_lock:
        if _default_store is None:
            url = settings.CELERY_BROKER_URL or ""
            _default_store = RedisStore(url) if url.startswith(("redis://", "rediss://")) else MemoryStore()
        return _default_store


def reset_default_store():
    """Forget the store (tests point the broker elsewhere)."""
    global _default_store
    with _store_lock:
        _default_store = None


# --- the gate -----------------------------------------------------------------------------


class Throttle:
    def __init__(self, *, rate=None, burst=None, max_attempts=None, max_wait=None, clock=None, store=None, rng=None,
                 learn_pace=True):
        self.rate = float(rate or settings.SYNC_TENANT_RATE)
        self.burst = float(burst or settings.SYNC_TENANT_BURST)
        self.max_attempts = int(max_attempts or settings.SYNC_HTTP_MAX_ATTEMPTS)
        self.max_wait = float(max_wait if max_wait is not None else settings.SYNC_RETRY_AFTER_MAX)
        self.clock = clock or Clock()
        self.store = store or default_store()
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self.forget_after = float(settings.SYNC_PACE_FORGET_AFTER)
        # Off for a limit documented per second (the token bucket is already set under it): a
        # pace learnt from two 429s assumes a window that opened with the first request after
        # the last block, and a per-second limit's occasional 429 (requests that arrive bunched)
        # would pace the key well under its rate.
        self.learn_pace = learn_pace
        self.waited = 0.0  # seconds this throttle slept (figures for the run's log)

    def _sleep(self, seconds):
        if seconds <= 0:
            return
        self.waited += seconds
        hook = _while_waiting.get()
        if hook is None:
            self.clock.sleep(seconds)
            return
        callback, every = hook
        while seconds > 0:
            step = min(every, seconds)
            self.clock.sleep(step)
            seconds -= step
            callback()

    def wait_turn(self, key):
        """Sleep until `key` may be called: past any Retry-After, and a budget token taken."""
        while True:
            now = self.clock.now()
            paced = self._paced_until(key, now) if self.learn_pace else now
            blocked = max(self.store.blocked_until(key), paced) - now
            if blocked > 0:
                if blocked > self.max_wait:
                    raise Throttled(key, blocked)
                give_back_after = _give_back_after.get()
                if give_back_after is not None and blocked > give_back_after:
                    raise GiveBack(key, now + blocked, blocked)
                self._sleep(blocked)
                continue
            wait = self.store.take(key, now, self.rate, self.burst)
            if wait <= 0:
                return
            self._sleep(wait)

    def _paced_until(self, key, now):
        """When the key's learnt pace lets the next request go (now when it has none)."""
        pace = self.store.pace(key)
        if pace is None or now >= pace.expires:
            return now
        return pacing.next_slot(pace, self.store.served(key, pace.limit), now)

    def _learn(self, key, sent, received, retry_after):
        """A 429 with Retry-After: what it says of the key's limit (before the key is blocked,
        while its last block is still the previous one)."""
        pace = self.store.pace(key)
        if pace is not None and received >= pace.expires:
            pace = None
        learnt = pacing.learn(pace, self.store.served(key), sent=sent, received=received,
                              retry_after=retry_after, since=self.store.blocked_until(key),
                              forget_after=self.forget_after)
        self.store.set_pace(key, learnt)
        if learnt is not None:
            logger.info("%s: paced to %d requests per %.2f s", key, learnt.limit, learnt.window)

    def wait_out(self, key, until):
        """A service other than `call`'s asked `key` to wait until `until` (epoch seconds):
        block it for every worker and wait like wait_turn (sleeping with heartbeats, GiveBack
        inside a run when longer than a run holds its worker, Throttled past max_wait)."""
        self.store.block(key, until)
        self.wait_turn(key)

    def send(self, key, call):
        """Run `call()` (one request) politely; returns its last response."""
        window, first_failure, attempt = _outage_window.get(), None, 0

        def last_try():
            nonlocal first_failure
            first_failure = self.clock.now() if first_failure is None else first_failure
            return attempt >= self.max_attempts and self.clock.now() - first_failure >= window

        while True:
            attempt += 1
            self.wait_turn(key)
            sent = self.clock.now()
            try:
                response = call()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last_try():
                    raise
                delay = full_jitter(attempt, self.rng)
                logger.info("%s: %s; retrying in %.2f s", key, type(exc).__name__, delay)
                self._sleep(delay)
                continue
            status = response.status_code
            received = self.clock.now()
            if status != 429 and self.learn_pace:
                self.store.note_served(key, sent, received)  # it counted against the service's limit
            if status not in (429, 500, 502, 503, 504):
                return response
            if last_try():
                return response
            seconds = None
            if status in (429, 503):
                seconds = retry_after_seconds(response.headers.get("Retry-After"), self.clock.now())
            if seconds is not None:
                if status == 429 and self.learn_pace:
                    self._learn(key, sent, received, seconds)
                # Block the key for every worker, then wait in wait_turn like anyone else.
                self.store.block(key, self.clock.now() + seconds)
                logger.info("%s: HTTP %s, Retry-After %.2f s", key, status, seconds)
                if seconds > self.max_wait:
                    raise Throttled(key, seconds)
            else:
                delay = full_jitter(attempt, self.rng)
                logger.info("%s: HTTP %s; retrying in %.2f s", key, status, delay)
                self._sleep(delay)
