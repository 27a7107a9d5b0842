"""Reads for the user mapping page that go beyond the portal's own rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..microsoft import endpoints as graph_endpoints
from ..microsoft.graph import Graph, GraphError, NotConsented
from ..models import Connection
from ..throttle import Throttle, Throttled

logger = logging.getLogger(__name__)


@dataclass
class MicrosoftNames:
    """Display name and sign-in name per Microsoft user id, for the rows on one page; `problem`
    says why some or all could not be read (the page then shows the ids alone)."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    problem: str = ""


def microsoft_user_names(connection: Connection, ids: Sequence[str]) -> MicrosoftNames:
    """Ask Microsoft, at the moment of showing, for the names of the users on the page: the
    portal stores only their ids (see the data-handling statement), so the names are read live,
    at most 15 per request (Graph's filter limit), and never kept. A page view never waits out
    throttling: it shows what it has and says why the rest is missing."""
    wanted = sorted({i for i in ids if i})
    result = MicrosoftNames()
    if not wanted:
        return result
    try:
        graph = Graph(connection, throttle=Throttle(max_attempts=1, max_wait=0))
        for start in range(0, len(wanted), graph_endpoints.USER_NAMES_PER_REQUEST):
            chunk = wanted[start : start + graph_endpoints.USER_NAMES_PER_REQUEST]
            for user in graph_endpoints.users_by_id(graph, chunk).get("value", []):
                name, upn = user.get("displayName") or "", user.get("userPrincipalName") or ""
                result.names[str(user.get("id", ""))] = (name, upn)
    except NotConsented:
        result.problem = "Names are shown once the tenant's admin has granted this connection's permissions."
    except (GraphError, Throttled) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        logger.info("user names not read for connection %s: %s", connection.pk, code)
        result.problem = "Microsoft did not give the users' names just now; the ids are shown. Reload to try again."
    return result
