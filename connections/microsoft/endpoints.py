"""Every Microsoft Graph endpoint the portal calls: one typed function each, its declaration beside it.

The functions build the path and the query (`$select`, `$top`) and nothing else: the `Graph`
transport (connections.microsoft.graph) adds the token, the throttle, paging and errors. Callers
use these functions only, so what the portal asks Graph for, with which permission, and which
fields it reads and keeps, is written down here once (connections.endpoints).

A paged function yields Graph's pages as they come (each with `value`, and perhaps
`@odata.nextLink` / `@odata.deltaLink`); given `next_link`, it goes on from a link Graph handed
back earlier (a checkpoint), which carries the query itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from .. import http
from ..endpoints import declare

# Incident chats and meetings declare their endpoints in a module of their own, registered
# first: its "/v1.0/users/{user_id}" also matches users/delta, and of two declarations that
# match one request the later answers (connections.endpoints.find).
from . import chats as _chats  # noqa: F401
from .graph import Graph, GraphError, graph_base

Page = dict[str, Any]

# --- users ------------------------------------------------------------------------------------

USERS = declare(
    "graph.users",
    "GET",
    "/v1.0/users",
    permissions=("User.Read.All",),
    reads=("id",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/user-list
    reference="https://learn.microsoft.com/graph/api/user-list",
    purpose="Health check: read one user (id only) with the app-only token.",
)


def users_first_page(graph: Graph, *, top: int = 1) -> Page:
    """The first page of the tenant's users, ids only."""
    return graph.get(USERS.path, {"$top": top, "$select": "id"})


USER_NAMES = declare(
    "graph.users_by_id",
    "GET",
    "/v1.0/users",
    permissions=("User.Read.All",),
    reads=("id", "displayName", "userPrincipalName"),
    keeps=(),  # shown on the page that asked, never stored
    # Reference: https://learn.microsoft.com/graph/api/user-list
    # Reference: https://learn.microsoft.com/graph/filter-query-parameter (at most 15 `in` values)
    reference="https://learn.microsoft.com/graph/api/user-list",
    purpose="User mapping page: the name and sign-in name of the matched Microsoft users on the page shown.",
)
USER_NAMES_PER_REQUEST = 15


def users_by_id(graph: Graph, ids: Sequence[str]) -> Page:
    """The users among `ids` (at most 15, Graph's limit on a filter's expressions) that exist."""
    if len(ids) > USER_NAMES_PER_REQUEST:
        raise ValueError(f"at most {USER_NAMES_PER_REQUEST} ids per request")
    listed = ",".join("'" + i.replace("'", "''") + "'" for i in ids)
    return graph.get(USER_NAMES.path, {"$filter": f"id in ({listed})", "$select": ",".join(USER_NAMES.reads)})


USER_FIELDS = ("id", "mail", "userPrincipalName", "proxyAddresses")

USERS_DELTA = declare(
    "graph.users_delta",
    "GET",
    "/v1.0/users/delta",
    permissions=("User.Read.All",),
    reads=USER_FIELDS,
    keeps=("id",),  # email addresses only as keyed digests, unless the organization stores them
    # Reference: https://learn.microsoft.com/graph/api/user-delta
    # Reference: https://learn.microsoft.com/graph/delta-query-overview ("sync from now": $deltatoken=latest)
    reference="https://learn.microsoft.com/graph/api/user-delta",
    purpose="User matching: a deltaLink for now, taken as a full run starts, then only the users that changed.",
)


def users_delta_page(graph: Graph, link: str) -> Page:
    """The page of users/delta a nextLink/deltaLink names (it carries the round's `$select`)."""
    return graph.get(link)


def users_delta_now(graph: Graph) -> Page:
    """users/delta with `$deltatoken=latest`: no users, and a deltaLink from this moment on
    (Graph's "sync from now" for directory objects) that carries the `$select`."""
    return graph.get(USERS_DELTA.path, {"$select": ",".join(USER_FIELDS), "$deltatoken": "latest"})


USERS_DIRECTORY = declare(
    "graph.users_directory",
    "GET",
    "/v1.0/users",
    permissions=("User.Read.All",),
    reads=USER_FIELDS,
    keeps=("id",),  # email addresses only as keyed digests, unless the organization stores them
    # Reference: https://learn.microsoft.com/graph/api/user-list ($top: 1 to 999)
    reference="https://learn.microsoft.com/graph/api/user-list",
    purpose="User matching, full runs: every user's addresses, 999 to a page.",
)


def users_page(graph: Graph, *, top: int, link: str | None = None) -> Page:
    """One page of the tenant's users with the addresses matching reads: the first (`$select`,
    `$top`), or the page a nextLink names (it carries the query)."""
    if link:
        return graph.get(link)
    return graph.get(USERS_DIRECTORY.path, {"$select": ",".join(USER_FIELDS), "$top": str(top)})


# --- teams and channels -----------------------------------------------------------------------

JOINED_TEAMS = declare(
    "graph.joined_teams",
    "GET",
    "/v1.0/me/joinedTeams",
    permissions=("Team.ReadBasic.All",),
    # The endpoint takes no $select; Graph fills only these fields.
    reads=("id", "displayName", "description"),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/user-list-joinedteams
    reference="https://learn.microsoft.com/graph/api/user-list-joinedteams",
    purpose="Health check of the delegated sign-in: the teams the signed-in admin has joined.",
)


def joined_teams(graph: Graph) -> Page:
    """The teams the signed-in user (a delegated token) has joined."""
    return graph.get(JOINED_TEAMS.path)


TEAM_FIELDS = ("id", "displayName", "visibility")

TEAMS = declare(
    "graph.teams",
    "GET",
    "/v1.0/teams",
    permissions=("Team.ReadBasic.All",),
    reads=TEAM_FIELDS,
    keeps=TEAM_FIELDS,
    # Reference: https://learn.microsoft.com/graph/api/teams-list
    reference="https://learn.microsoft.com/graph/api/teams-list",
    purpose="Teams directory: every team of the tenant (app-only).",
)


def teams_pages(
    graph: Graph, *, top: int, fields: Sequence[str] = TEAM_FIELDS, next_link: str | None = None
) -> Iterator[Page]:
    """The tenant's teams, a page at a time, with only `fields` (a subset of TEAM_FIELDS)."""
    if next_link:
        return graph.pages(next_link)
    return graph.pages(TEAMS.path, {"$select": ",".join(fields), "$top": top})


CHANNEL_FIELDS = ("id", "displayName", "membershipType")

CHANNELS = declare(
    "graph.channels",
    "GET",
    "/v1.0/teams/{team_id}/channels",
    permissions=("Channel.ReadBasic.All",),
    reads=CHANNEL_FIELDS,
    keeps=CHANNEL_FIELDS,
    # Reference: https://learn.microsoft.com/graph/api/channel-list
    reference="https://learn.microsoft.com/graph/api/channel-list",
    purpose="Teams directory: the channels of each team.",
)


def channels_pages(graph: Graph, team_id: str, *, fields: Sequence[str] | None = CHANNEL_FIELDS) -> Iterator[Page]:
    """A team's channels, a page at a time; `fields=None` asks for Graph's default fields."""
    params = {"$select": ",".join(fields)} if fields else None
    return graph.pages(CHANNELS.path.format(team_id=team_id), params)


CHANNEL_MESSAGES = declare(
    "graph.channel_messages",
    "GET",
    "/v1.0/teams/{team_id}/channels/{channel_id}/messages",
    permissions=("ChannelMessage.Read.All",),
    # The endpoint takes only $top and $expand: Graph returns whole messages, the portal reads these.
    reads=("id", "messageType", "replyToId", "createdDateTime", "from", "mentions", "body"),
    keeps=("id", "from.user.id", "mentions.mentioned.user.id", "createdDateTime", "body.content"),
    # Reference: https://learn.microsoft.com/graph/api/channel-list-messages
    reference="https://learn.microsoft.com/graph/api/channel-list-messages",
    purpose="Channel messages: root messages of a channel, newest first (the body only with channel knowledge).",
)


def channel_messages_pages(
    graph: Graph, team_id: str, channel_id: str, *, top: int, next_link: str | None = None
) -> Iterator[Page]:
    """A channel's root messages, a page at a time (Graph documents no order: the health check
    reads one, the job reads the delta function)."""
    if next_link:
        return graph.pages(next_link)
    return graph.pages(CHANNEL_MESSAGES.path.format(team_id=team_id, channel_id=channel_id), {"$top": top})


CHANNEL_MESSAGES_DELTA = declare(
    "graph.channel_messages_delta",
    "GET",
    "/v1.0/teams/{team_id}/channels/{channel_id}/messages/delta",
    permissions=("ChannelMessage.Read.All",),
    # Like the list, the delta function takes no $select: Graph returns whole messages.
    reads=("id", "messageType", "replyToId", "createdDateTime", "lastModifiedDateTime", "from", "mentions", "body"),
    keeps=("id", "from.user.id", "mentions.mentioned.user.id", "createdDateTime", "body.content"),
    # Reference: https://learn.microsoft.com/graph/api/chatmessage-delta
    reference="https://learn.microsoft.com/graph/api/chatmessage-delta",
    purpose="Channel messages: a channel's root messages added or changed since the last pass "
    "(the body only with channel knowledge).",
)


def channel_messages_delta_pages(
    graph: Graph,
    team_id: str,
    channel_id: str,
    *,
    top: int,
    modified_after: str | None = None,
    next_link: str | None = None,
) -> Iterator[Page]:
    """A channel's root messages through the delta function (v1.0), a page at a time: all of
    them, or only those changed after `modified_after` (`$filter=lastModifiedDateTime gt …`,
    which the delta function takes on its first request). The last page carries the deltaLink."""
    if next_link:
        return graph.pages(next_link)
    params: dict[str, Any] = {"$top": top}
    if modified_after:
        params["$filter"] = f"lastModifiedDateTime gt {modified_after}"
    return graph.pages(CHANNEL_MESSAGES_DELTA.path.format(team_id=team_id, channel_id=channel_id), params)


# --- Microsoft Search -------------------------------------------------------------------------

EXTERNAL_CONNECTIONS = declare(
    "graph.external_connections",
    "GET",
    "/v1.0/external/connections",
    permissions=("ExternalConnection.ReadWrite.OwnedBy",),
    reads=("id",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-list
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-list",
    purpose="Health check: the Microsoft Search connections the portal's app owns.",
)


def external_connections(graph: Graph) -> Page:
    """The Microsoft Search connections the portal's app owns (harmless: nothing else is listed)."""
    return graph.get(EXTERNAL_CONNECTIONS.path)


# --- as the signed-in user (a token of their own, no connection yet) ------------------------

ORGANIZATION = declare(
    "graph.organization", "GET", "/v1.0/organization",
    # Least privileged: delegated User.Read, which reads only id, displayName and verifiedDomains;
    # GET /domains would need Domain.Read.All, a permission no feature otherwise uses.
    permissions=("User.Read",),
    reads=("id", "displayName", "verifiedDomains"),
    keeps=("displayName", "verifiedDomains"),
    reference="https://learn.microsoft.com/graph/api/organization-list",
    purpose="The tenant's name and verified domains, read as the admin who signs in.",
)
TIMEOUT = 20


@dataclass(frozen=True)
class TenantOrganization:
    tenant_id: str
    display_name: str
    # [{"name": ..., "verified": True, "default": bool, "initial": bool}], as Microsoft lists them.
    domains: list[dict] = field(default_factory=list)


def organization(*, access_token: str, cloud: str = "public") -> TenantOrganization:
    """The signed-in user's own tenant: its id, name and verified domains."""
    # Reference: https://learn.microsoft.com/graph/api/organization-list
    url = f"{graph_base(cloud)}{ORGANIZATION.path}"
    try:
        with http.session() as session:
            response = session.get(
                url, params={"$select": "id,displayName,verifiedDomains"},
                headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT,
            )
    except requests.RequestException as exc:
        raise GraphError(0, "unreachable", f"could not reach Microsoft Graph ({type(exc).__name__})") from exc
    if response.status_code >= 400:
        raise GraphError(response.status_code, "organization", "Microsoft Graph refused to read the organization")
    try:
        value = (response.json().get("value") or [{}])[0]
    except (ValueError, AttributeError, IndexError) as exc:
        raise GraphError(response.status_code, "invalidJson", "Graph's answer was not JSON") from exc
    domains = [
        {"name": str(d.get("name", "")).lower(), "verified": True, "default": bool(d.get("isDefault")),
         "initial": bool(d.get("isInitial"))}
        for d in value.get("verifiedDomains") or [] if isinstance(d, dict) and d.get("name")
    ]
    return TenantOrganization(tenant_id=str(value.get("id", "")), display_name=str(value.get("displayName", "")),
                              domains=sorted(domains, key=lambda d: (not d["default"], d["name"])))


# Intune app protection's and Microsoft Search's endpoints live in modules of their own; importing
# them here registers their declarations wherever the Graph endpoints are (consent pages,
# statement, request log).
from . import intune_endpoints as _intune_endpoints  # noqa: E402,F401
from . import search_endpoints  # noqa: E402, F401
