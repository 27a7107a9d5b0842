"""The service's limit, learnt from its 429s, so that a throttled key is paced just under it
instead of meeting one 429 and a rounded-up Retry-After per window.

Microsoft Graph throttles "N requests per T seconds" per app and tenant and answers 429 with a
Retry-After in whole seconds (https://learn.microsoft.com/graph/throttling and
https://learn.microsoft.com/graph/throttling-limits, whose limits all count whole seconds: 10,
20, 30, 150, 300...). Honouring Retry-After alone loses up to a second per window to the rounding,
and one request per window is refused.

From a 429 (sent at `sent`, answered at `received`, Retry-After R) after `limit` requests were
served since the key came out of the block the 429 before it asked for (the first of them, sent
at a0 and answered at a1, opened the window), the service closes that window no later than
received + R and after sent + R - 1. So the window lasts more than sent + R - 1 - a1 and at most received + R - a0.
The pace is `limit` requests per `window` seconds, a sliding log: a request goes no earlier than
`window` after the answer to the `limit`-th request before it. The window chosen is the smallest
whole number of seconds inside those bounds (Graph's limits are whole seconds), else the upper
bound. A 429 met while paced says the window is longer than the one chosen: the bounds narrow and
the next whole second is tried; bounds that contradict each other (the limit is smaller, or
another client spends the same budget) are dropped and the pace is learnt again from this 429. A pace is forgotten
SYNC_PACE_FORGET_AFTER seconds after it was learnt, so a key speeds up once throttling ends.
Retry-After is honoured whatever the pace says (connections.throttle blocks the key).
"""

import math
from dataclasses import asdict, dataclass

# A pause longer than this between two served requests starts a new run of requests: the
# requests before it are not counted in the window the next 429 closes.
QUIET_GAP = 1.0
# Served requests remembered per key (sent, answered): a limit above this is not paced.
LOG_MAX = 512


@dataclass(frozen=True)
class Pace:
    limit: int  # requests per window
    window: float  # seconds: the window paced to
    low: float  # the service's window is known to be longer than this...
    high: float  # ...and no longer than this
    expires: float  # epoch seconds: forgotten then

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Pace":
        return cls(
            int(data["limit"]), float(data["window"]), float(data["low"]), float(data["high"]), float(data["expires"])
        )


def _window(low: float, high: float) -> float:
    """The smallest whole number of seconds longer than `low` and at most `high`, else `high`."""
    whole = math.floor(low) + 1.0
    return whole if whole <= high else high


def _episode(served: list[tuple[float, float]], since: float) -> list[tuple[float, float]]:
    """The served requests (sent, answered) of the latest run of requests: sent at or after `since`
    (the end of the last block) and after the last pause longer than QUIET_GAP (a pause cuts what
    came before it off: those requests may not be in the window)."""
    start = len(served)
    while start > 0:
        sent, _received = served[start - 1]
        if sent < since:
            break
        if start < len(served) and served[start][0] - served[start - 1][1] > QUIET_GAP:
            break
        start -= 1
    return served[start:]


def learn(
    pace: Pace | None,
    served: list[tuple[float, float]],
    *,
    sent: float,
    received: float,
    retry_after: float,
    since: float,
    forget_after: float,
) -> Pace | None:
    """The pace after a 429 (see the module's docstring). `served`: the key's served requests,
    oldest first; `since`: when the key's last block ended (0 if none)."""
    expires = received + forget_after
    if pace is not None and len(served) >= pace.limit:
        # Paced, and refused all the same: the window is longer than the one paced to.
        anchor_sent, anchor_received = served[-pace.limit]
        low = max(pace.low, pace.window, sent + retry_after - 1 - anchor_received)
        high = min(pace.high, received + retry_after - anchor_sent)
        if low < high:
            return Pace(pace.limit, _window(low, high), low, high, pace.expires)
        # No window fits `limit` requests: the limit is smaller (or another client spends the
        # same budget). Learn both again from the requests this 429 ended.
    # Learnt only between two 429s: from the requests served since the last block ended, all of
    # them one run of requests. A lone 429 (a spike, an outage) paces nothing.
    if not since or (served and sent - served[-1][1] > QUIET_GAP):
        return None
    episode = _episode(served, since)
    if not episode or len(episode) > LOG_MAX - 1 or len(episode) != sum(1 for s, _r in served if s >= since):
        return None
    first_sent, first_received = episode[0]
    low = max(0.0, sent + retry_after - 1 - first_received)
    high = received + retry_after - first_sent
    return Pace(len(episode), _window(low, high), low, high, expires)


def next_slot(pace: Pace | None, served: list[tuple[float, float]] | None, now: float) -> float:
    """When the next request may go under `pace` (epoch seconds; `now` or earlier: at once).
    `served` needs only the last pace.limit entries."""
    if pace is None or now >= pace.expires or not served or len(served) < pace.limit:
        return now
    return served[-pace.limit][1] + pace.window
