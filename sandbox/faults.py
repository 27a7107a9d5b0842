"""Faults switched on at run time per tenant or site: throttling, 5xx, latency, short tokens.

Views of both simulated services call `apply(request, target)` first and return its response
when it gives one; token endpoints ask `token_lifetime(target, default)`. Targets are
"tenant:<guid>", "site:<name>", or "*" for everything.
"""

import json
import math
import random
import time

from django.http import HttpResponse

from sandbox.db import atomic

from .models import Fault

Kind = Fault.Kind


def tenant_target(tenant_id) -> str:
    return f"tenant:{tenant_id}"


def site_target(name) -> str:
    return f"site:{name}"


def set_fault(kind, target, **params) -> Fault:
    """Switch a fault on (or change its parameters); the rate-limit window restarts."""
    fault, _ = Fault.objects.update_or_create(
        kind=Kind(kind),
        target=target,
        defaults={"params": params, "window_started": 0, "window_count": 0},
    )
    return fault


def clear(kind=None, target=None) -> int:
    rows = Fault.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    if target:
        rows = rows.filter(target=target)
    return rows.delete()[0]


def _active(target, kind):
    # A fault on the exact target wins over one on "*".
    faults = {f.target: f for f in Fault.objects.filter(kind=kind, target__in=[target, "*"])}
    return faults.get(target) or faults.get("*")


def _json_error(status, code, message, headers=None):
    response = HttpResponse(
        json.dumps({"error": {"code": code, "message": message}}),
        status=status,
        content_type="application/json",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _take_rate_slot(fault):
    """Count one request in the fault's window; seconds to wait when over the limit, else 0."""
    limit = int(fault.params.get("limit", 10))
    window = float(fault.params.get("window", 60))
    with atomic():
        fault = Fault.objects.select_for_update().get(pk=fault.pk)
        now = time.time()
        if now - fault.window_started >= window:
            fault.window_started, fault.window_count = now, 0
        fault.window_count += 1
        fault.save(update_fields=["window_started", "window_count"])
        if fault.window_count > limit:
            return max(1, math.ceil(fault.window_started + window - now))
    return 0


def apply(request, target, error=_json_error):
    """A response standing in for the real one when a fault fires, else None.

    `error(status, code, message, headers)` shapes the body the way the service would.
    """
    faults = {f.kind: f for f in Fault.objects.filter(target__in=[target, "*"]).order_by("target")}
    # order_by("target"): "*" sorts before names, so the exact target overwrites it.
    latency = faults.get(Kind.LATENCY)
    if latency:
        time.sleep(float(latency.params.get("ms", 0)) / 1000)
    rate = faults.get(Kind.RATE_LIMIT)
    if rate:
        wait = _take_rate_slot(rate)
        if wait:
            return error(
                429,
                "TooManyRequests",
                "Too many requests, retry after the time in Retry-After.",
                {"Retry-After": str(wait)},
            )
    failing = faults.get(Kind.ERROR_RATE)
    if failing and random.random() < float(failing.params.get("share", 1)):  # noqa: S311
        status = int(failing.params.get("status", 503))
        return error(
            status,
            "ServiceUnavailable" if status == 503 else "InternalServerError",
            "The service is temporarily unavailable (sandbox fault).",
            # retry_after="" leaves the header out (clients must then back off on their own).
            {"Retry-After": str(failing.params.get("retry_after", "1"))}
            if failing.params.get("retry_after", "1")
            else {},
        )
    return None


def token_lifetime(target, default: int) -> int:
    fault = _active(target, Kind.TOKEN_LIFETIME)
    return int(fault.params.get("seconds", default)) if fault else default


def delta_expiry(target, default: int) -> int:
    fault = _active(target, Kind.DELTA_EXPIRY)
    return int(fault.params.get("seconds", default)) if fault else default


def delta_expiry_status(target) -> int:
    """The status an expired delta token answers: 400 as Microsoft announced, or 410 on request."""
    fault = _active(target, Kind.DELTA_EXPIRY)
    return int(fault.params.get("status", 400)) if fault else 400


def token_throttled(target):
    """Seconds of Retry-After when the target's token endpoint throttles, else None."""
    fault = _active(target, Kind.TOKEN_THROTTLED)
    return int(fault.params.get("retry_after", 60)) if fault else None


def page_limit(target, default: int) -> int:
    """The largest page a list endpoint serves for the target (`page_limit` fault: {"max": N})."""
    fault = _active(target, Kind.PAGE_LIMIT)
    return max(1, int(fault.params.get("max", default))) if fault else default


def consent_declined(target) -> bool:
    return _active(target, Kind.CONSENT_DECLINED) is not None
