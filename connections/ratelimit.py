"""Rate limits for pages anyone can reach (consent links), against guessing.

Two budgets per minute: one per client (CONSENT_LINK_RATE_LIMIT, the client's address as
portal/client_ip.py works it out) and one per link (CONSENT_LINK_RATE_LIMIT_PER_LINK). A
guesser tries a new token each time, so only their own client budget runs out; an admin
holding a real link spends their own budget and that link's, which no guesser touches. A
request refused on its client budget is not counted against the link, so one client can
never use up a link's budget by itself while the link's is larger than a client's.
"""

import hashlib
import logging
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

from portal.client_ip import client_ip

logger = logging.getLogger(__name__)


def _count(key):
    """This minute's count under `key`, this request included."""
    cache.get_or_set(key, 0, timeout=90)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=90)
        return 1


def _link_key(token):
    # The cache never holds a usable link: only a digest of it.
    return hashlib.sha256(str(token).encode()).hexdigest()[:32]


def rate_limited(scope, *, link_kwarg="token"):
    """At most CONSENT_LINK_RATE_LIMIT requests per minute per client and
    CONSENT_LINK_RATE_LIMIT_PER_LINK per link (the view's `link_kwarg`) for `scope`."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            window = int(time.time() // 60)
            budgets = [(f"ratelimit:{scope}:client:{client_ip(request) or 'unknown'}:{window}",
                        settings.CONSENT_LINK_RATE_LIMIT)]
            if kwargs.get(link_kwarg) is not None:
                budgets.append((f"ratelimit:{scope}:link:{_link_key(kwargs[link_kwarg])}:{window}",
                                settings.CONSENT_LINK_RATE_LIMIT_PER_LINK))
            for key, limit in budgets:
                try:
                    count = _count(key)
                except Exception as exc:  # noqa: BLE001 - whatever the cache backend raises when it is down
                    # Fail open: a tenant admin must be able to consent while the cache is down; the
                    # link's token (long, random, single use) still guards the page. The request's
                    # path holds that token, so only the scope and the error's type are logged.
                    logger.warning("Rate limit for %s not applied: the cache failed (%s).", scope, type(exc).__name__)
                    break
                if count > limit:
                    response = render(request, "connections/microsoft/rate_limited.html", status=429)
                    response["Retry-After"] = str(60 - int(time.time()) % 60)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
