"""Cursor paging like Confluence v2: an opaque cursor over an indexed id column, the next
link given both in `_links.next` and in a `Link` header (rel="next" first)."""

import base64
from urllib.parse import urlencode

DEFAULT_LIMIT = 25
MAX_LIMIT = 250


def limit_of(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT):
    try:
        value = int(request.GET.get("limit", default))
    except ValueError:
        return None
    return value if 1 <= value <= maximum else None if value < 1 else maximum


def decode_cursor(request):
    cursor = request.GET.get("cursor")
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode().removeprefix("after:"))
    except ValueError:
        return None


def encode_cursor(last_id) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def page_by_key(queryset, request, key, limit):
    """(rows, next_cursor or None) keyset-paged on `key` (a unique, indexed, ordered column)."""
    after = decode_cursor(request)
    rows = list(queryset.filter(**{f"{key}__gt": after}).order_by(key)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(getattr(rows[-1], key)) if more and rows else None)


def next_link(path, request, cursor):
    """The relative next link, as the real v2 API gives it (path from /wiki, same query + cursor)."""
    query = {k: v for k, v in request.GET.items() if k != "cursor"}
    query["cursor"] = cursor
    return f"{path}?{urlencode(query)}"


def with_links(response, next_url, base):
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next", <{base}>; rel="base"'
    return response
