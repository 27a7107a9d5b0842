"""Reads for the Microsoft Search section: the setup as saved, the status per data source, and
the filter step's preview (exactly what would be sent, and who would see it)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from ..matching import keys
from ..models import (
    SEARCH_PROPERTIES,
    Connection,
    IndexedItem,
    MatchOutcome,
    PushedGroup,
    SearchConnection,
    SkippedItem,
    SyncRun,
    UnmappedPrincipal,
    UserMatch,
)
from . import errors, items, source
from .services import STEPS, missing_steps, search_get_or_default
from .types import Scope

RUN_KINDS = (SyncRun.Kind.SEARCH_SETUP, SyncRun.Kind.SEARCH_CRAWL, SyncRun.Kind.SEARCH_PERMISSIONS)


def status_context(connection: Connection) -> dict[str, Any]:
    search = search_get_or_default(connection)
    runs = list(SyncRun.objects.filter(connection=connection, kind__in=RUN_KINDS).order_by("-queued_at", "-id")[:10])
    last = {kind: next((r for r in runs if r.kind == kind), None) for kind in RUN_KINDS}
    failed = next((r for r in runs if r.state == SyncRun.State.FAILED), None)
    latest_failed = failed if failed and runs and runs[0].pk == failed.pk else None
    return {
        "search": search,
        "steps": STEPS,
        "missing_steps": missing_steps(search) if search.pk else list(STEPS),
        "search_runs": runs,
        "setup_run": last[SyncRun.Kind.SEARCH_SETUP],
        "crawl_run": last[SyncRun.Kind.SEARCH_CRAWL],
        "permissions_run": last[SyncRun.Kind.SEARCH_PERMISSIONS],
        "latest_failed": latest_failed,
        "active_runs": [r for r in runs if r.is_active],
        "skipped": list(SkippedItem.objects.filter(search=search)[:20]) if search.pk else [],
        "unmapped": list(UnmappedPrincipal.objects.filter(search=search)[:20]) if search.pk else [],
        "indexed_sample": list(IndexedItem.objects.filter(search=search).order_by("item_id")[:20]) if search.pk else [],
        "pushed_groups": PushedGroup.objects.filter(search=search).count() if search.pk else 0,
        "property_labels": [(key, SEARCH_PROPERTIES[key]) for key in items.chosen(search.properties)],
        "error_remedies": errors.REMEDIES,
        # Microsoft's codes for what the skipped items are: hidden (2007), cut to size (2004).
        "hidden_items": search.pk and SkippedItem.objects.filter(
            search=search, reason=SkippedItem.Reason.NO_MAPPED_READER).exists(),
        "truncated_items": search.pk and SkippedItem.objects.filter(
            search=search, reason__in=[SkippedItem.Reason.TRUNCATED, SkippedItem.Reason.TOO_LARGE]).exists(),
    }


@dataclasses.dataclass
class PreviewRow:
    title: str
    properties: dict[str, Any]
    audience: str


@dataclasses.dataclass
class PreviewResult:
    total: int = 0
    rows: list[PreviewRow] = dataclasses.field(default_factory=list)
    error: str = ""


def preview(connection: Connection, search: SearchConnection, *, space_keys: list[str], cql: str) -> PreviewResult:
    """The total in scope and five items with each chosen property as it would be sent, and who
    would see them. Invalid CQL shows Confluence's own message."""
    try:
        src = source.source_for(connection)
        found = src.preview(Scope(space_keys=tuple(space_keys), cql=cql), limit=5)
    except ImportError:
        return PreviewResult(error="The Confluence reader is not available on this server.")
    except Exception as exc:  # noqa: BLE001 - the preview reports, it never breaks the page
        return PreviewResult(error=f"Confluence could not be read ({type(exc).__name__}): {exc}"[:500])
    if found.error:
        return PreviewResult(total=0, error=found.error)
    users = dict(UserMatch.objects.filter(connection=connection, outcome=MatchOutcome.MATCHED)
                 .exclude(microsoft_user_id="").values_list("account_id", "microsoft_user_id"))
    groups = {items.group_id(p.id) for s in found.samples for p in s.acl if p.kind == "group"}
    mapping = items.IdentityMap(tenant_id=str(connection.tenant.tenant_id), users=users, groups=groups,
                                everyone_except_guests=search.anonymous_except_guests)
    names = items.chosen(search.properties)
    rows = []
    for sample in found.samples:
        acl = items.acl_of(sample, search, mapping)
        rows.append(PreviewRow(sample.title, items.properties_of(sample, names), _audience(acl)))
    return PreviewResult(total=found.total, rows=rows)


def _audience(acl: items.Acl) -> str:
    if not acl.entries:
        return f"Nobody: {len(acl.unmapped)} reader(s) without a Microsoft match (the page is not indexed)"
    kinds = [e["type"] for e in acl.entries if e["accessType"] == "grant"]
    if any(k.startswith("everyone") for k in kinds):
        text = "Everyone in the tenant" + (" except guests" if "everyoneExceptGuests" in kinds else "")
    else:
        text = f"{kinds.count('user')} mapped user(s), {kinds.count('externalGroup')} group(s)"
    if acl.unmapped:
        text += f"; {len(acl.unmapped)} without a Microsoft match left out"
    return text


def identity_preview(connection: Connection, *, pattern: str, formula: str, count: int = 5) -> list[dict[str, str]]:
    """Five random Confluence users with the UPN the non-Entra rule makes of their email
    (Success/Failed), as Microsoft's setup shows. Emails a profile hides count as Failed."""
    try:
        rule = keys.compile_rule(pattern, formula)
        users = list(source.source_for(connection).users())
    except (keys.RuleError, ImportError):
        return []
    except Exception:  # noqa: BLE001 - a preview never breaks the page
        return []
    picked = random.sample(users, min(count, len(users)))  # noqa: S311 - a sample to show, not a secret
    out = []
    for user in picked:
        upn = keys.apply_rule(rule, keys.normalize(user.email)) if user.email else ""
        out.append({"name": user.display_name, "email": user.email or "(hidden)", "upn": upn or "—",
                    "outcome": "Success" if upn else "Failed"})
    return out
