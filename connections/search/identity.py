"""Confluence principals to Microsoft Search ACL entries, fail closed.

Who a Confluence account is in Microsoft Entra comes from the connection's user matching
(connections.matching), in one of two modes:

- "portal": the matching's own result (an admin's manual mapping first, then the match by mail,
  UPN or proxy address);
- "strict" (Microsoft's connector's rule): the account's email, or with a non-Entra identity
  mode the UPN the connection's regular expression and formula derive from it, must be a user's
  userPrincipalName, compared case-insensitively.

A user that maps to nobody is dropped from the ACL and counted: never replaced by a wider
grant. Confluence groups become external groups (their members are mapped the same way by
whoever creates them); an anonymous space becomes the whole tenant (or everyone but guests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..matching import keys
from ..matching.match import Rule
from ..models import ManualMapping, MatchOutcome, MicrosoftUserKey, UserMatch, UserMatchingState
from .types import Principal, SourceUser

PORTAL, STRICT = "portal", "strict"


def external_group_id(confluence_group_id: str) -> str:
    """An external group's id for a Confluence group: alphanumeric, at most 128 characters."""
    # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-post-groups
    return "g" + "".join(ch for ch in confluence_group_id if ch.isalnum())[:127]


@dataclass
class Identity:
    """Account id -> Entra object id, and the accounts that mapped to nobody."""

    users: Mapping[str, str]
    unmapped: set[str] = field(default_factory=set)

    def entra_id(self, account_id: str) -> str | None:
        found = self.users.get(account_id)
        if not found:
            self.unmapped.add(account_id)
        return found or None

    @classmethod
    def for_connection(cls, connection: Any, *, mode: str = PORTAL,
                       people: Iterable[SourceUser] | None = None) -> Identity:
        manual = dict(
            ManualMapping.objects.filter(connection=connection).values_list("account_id", "microsoft_user_id")
        )
        if mode == PORTAL:
            matched = dict(
                UserMatch.objects.filter(connection=connection, outcome=MatchOutcome.MATCHED)
                .exclude(microsoft_user_id="")
                .values_list("account_id", "microsoft_user_id")
            )
            return cls({**matched, **manual})
        # Strict: email -> (rule) -> UPN, looked up among the Microsoft users' UPN digests.
        rule = Rule.of(UserMatchingState.objects.filter(connection=connection).first())
        upns: dict[str, str] = {}
        for person in people or ():
            upn = rule.upn_for(keys.normalize(person.email))
            if upn:
                upns[person.account_id] = keys.digest(upn)
        rows = MicrosoftUserKey.objects.filter(connection=connection, digest__in=set(upns.values()))
        by_digest = {d: u for d, u, k in rows.values_list("digest", "user_id", "kinds") if k & MicrosoftUserKey.UPN}
        mapped = {a: by_digest[d] for a, d in upns.items() if d in by_digest}
        return cls({**mapped, **manual})


def graph_acl(acl: Iterable[Principal], identity: Identity, tenant_id: str, *,
              everyone_except_guests: bool = False) -> list[dict[str, str]]:
    """Graph ACL entries for an item's Confluence ACL; an empty list when nobody maps (the
    caller must then not publish the item to anyone)."""
    # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-acl
    entries: list[dict[str, str]] = []
    for principal in acl:
        if principal.kind == "everyone":
            kind = "everyoneExceptGuests" if everyone_except_guests else "everyone"
            entries.append({"type": kind, "value": tenant_id, "accessType": principal.access})
        elif principal.kind == "group":
            entries.append({"type": "externalGroup", "value": external_group_id(principal.id),
                            "accessType": principal.access})
        elif principal.kind == "user":
            entra = identity.entra_id(principal.id)
            if entra:
                entries.append({"type": "user", "value": entra, "accessType": principal.access})
    # Deny beats grant in Microsoft Search; deny entries come first so a reader sees them.
    entries.sort(key=lambda e: e["accessType"] != "deny")
    return entries


def can_find(acl: Iterable[Principal], account_id: str, groups_of: Mapping[str, set[str]]) -> bool:
    """Whether a Confluence account may see an item with this ACL (deny beats grant)."""
    acl = list(acl)
    mine = groups_of.get(account_id, set())

    def applies(p: Principal) -> bool:
        return p.kind == "everyone" or (p.kind == "user" and p.id == account_id) or (p.kind == "group" and p.id in mine)

    if any(p.access == "deny" and applies(p) for p in acl):
        return False
    return any(p.access == "grant" and applies(p) for p in acl)
