"""An organization's audit trail as CSV or JSON Lines, streamed row by row.

Each row carries the event's place in the hash chain, the previous hash and its own, so an
auditor holding the key can check the export itself. A CSV cell that a spreadsheet would run
as a formula (starting with =, +, -, @, tab or CR) is prefixed with an apostrophe.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from .models import AuditEvent, Organization

FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/x-ndjson", "jsonl")}

COLUMNS = [
    "created_at", "organization", "chain_seq", "actor_type", "actor", "action", "action_label",
    "target_type", "target_id", "target", "details", "ip_address", "user_agent",
    "chain_prev", "chain_hash", "chain_key_id",
]


def export_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "created_at": event.created_at.isoformat(),
        "organization": event.organization.name if event.organization else "",
        "chain_seq": event.chain_seq,
        "actor_type": event.actor_type,
        "actor": event.actor_label,
        "action": event.action,
        "action_label": event.get_action_display(),
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target": event.target_label,
        "details": event.details,
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent,
        "chain_prev": event.chain_prev,
        "chain_hash": event.chain_hash,
        "chain_key_id": event.chain_key_id,
    }


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, dict | list) else (
        "" if value is None else str(value)
    )
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def stream(events: QuerySet[AuditEvent], fmt: str) -> Iterator[str]:
    rows: Iterable[AuditEvent] = events.select_related("organization").order_by("created_at", "id").iterator(
        chunk_size=1000
    )
    if fmt == "csv":
        writer = csv.writer(_Echo())
        yield writer.writerow(COLUMNS)
        for event in rows:
            row = export_row(event)
            yield writer.writerow([_cell(row[c]) for c in COLUMNS])
    else:
        for event in rows:
            yield json.dumps(export_row(event), ensure_ascii=False) + "\n"


def response(events: QuerySet[AuditEvent], fmt: str, organization: Organization) -> StreamingHttpResponse:
    content_type, extension = FORMATS[fmt]
    streamed = StreamingHttpResponse(stream(events, fmt), content_type=content_type)
    streamed["Content-Disposition"] = f'attachment; filename="audit-{organization.slug}.{extension}"'
    return streamed
