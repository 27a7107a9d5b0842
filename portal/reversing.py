"""Addresses of pages named by one integer id, as `reverse()` makes them, at a fraction of its cost.

A list of 50 connections links each row to its page; `{% url %}` spends most of a row's time
in `reverse()`, which matches its arguments against the route again for every row. The address of
`name` with id N is the same text around N for every N, so it is reversed once (with a stand-in
id) per URLconf and script prefix, and each row only puts its id in.
"""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# A stand-in id no real id collides with in the reversed text (it is split on, once).
_STAND_IN = 8_642_097_531_864_209


@lru_cache(maxsize=512)
def _around(urlconf: str, prefix: str, name: str) -> tuple[str, str] | None:
    """The text before and after the id in `name`'s address, or None when the route is not a
    plain integer one (then every call asks reverse(), which also says what is wrong)."""
    address = reverse(name, urlconf=urlconf, args=[_STAND_IN])
    text = str(_STAND_IN)
    if address.count(text) != 1:
        return None
    before, _, after = address.partition(text)
    return before, after


def id_url(name: str, pk: int | str) -> str:
    """`reverse(name, args=[pk])` for a route whose only argument is an `<int:...>` id."""
    number = int(pk)
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    around = _around(urlconf, get_script_prefix(), name) if number >= 0 else None
    if around is None:
        return reverse(name, urlconf=urlconf, args=[pk])
    return f"{around[0]}{number}{around[1]}"
