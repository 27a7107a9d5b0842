"""Graph endpoints called with a signed-in admin's own delegated token, one typed function each
beside its declaration (connections.endpoints)."""

from dataclasses import dataclass, field

import requests

from .. import http
from ..endpoints import declare
from .graph import GraphError, graph_base

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
    url = f"{graph_base(cloud)}/v1.0/organization"
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
