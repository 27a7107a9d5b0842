"""From Confluence to Graph: the schema to register, one SourceItem as one externalItem, and its
ACL in Entra terms. Pure functions: the crawl (crawl.py) and the preview call them alike, so the
preview shows exactly what would be sent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..models import ALWAYS_ON, SearchConnection
from .types import Person, Principal, SourceItem

# The schema every chosen property is registered with (A.3 of the connector's design).
# Rules: https://learn.microsoft.com/graph/connecting-external-content-manage-schema
# Only strings are searchable; refinable ones are not searchable; labelled ones are retrievable.
SCHEMA_PROPERTIES: dict[str, dict[str, Any]] = {
    "title": {"type": "String", "isSearchable": True, "isQueryable": True, "isRetrievable": True,
              "labels": ["title"]},
    "url": {"type": "String", "isRetrievable": True, "labels": ["url"]},
    "iconUrl": {"type": "String", "isRetrievable": True, "labels": ["iconUrl"]},
    "createdBy": {"type": "String", "isSearchable": True, "isQueryable": True, "isRetrievable": True,
                  "labels": ["createdBy"]},
    "lastModifiedBy": {"type": "String", "isSearchable": True, "isQueryable": True, "isRetrievable": True,
                       "labels": ["lastModifiedBy"]},
    "authors": {"type": "StringCollection", "isSearchable": True, "isQueryable": True, "isRetrievable": True,
                "labels": ["authors"]},
    "createdDateTime": {"type": "DateTime", "isQueryable": True, "isRetrievable": True, "isRefinable": True,
                        "labels": ["createdDateTime"]},
    "lastModifiedDateTime": {"type": "DateTime", "isQueryable": True, "isRetrievable": True, "isRefinable": True,
                             "labels": ["lastModifiedDateTime"]},
    "spaceName": {"type": "String", "isSearchable": True, "isRetrievable": True, "labels": ["containerName"]},
    "spaceKey": {"type": "String", "isQueryable": True, "isRetrievable": True, "isRefinable": True},
    "contentType": {"type": "String", "isQueryable": True, "isRetrievable": True, "isRefinable": True},
}

# Graph's item limit applies to the whole request body.
# Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits
MAX_ITEM_BYTES = 4_000_000
_ITEM_ID_SAFE = re.compile(r"[^A-Za-z0-9]")


def chosen(properties: Iterable[str]) -> list[str]:
    """The admin's choice in schema order, title and url always in."""
    wanted = set(properties) | set(ALWAYS_ON)
    return [name for name in SCHEMA_PROPERTIES if name in wanted]


def schema(properties: Iterable[str], registered: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The schema to PATCH: what is registered already (Graph can only extend a schema) plus the
    admin's choice."""
    names = set(chosen(properties)) | set(registered)
    return [{"name": name, **SCHEMA_PROPERTIES[name]} for name in SCHEMA_PROPERTIES if name in names]


def item_id(kind: str, content_id: str) -> str:
    """Graph item ids are letters and digits only (≤ 128): "page123", "blogpost456".
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items"""
    return _ITEM_ID_SAFE.sub("", f"{kind}{content_id}")[:128]


def group_id(confluence_group_id: str) -> str:
    """An external group's id for a Confluence group: "g" and the UUID's hex digits."""
    return ("g" + _ITEM_ID_SAFE.sub("", confluence_group_id))[:128]


def _name(person: Person | None) -> str:
    return (person.display_name or person.account_id) if person else ""


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def properties_of(item: SourceItem, names: Iterable[str]) -> dict[str, Any]:
    """The chosen properties of one item, with the @odata.type annotations Graph wants on
    collections and non-ASCII strings.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items#request-body"""
    values: dict[str, Any] = {
        "title": item.title, "url": item.url, "iconUrl": item.icon_url,
        "createdBy": _name(item.created_by), "lastModifiedBy": _name(item.last_modified_by),
        "authors": sorted({_name(p) for p in item.authors if _name(p)}),
        "createdDateTime": _iso(item.created), "lastModifiedDateTime": _iso(item.last_modified),
        "spaceName": item.space_name, "spaceKey": item.space_key, "contentType": item.kind,
    }
    out: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if value is None or value == "":
            continue
        out[name] = value
        if isinstance(value, list):
            out[f"{name}@odata.type"] = "Collection(String)"
        elif isinstance(value, str) and not value.isascii() and SCHEMA_PROPERTIES[name]["type"] == "String":
            out[f"{name}@odata.type"] = "String"
    return out


@dataclasses.dataclass
class IdentityMap:
    """How Confluence principals become Entra ones for one crawl."""

    tenant_id: str
    users: Mapping[str, str]  # Atlassian account id -> Entra object id (matched accounts only)
    groups: frozenset[str] | set[str]  # external group ids pushed to the connection
    everyone_except_guests: bool = False


@dataclasses.dataclass
class Acl:
    entries: list[dict[str, str]]
    unmapped: list[Principal]

    @property
    def digest(self) -> str:
        canonical = json.dumps(sorted(self.entries, key=lambda e: (e["type"], e["value"], e["accessType"])))
        return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def acl_of(item: SourceItem, search: SearchConnection, mapping: IdentityMap) -> Acl:
    """The item's ACL for Graph. Fail closed: a principal without an Entra match is dropped and
    reported, never widened; a deny that cannot be mapped leaves no ACL at all (the item is then
    skipped), since leaving it out would let that person in.
    Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-acl (deny beats grant)"""
    everyone_type = "everyoneExceptGuests" if mapping.everyone_except_guests else "everyone"
    if search.permission_mode == SearchConnection.PermissionMode.EVERYONE:
        return Acl([{"type": "everyone", "value": mapping.tenant_id, "accessType": "grant"}], [])
    entries: list[dict[str, str]] = []
    unmapped: list[Principal] = []
    for principal in item.acl:
        entry: dict[str, str] | None = None
        if principal.kind == "everyone":
            entry = {"type": everyone_type, "value": mapping.tenant_id}
        elif principal.kind == "user" and principal.id in mapping.users:
            entry = {"type": "user", "value": mapping.users[principal.id]}
        elif principal.kind == "group" and group_id(principal.id) in mapping.groups:
            entry = {"type": "externalGroup", "value": group_id(principal.id)}
        if entry is None:
            unmapped.append(principal)
            if principal.access == "deny":
                return Acl([], unmapped)
            continue
        entry["accessType"] = principal.access
        if entry not in entries:
            entries.append(entry)
    if not any(e["accessType"] == "grant" for e in entries):
        entries = []
    return Acl(entries, unmapped)


def external_item(item: SourceItem, names: Iterable[str], acl: Acl) -> tuple[dict[str, Any], bool]:
    """The PUT body, and whether the text had to be cut to stay within Graph's 4 MB."""
    body: dict[str, Any] = {
        "acl": acl.entries,
        "properties": properties_of(item, names),
        "content": {"type": "text", "value": ""},
    }
    room = MAX_ITEM_BYTES - len(json.dumps(body).encode()) - 64  # margin for escaping
    text = item.body_text or ""
    encoded = json.dumps(text)[1:-1].encode()
    truncated = len(encoded) > room
    if truncated:
        # Cut the escaped form, then step back to whole characters.
        cut = text.encode()[: max(room, 0)]
        text = cut.decode("utf-8", errors="ignore")
        while len(json.dumps(text).encode()) - 2 > room:
            text = text[: int(len(text) * 0.9)]
    body["content"]["value"] = text
    return body, truncated
