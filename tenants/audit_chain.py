"""The audit trail's hash chain: tamper-evident, verified end to end.

Every event carries HMAC-SHA256 (key from AUDIT_CHAIN_KEYS, kept outside the database) of its
canonical JSON, which includes the previous event's hash and the event's place in the chain.
The events of one organization form one chain (those without an organization, one more).
Writers lock the chain's head row, so no two events claim the same predecessor; a unique
constraint on (organization, chain_seq) backs that up.

Someone with database rights but not the key can then neither change an event (its hash no
longer matches), nor insert one (they cannot compute its hash), nor remove one from the middle
(the next event's previous hash no longer matches) without `verify_chain` saying where.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from portal.secret_checks import parse_audit_chain_keys

from .models import AuditChainCheck, AuditChainHead, AuditEvent, Organization

GLOBAL_SCOPE = "global"


def scope_of(organization_id: int | None) -> str:
    return f"org:{organization_id}" if organization_id is not None else GLOBAL_SCOPE


def chain_keys() -> list[tuple[str, str]]:
    """[(key id, secret)] newest first."""
    return parse_audit_chain_keys(settings.AUDIT_CHAIN_KEYS)


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes the HMAC covers: sorted keys, no spaces, UTF-8; the same on every read."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_fields(event: AuditEvent) -> dict[str, Any]:
    """Everything an event says, as JSON values (details round-tripped as the database keeps them)."""
    return {
        "organization": event.organization_id,
        "seq": event.chain_seq,
        "prev": event.chain_prev,
        "key": event.chain_key_id,
        "actor_type": event.actor_type,
        "actor_user": event.actor_user_id,
        "actor_label": event.actor_label,
        "action": str(event.action),
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "details": json.loads(json.dumps(event.details)),
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "created_at": _time(event.created_at),
    }


def compute_hash(event: AuditEvent, secret: str) -> str:
    return hmac.new(secret.encode(), canonical(event_fields(event)), hashlib.sha256).hexdigest()


def _locked_head(organization_id: int | None) -> AuditChainHead:
    scope = scope_of(organization_id)
    # Created on first use; ON CONFLICT DO NOTHING lets two first writers race safely.
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(scope=scope, organization_id=organization_id)], ignore_conflicts=True
    )
    return AuditChainHead.objects.select_for_update().get(scope=scope)


def append(event: AuditEvent) -> AuditEvent:
    """Chain and save a new (unsaved) event, in the caller's transaction."""
    key_id, secret = chain_keys()[0]
    with transaction.atomic():
        head = _locked_head(event.organization_id)
        event.chain_seq = head.seq + 1
        event.chain_prev = head.last_hash
        event.chain_key_id = key_id
        event.chain_hash = compute_hash(event, secret)
        event.save(force_insert=True)
        head.seq, head.last_hash = event.chain_seq, event.chain_hash
        head.save(update_fields=["seq", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    scope: str
    organization: Organization | None
    events_checked: int
    verified_up_to: datetime | None
    broken_seq: int | None = None
    broken_event_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def describe(self) -> str:
        name = str(self.organization) if self.organization else "events without an organization"
        if self.ok:
            upto = f", verified up to {_time(self.verified_up_to)}" if self.verified_up_to else ""
            return f"{name} ({self.scope}): {self.events_checked} events{upto}"
        return (f"{name} ({self.scope}): BROKEN at link {self.broken_seq} (event id {self.broken_event_id}): "
                f"{self.problem}")


def verify_chain(organization: Organization | None) -> ChainReport:
    """Walk one chain from its first event and report the first broken link."""
    org_id = organization.pk if organization is not None else None
    scope = scope_of(org_id)
    keys = dict(chain_keys())
    events = AuditEvent.objects.filter(organization_id=org_id) if org_id is not None else AuditEvent.objects.filter(
        organization__isnull=True
    )
    # Unchained rows first: a row inserted without a place in the chain is the first break.
    events = events.order_by(F("chain_seq").asc(nulls_first=True), "id")
    prev_hash, expected, checked, up_to = "", 1, 0, None

    def broken(event: AuditEvent | None, seq: int | None, why: str) -> ChainReport:
        return ChainReport(scope, organization, checked, up_to, seq, event.pk if event else None, why)

    for event in events.iterator(chunk_size=2000):
        if event.chain_seq is None:
            return broken(event, None, "an event that is not part of the chain (inserted past the portal)")
        if event.chain_seq != expected:
            why = (f"link {expected} is missing (removed?)" if event.chain_seq > expected
                   else "two events claim the same place in the chain")
            return broken(event, event.chain_seq, why)
        if event.chain_prev != prev_hash:
            return broken(event, event.chain_seq, "its previous hash is not the previous event's hash "
                                                  "(an event before it was removed or replaced)")
        secret = keys.get(event.chain_key_id)
        if secret is None:
            return broken(event, event.chain_seq, f"it is signed with key {event.chain_key_id!r}, "
                                                  "which is not in AUDIT_CHAIN_KEYS")
        if not hmac.compare_digest(compute_hash(event, secret), event.chain_hash):
            return broken(event, event.chain_seq, "its hash does not match its content "
                                                  "(changed after it was written, or forged)")
        prev_hash, expected, checked, up_to = event.chain_hash, expected + 1, checked + 1, event.created_at
    head = AuditChainHead.objects.filter(scope=scope).first()
    if head is None and checked:
        return ChainReport(scope, organization, checked, up_to, checked + 1, None,
                           "the chain's head is missing (removed past the portal)")
    if head is not None and (head.seq != checked or head.last_hash != prev_hash):
        return ChainReport(scope, organization, checked, up_to, checked + 1, None,
                           f"the chain's head says {head.seq} events, the trail ends at {checked} "
                           "(events removed from its end)")
    return ChainReport(scope, organization, checked, up_to)


def verify_all(organizations: list[Organization] | None = None) -> list[ChainReport]:
    """Every organization's chain (or the ones given) and, without a selection, the global one."""
    orgs = list(Organization.objects.order_by("pk")) if organizations is None else organizations
    reports = [verify_chain(org) for org in orgs]
    if organizations is None:
        reports.append(verify_chain(None))
    return reports


def record_check(report: ChainReport) -> AuditChainCheck:
    """Keep the latest result for the support pages ("chain verified up to ...")."""
    check, _ = AuditChainCheck.objects.update_or_create(
        scope=report.scope,
        defaults={
            "organization": report.organization,
            "checked_at": datetime.now(UTC),
            "events_checked": report.events_checked,
            "verified_up_to": report.verified_up_to,
            "broken_seq": report.broken_seq,
            "broken_event_id": report.broken_event_id,
            "problem": report.problem[:300],
        },
    )
    return check

