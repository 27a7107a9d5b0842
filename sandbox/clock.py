"""The sandbox's clock: the real time plus an offset that tests (and the admin) can move forward,
so expiries measured in days (Atlassian's 90-day and 365-day refresh tokens) can be reached in
a test. The offset is a `clock` fault on "*" ({"seconds": N}), so every process serving the
sandbox reads the same time."""

import time

from .models import Fault


def offset() -> float:
    fault = Fault.objects.filter(kind=Fault.Kind.CLOCK, target="*").first()
    return float(fault.params.get("seconds", 0)) if fault else 0.0


def now() -> float:
    """Seconds since the epoch, as the sandbox sees them."""
    return time.time() + offset()


def advance(seconds: float) -> float:
    """Move the sandbox's clock forward by `seconds` (cumulative); the new offset."""
    moved = offset() + float(seconds)
    Fault.objects.update_or_create(kind=Fault.Kind.CLOCK, target="*", defaults={"params": {"seconds": moved}})
    return moved
