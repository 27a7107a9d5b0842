"""A connection's delegated Microsoft token, renewed single-flight.

The delegated token is the sign-in of the admin who gave permission (its refresh token is
stored, encrypted, on the connection's MICROSOFT_DELEGATED credential). Renewing it takes a row
lock on the credential and re-reads it, like the Atlassian refresh (connections.atlassian.refresh):
whoever waited on the lock while another process renewed the same credential uses that fresh
token instead of renewing again. Microsoft's refresh tokens survive their use, but the new one
it hands back is stored, in the same transaction as the refresh that produced it.

App-only tokens (client credentials) need no refresh: connections.microsoft.client keeps them
in msal's token cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Credential
from . import client


class NoDelegatedSignIn(Exception):
    """No delegated sign-in is stored for the connection."""


class RenewalUnavailable(Exception):
    """Microsoft's token service did not answer: nothing is known about the grant."""


class RenewalRefused(Exception):
    """Microsoft refused to renew the sign-in (an OAuth error, recorded on the credential)."""

    def __init__(self, message: str, *, code: str, principal: str) -> None:
        super().__init__(message)
        self.code = code
        self.principal = principal


@dataclass(frozen=True)
class DelegatedToken:
    access_token: str = field(repr=False)
    principal: str
    expires_at: datetime | None


def delegated_credential(connection: Any) -> Credential | None:
    return (
        Credential.objects.filter(connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED)
        .order_by("pk")
        .first()
    )


def renew_delegated(connection: Any, *, scopes: list[str]) -> DelegatedToken:
    """Renew the connection's delegated token now (a health check proves the sign-in still
    works by renewing it) and return it.

    Single-flight: a caller that waited on the row lock while another renewed the credential
    takes that token. Raises NoDelegatedSignIn, client.Throttled (busy: the stored sign-in stays
    as good as it was), RenewalUnavailable, or RenewalRefused."""
    credential = delegated_credential(connection)
    if credential is None:
        raise NoDelegatedSignIn(f"No delegated sign-in is stored for {connection.tenant}: give permission first.")
    seen = credential.last_refreshed_at
    tenant = connection.tenant
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential.pk)
        principal = credential.principal or "the admin"
        if credential.last_refreshed_at != seen and not credential.is_stale(0) and not credential.last_error:
            # Renewed by someone else while this caller waited for the lock.
            return DelegatedToken(credential.access_token, principal, credential.expires_at)
        try:
            result = client.refresh_delegated(
                tenant_id=tenant.tenant_id, cloud=tenant.cloud, refresh_token=credential.refresh_token, scopes=scopes
            )
        except client.Throttled:
            raise
        except client.MicrosoftError as exc:
            if not exc.error:
                # No OAuth error: the service was not reached, which says nothing about the grant.
                raise RenewalUnavailable("Microsoft's token service did not answer.") from exc
            credential.last_error = f"{exc.code or exc.error}: {exc}"[:500]
            credential.last_error_at = timezone.now()
            credential.save(update_fields=["last_error", "last_error_at", "updated_at"])
            raise RenewalRefused(str(exc), code=exc.code or exc.error, principal=principal) from exc
        now = timezone.now()
        credential.access_token = result["access_token"]
        if result.get("refresh_token"):
            credential.refresh_token = result["refresh_token"]
        credential.expires_at = now + timedelta(seconds=int(result.get("expires_in", 3600)))
        credential.last_refreshed_at = now
        credential.last_error, credential.last_error_at = "", None
        credential.save()
    return DelegatedToken(result["access_token"], principal, credential.expires_at)
