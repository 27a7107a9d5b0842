"""A small per-IP rate limit for pages anyone can reach (consent links), against guessing."""

import logging
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

logger = logging.getLogger(__name__)


def _client_ip(request):
    return request.META.get("REMOTE_ADDR", "unknown")


def _count(key):
    count = cache.get_or_set(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=90)
        count = 1
    return count


def rate_limited(scope):
    """At most CONSENT_LINK_RATE_LIMIT requests per minute per IP address for `scope`."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            limit = settings.CONSENT_LINK_RATE_LIMIT
            window = int(time.time() // 60)
            key = f"ratelimit:{scope}:{_client_ip(request)}:{window}"
            try:
                count = _count(key)
            except Exception as exc:  # noqa: BLE001 - whatever the cache backend raises when it is down
                # Fail open: a tenant admin must be able to consent while the cache is down; the
                # link's token (long, random, single use) still guards the page. The request's
                # path holds that token, so only the scope and the error's type are logged.
                logger.warning("Rate limit for %s not applied: the cache failed (%s).", scope, type(exc).__name__)
                count = 0
            if count > limit:
                response = render(request, "connections/microsoft/rate_limited.html", status=429)
                response["Retry-After"] = str(60 - int(time.time()) % 60)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
