"""Offset paging in O(1) per page.

Jira pages its user lists by offset (`startAt`), and a database answers OFFSET n by walking n
rows, so page k of a 50,000-account site cost k times the first. Clients page in order, each
request starting where the last page ended, so the sandbox remembers, for the offset just past
each page it served, the sort key of that page's last row: the next page is then a keyset query
(`account_id > key`, one index seek). The answer is the one OFFSET would give as long as the
site's members have not changed; a change clears what was remembered:
- a new account or membership raises the tables' highest id, which every lookup compares
  (an index lookup, O(1)),
- changing an account's sites through the ORM clears the index (m2m_changed), and so does
  seeding,
- a remembered anchor that is no longer a member is ignored.
(No post_delete receiver on Account: it would turn the seed's bulk delete into a row-by-row one.)
An offset without a hint (a client jumping ahead) falls back to OFFSET.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.db.models.signals import m2m_changed

from .models import Account

_LIMIT = 10_000  # remembered hints; the oldest go first


class OffsetIndex:
    def __init__(self, limit: int = _LIMIT) -> None:
        self._lock = threading.Lock()
        self._hints: OrderedDict[tuple, str] = OrderedDict()
        self._limit = limit

    def anchor(self, key: tuple, start: int) -> str | None:
        with self._lock:
            return self._hints.get((*key, start))

    def remember(self, key: tuple, start: int, last_sort_key: str) -> None:
        with self._lock:
            self._hints[(*key, start)] = last_sort_key
            self._hints.move_to_end((*key, start))
            while len(self._hints) > self._limit:
                self._hints.popitem(last=False)

    def clear(self, *args, **kwargs) -> None:
        with self._lock:
            self._hints.clear()


members = OffsetIndex()


def generation() -> tuple[int, int]:
    """The highest account and membership ids: any insert raises one of them (two index lookups)."""
    through = Account.sites.through
    top_account = Account.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    top_member = through.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return top_account, top_member


m2m_changed.connect(members.clear, sender=Account.sites.through, dispatch_uid="sandbox-atlassian-offsets-sites")
