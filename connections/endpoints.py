"""Declarations of every outbound call the portal makes.

Each Graph or Atlassian endpoint the portal calls is one typed function in its provider's client
package, and next to it one `Endpoint` declaring what the call is: its method and path, the
permission (or Atlassian scope) it relies on, the fields it reads and the fields the portal keeps.

    TEAMS = declare(
        "graph.teams", "GET", "/v1.0/teams",
        permissions=("Team.ReadBasic.All",), reads=("id", "displayName"), keeps=("id", "displayName"),
        reference="https://learn.microsoft.com/graph/api/teams-list",
    )

The declarations are what the consent pages and the data-handling statement are generated from,
what a 403 remedy names (Microsoft's 403 bodies do not name the missing permission), and what the
suite holds the sandbox's request log to: a call that matches no declaration is a defect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

GRAPH = "graph"
JIRA = "jira"
CONFLUENCE = "confluence"
JSM = "jsm"
ATLASSIAN = "atlassian"  # Atlassian's own APIs (accessible resources, admin API)
IDENTITY = "identity"  # Microsoft identity platform (tokens, discovery)
BOT = "bot"  # the Bot Framework connector (a Teams app's bot posting into a conversation)

PROVIDERS = (GRAPH, JIRA, CONFLUENCE, JSM, ATLASSIAN, IDENTITY, BOT)

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@dataclass(frozen=True)
class Endpoint:
    """One outbound endpoint and what the portal does with it."""

    key: str
    method: str
    path: str  # a template: "/v1.0/teams/{team_id}/channels"
    provider: str
    # Any one of these suffices (Graph's "least to most privileged" list, or Atlassian scopes).
    permissions: tuple[str, ...]
    reads: tuple[str, ...]
    keeps: tuple[str, ...]
    reference: str
    purpose: str = ""
    beta: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _PLACEHOLDER.split(self.path)
        regex = "[^/]+".join(re.escape(part) for part in parts)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$"))

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and bool(self.pattern.match(path))


_REGISTRY: dict[str, Endpoint] = {}


def declare(
    key: str,
    method: str,
    path: str,
    *,
    permissions: tuple[str, ...],
    reads: tuple[str, ...] = (),
    keeps: tuple[str, ...] = (),
    reference: str,
    purpose: str = "",
    provider: str | None = None,
) -> Endpoint:
    """Declare (and register) one endpoint; the declaration sits next to its function."""
    if provider is None:
        provider = key.split(".", 1)[0]
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r} for endpoint {key}")
    if not reference.startswith("https://"):
        raise ValueError(f"endpoint {key} needs a reference to the vendor's documentation")
    endpoint = Endpoint(
        key=key,
        method=method.upper(),
        path=path,
        provider=provider,
        permissions=tuple(permissions),
        reads=tuple(reads),
        keeps=tuple(keeps),
        reference=reference,
        purpose=purpose,
        beta=path.startswith("/beta/"),
    )
    existing = _REGISTRY.get(key)
    if existing is not None and existing != endpoint:
        raise ValueError(f"endpoint {key} declared twice, differently")
    _REGISTRY[key] = endpoint
    return endpoint


def all_endpoints() -> list[Endpoint]:
    """Every declared endpoint (the provider client modules must have been imported)."""
    return sorted(_REGISTRY.values(), key=lambda e: e.key)


def find(provider: str, method: str, path: str, reads: Iterable[str] = ()) -> Endpoint | None:
    """The declaration a request (method + URL path, no query) belongs to, if any. Where two
    declare the same call, the later one (the more specific use) answers, unless `reads` (the
    fields the request selected) tells them apart: then the latest whose reads cover them."""
    matching = [e for e in reversed(_REGISTRY.values()) if e.provider == provider and e.matches(method, path)]
    wanted = set(reads)
    return next((e for e in matching if wanted <= set(e.reads)), matching[0] if matching else None)
