"""Every Organizations REST API endpoint the portal calls: one typed function each, its
declaration beside it (connections.endpoints)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from ..endpoints import ATLASSIAN, declare
from . import client

DOMAINS = declare(
    "atlassian.admin_domains", "GET", "/admin/v1/orgs/{org_id}/domains",
    provider=ATLASSIAN,
    permissions=("read:domains:admin",),
    reads=("id", "attributes.name", "attributes.claim.type", "attributes.claim.status", "links.next"),
    keeps=("id", "attributes.name", "attributes.claim.status"),
    reference="https://developer.atlassian.com/cloud/admin/organization/rest/api-group-domains/#api-v1-orgs-orgid-domains-get",
    purpose="The Atlassian organization's claimed domains and their verification, a page at a time.",
)


@dataclass(frozen=True)
class OrgDomain:
    id: str
    name: str
    claim_type: str
    status: str  # verified | unverified | superseded | missing_token | deleted


def domains(org_id: str, api_key: str, *, max_pages: int = 100) -> Iterator[OrgDomain]:
    """Every domain of the organization, following `links.next` (the cursor)."""
    url: str | None = client.api_base() + DOMAINS.path.format(org_id=quote(org_id, safe=""))
    pages = 0
    while url and pages < max_pages:
        body, _ = client.get(url, api_key)
        pages += 1
        for item in body.get("data") or []:
            attributes = item.get("attributes") or {}
            claim = attributes.get("claim") or {}
            yield OrgDomain(id=str(item.get("id", "")), name=str(attributes.get("name", "")).lower(),
                            claim_type=str(claim.get("type", "")), status=str(claim.get("status", "")))
        url = (body.get("links") or {}).get("next") or None
