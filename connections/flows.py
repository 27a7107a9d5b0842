"""OAuth flow state, kept in the browser's session between the redirect and the callback.

Both providers' flows (Microsoft consent, Atlassian authorization) keep what a callback needs
under the OAuth `state` it carries, in this browser's session: a callback whose state this
browser did not start finds nothing and changes nothing. An entry is popped when its callback
comes (usable once); a browser keeps at most a few flows under way, the oldest dropped first,
and a stash with a time limit forgets flows older than that.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

Entry = dict[str, Any]


class FlowStash:
    """The flows one kind of sign-in has under way in a browser's session."""

    def __init__(self, session_key: str, *, max_flows: int = 5, ttl: float | None = None) -> None:
        self.session_key = session_key
        self.max_flows = max_flows
        self.ttl = ttl  # seconds a flow may take, or None: until the session ends

    def _fresh(self, entry: Entry) -> bool:
        return self.ttl is None or entry.get("started", 0) > time.time() - self.ttl

    def remember(self, request: HttpRequest, state: str, entry: Entry) -> None:
        """Keep `entry` for the callback that will carry `state`."""
        flows = {k: v for k, v in request.session.get(self.session_key, {}).items() if self._fresh(v)}
        flows[state] = {**entry, "started": time.time()} if self.ttl is not None else entry
        request.session[self.session_key] = dict(list(flows.items())[-self.max_flows:])

    def take(self, request: HttpRequest, state: str | None) -> Entry | None:
        """The flow this browser started with `state`, popped (usable once); None when there is
        none, or it is older than the time limit."""
        flows = request.session.get(self.session_key, {})
        entry = flows.pop(state, None) if state else None
        request.session[self.session_key] = flows
        if entry is None or not self._fresh(entry):
            return None
        return entry
