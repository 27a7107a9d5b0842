"""The organization's API keys: what an automation rule calls the portal's API with.

A key is `cpk_<prefix>_<secret>`: 8 hex characters that find its row (and name it on pages) and
43 random URL-safe characters. Only the SHA-256 of the whole key is kept, so the key is shown
once, when it is made; a lost key is revoked and replaced. Keys are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import ExternalActor, audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from ..models import OrganizationApiKey

SCHEME = "cpk"
MAX_ACTIVE = 20


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: OrganizationApiKey
    secret: str  # the whole key, shown once

    def __repr__(self) -> str:  # never in a log or a traceback's locals
        return f"NewKey({self.key!r})"


def api_key_create(*, organization: Any, name: str, acting_user: Any) -> NewKey:
    require_admin(organization, acting_user)
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name (what uses it, e.g. the automation rule).")
    if len(name) > 100:
        raise ValidationError("A key's name can be at most 100 characters.")
    if OrganizationApiKey.objects.filter(organization=organization, revoked_at__isnull=True).count() >= MAX_ACTIVE:
        raise ValidationError(f"An organization can have at most {MAX_ACTIVE} active keys: revoke one first.")
    prefix = secrets.token_hex(4)
    secret = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = OrganizationApiKey.objects.create(
            organization=organization, name=name, prefix=prefix, digest=_digest(secret), created_by=acting_user
        )
        audit_record(organization=organization, action=AuditAction.API_KEY_CREATED, actor=acting_user,
                     target=key, details={"name": name, "prefix": prefix})
    return NewKey(key=key, secret=secret)


def api_key_revoke(*, key: OrganizationApiKey, acting_user: Any) -> OrganizationApiKey:
    require_admin(key.organization, acting_user)
    with transaction.atomic():
        key = OrganizationApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is not None:
            return key
        key.revoked_at, key.revoked_by = timezone.now(), acting_user
        key.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(organization=key.organization, action=AuditAction.API_KEY_REVOKED, actor=acting_user,
                     target=key, details={"name": key.name, "prefix": key.prefix})
    return key


def authenticate(header: str) -> OrganizationApiKey | None:
    """The active key an `Authorization: Bearer <key>` header carries, or None. A revoked key's
    use is recorded in its organization's trail (someone still holds it)."""
    if not header.lower().startswith("bearer "):
        return None
    presented = header[7:].strip()
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != 8:
        return None
    key = OrganizationApiKey.objects.select_related("organization").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.digest, _digest(presented)):
        return None
    if key.revoked_at is not None:
        audit_record(organization=key.organization, action=AuditAction.API_KEY_REFUSED,
                     actor=ExternalActor(f"API key “{key.name}” ({key.prefix}…)"), target=key,
                     details={"prefix": key.prefix})
        return None
    OrganizationApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key
