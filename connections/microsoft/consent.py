"""Consent for a Microsoft tenant: links, their states, and what a grant records.

State changes only; the HTTP dance lives in connections/microsoft/views.py (with the flow
state in connections/flows.py) and the calls to Microsoft in connections/microsoft/client.py.
Every function writes its audit event in its own transaction, with the tenant admin as an
external actor where they act. A consent link's token is validated here
(`consent_request_find`: bounded by connections.params, compared by hash only).
"""

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import outbox
from tenants.audit import ExternalActor, audit_record
from tenants.models import AuditAction, Organization
from tenants.services import require_admin, tenant_record_domains

from .. import permissions
from ..models import (
    Connection,
    ConsentRequest,
    Credential,
    HealthCheckResult,
    PermissionGrant,
    PermissionKind,
    Provider,
)
from ..params import consent_token
from ..services import grants_request
from ..status import connection_status_refresh
from . import consent_proof, endpoints, roles
from .client import SignedInAdmin
from .errors import explain
from .grants import missing_permissions
from .graph import GraphError

logger = logging.getLogger(__name__)

ANONYMOUS_LINK_HOLDER = ExternalActor("someone with the consent link")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def admin_actor(name: str, upn: str) -> ExternalActor:
    return ExternalActor(f"{name} <{upn}> (tenant admin)" if name else f"{upn} (tenant admin)")


def member_actor(name: str, upn: str) -> ExternalActor:
    """A verified tenant member who holds no role that can grant what was asked."""
    return ExternalActor(f"{name} <{upn}> (tenant member, not an admin)" if name else f"{upn} (tenant member)")


def consent_request_find(raw_token: str) -> ConsentRequest | None:
    """The consent request a link's token names, or None. Compared by hash only."""
    if consent_token(raw_token) is None:
        return None
    return (
        ConsentRequest.objects.select_related("connection__site", "connection__tenant", "organization", "created_by")
        .filter(token_hash=hash_token(raw_token))
        .first()
    )


@transaction.atomic
def consent_request_create(
    *, connection: Connection, acting_user: Any, kind: str = ConsentRequest.Kind.LINK
) -> tuple[ConsentRequest, str]:
    """A new consent request; returns (request, raw token).

    Links already sent stay open: a link is withdrawn only on purpose (consent_request_revoke),
    so making another one never breaks the one a tenant admin is about to open.
    """
    require_admin(connection.organization, acting_user)
    if not connection.features:
        raise ValidationError("Choose at least one feature for this connection first: consent asks for what they need.")
    # Locked so a disconnect in another tab either comes first (refused here) or revokes this link.
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == Connection.Status.DISCONNECTED:
        raise ValidationError("This connection is disconnected: reconnect it first. Reconnecting asks for consent "
                              "again only if the tenant no longer grants what it needs.")
    now = timezone.now()
    raw = secrets.token_urlsafe(32)
    consent_request = ConsentRequest(
        organization=connection.organization,
        connection=connection,
        kind=kind,
        token_hash=hash_token(raw),
        created_by=acting_user,
        expires_at=now + timedelta(days=settings.CONSENT_LINK_TTL_DAYS),
        requested_delegated=permissions.delegated_scopes(connection.features),
        requested_application=permissions.application_permissions(connection.features),
    )
    consent_request.token = raw
    consent_request.save()
    grants_request(connection=connection, acting_user=acting_user, consent_request_id=consent_request.pk)
    audit_record(
        organization=connection.organization,
        action=AuditAction.CONSENT_LINK_CREATED if kind == ConsentRequest.Kind.LINK else AuditAction.CONSENT_STARTED,
        actor=acting_user,
        target=connection,
        details={
            "consent_request": consent_request.pk,
            "kind": kind,
            "expires_at": consent_request.expires_at.isoformat(),
            "delegated": consent_request.requested_delegated,
            "application": consent_request.requested_application,
        },
    )
    return consent_request, raw


@transaction.atomic
def consent_request_open(*, consent_request: ConsentRequest) -> ConsentRequest:
    """The link's page was opened: remember the first time."""
    consent_request = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
    if consent_request.state == ConsentRequest.State.SENT and consent_request.is_usable:
        consent_request.state, consent_request.opened_at = ConsentRequest.State.OPENED, timezone.now()
        consent_request.save(update_fields=["state", "opened_at"])
        audit_record(
            organization=consent_request.organization,
            action=AuditAction.CONSENT_LINK_OPENED,
            actor=ANONYMOUS_LINK_HOLDER,
            target=consent_request.connection,
            details={"consent_request": consent_request.pk},
        )
    return consent_request


@transaction.atomic
def consent_request_revoke(*, consent_request: ConsentRequest, acting_user: Any) -> ConsentRequest:
    require_admin(consent_request.organization, acting_user)
    consent_request = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
    if not consent_request.is_usable:
        raise ValidationError(f"This link is already {consent_request.effective_state.label.lower()}.")
    consent_request.state, consent_request.revoked_at = ConsentRequest.State.REVOKED, timezone.now()
    consent_request.save(update_fields=["state", "revoked_at"])
    audit_record(
        organization=consent_request.organization,
        action=AuditAction.CONSENT_LINK_REVOKED,
        actor=acting_user,
        target=consent_request.connection,
        details={"consent_request": consent_request.pk},
    )
    return consent_request


@transaction.atomic
def consent_request_send(*, consent_request: ConsentRequest, to: str, acting_user: Any) -> ConsentRequest:
    """Email an open link to a tenant admin's address (sent after commit by the outbox)."""
    require_admin(consent_request.organization, acting_user)
    consent_request = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
    if not consent_request.is_usable:
        raise ValidationError(f"This link is {consent_request.link_state}: make a new one to send.")
    if not consent_request.token:
        raise ValidationError("This link was made before the portal kept links: make a new one to send.")
    outbox.enqueue("connections.send_consent_link", consent_request_id=consent_request.pk, to=to)
    audit_record(
        organization=consent_request.organization,
        action=AuditAction.CONSENT_LINK_SENT,
        actor=acting_user,
        target=consent_request.connection,
        details={"consent_request": consent_request.pk, "to": to},
    )
    return consent_request


def _claim(consent_request: ConsentRequest) -> ConsentRequest:
    """Lock the request and make sure it can still be used (single use)."""
    locked = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
    if not locked.is_usable:
        why = {
            ConsentRequest.State.REVOKED: "was withdrawn by the site admin",
            ConsentRequest.State.EXPIRED: "has expired",
            ConsentRequest.State.CONSENTED: "was already used",
        }.get(locked.effective_state, f"is {locked.effective_state.label.lower()}")
        raise ValidationError(f"This consent link {why}.")
    return locked


@transaction.atomic
def consent_record_failure(
    *, consent_request: ConsentRequest, error: str = "", code: str = "", description: str = "",
    admin: SignedInAdmin | None = None, declined: bool = False,
) -> ConsentRequest:
    """The admin declined, or something failed: record it in words; the link is used up."""
    consent_request = _claim(consent_request)
    now = timezone.now()
    if declined:
        consent_request.state, consent_request.declined_at = ConsentRequest.State.DECLINED, now
    else:
        consent_request.state, consent_request.failed_at = ConsentRequest.State.FAILED, now
    consent_request.error_code = code or error
    consent_request.error_description = description[:2000]
    if admin is not None:
        consent_request.granted_by_name = admin.name
        consent_request.granted_by_upn = admin.upn
        consent_request.granted_by_oid = admin.object_id
    consent_request.save()
    what, todo = explain(code, error)
    audit_record(
        organization=consent_request.organization,
        action=AuditAction.CONSENT_DECLINED if declined else AuditAction.CONSENT_FAILED,
        actor=admin_actor(admin.name, admin.upn) if admin else ANONYMOUS_LINK_HOLDER,
        target=consent_request.connection,
        details={"consent_request": consent_request.pk, "error_code": code or error, "what": what, "todo": todo},
    )
    _notify_on_commit(consent_request)
    return consent_request


@transaction.atomic
def consent_record_grant(
    *, consent_request: ConsentRequest, admin: SignedInAdmin, delegated_observed: list[str],
    application_observed: list[str], admin_consent_completed: bool, token_result: dict[str, Any], redirect_uri: str,
    cloud: str,
) -> ConsentRequest:
    """Consent verified by tokens the portal fetched itself: record grants, keep the
    delegated token (encrypted), and set the connection's status from what was observed.

    The proof is recorded with it: the admin's role (from the verified id_token's `wids`), their
    tenant, and whether the tenant's admin-consent round for this request came back. Application
    permissions are recorded only when both hold (connections.microsoft.consent_proof)."""
    application = bool(consent_request.requested_application)
    role = roles.granting_role(admin.roles, application=application)
    if role is None or str(admin.tenant_id).lower() != str(consent_request.connection.tenant.tenant_id).lower():
        raise ValidationError("The account that signed in cannot grant these permissions for this tenant.")
    if application and not admin_consent_completed:
        raise ValidationError("The tenant's admin consent did not complete.")
    if not application:
        application_observed = []
    consent_request = _claim(consent_request)
    connection = Connection.objects.select_for_update().get(pk=consent_request.connection_id)
    if connection.status == Connection.Status.DISCONNECTED:
        # Disconnected while the admin was at Microsoft: keep no token for it.
        raise ValidationError("The connection was disconnected while you were at Microsoft.")
    now = timezone.now()
    observed = {(PermissionKind.DELEGATED, n) for n in delegated_observed} | {
        (PermissionKind.APPLICATION, n) for n in application_observed
    }
    for grant in PermissionGrant.objects.filter(connection=connection, provider=Provider.MICROSOFT):
        if (grant.kind, grant.name) in observed:
            grant.granted_at = now
            grant.granted_by_name, grant.granted_by_upn, grant.granted_by_oid = admin.name, admin.upn, admin.object_id
            grant.granted_by_role = role
            grant.redirect_uri, grant.cloud = redirect_uri, cloud
            grant.observed, grant.observed_at, grant.revoked_at = True, now, None
            grant.consent_request_id = consent_request.pk
        else:
            grant.observed, grant.observed_at = False, now
        grant.save()
    _store_delegated_token(connection, admin, token_result)

    consent_request.state, consent_request.consented_at = ConsentRequest.State.CONSENTED, now
    consent_request.granted_by_name, consent_request.granted_by_upn = admin.name, admin.upn
    consent_request.granted_by_oid = admin.object_id
    consent_request.granted_by_role, consent_request.granted_in_tenant = role, str(admin.tenant_id).lower()
    consent_request.admin_consent_at = now if admin_consent_completed else None
    consent_request.save()
    missing = missing_permissions(connection)
    # A new grant supersedes what the checks found under the old one; the next run says anew.
    HealthCheckResult.objects.filter(connection=connection, side=Provider.MICROSOFT, is_latest=True).update(
        is_latest=False
    )
    connection_status_refresh(connection=connection)
    audit_record(
        organization=connection.organization,
        action=AuditAction.CONSENT_GRANTED,
        actor=admin_actor(admin.name, admin.upn),
        target=connection,
        details={
            "consent_request": consent_request.pk,
            "admin_object_id": admin.object_id,
            "admin_role": roles.role_name(role),
            "admin_consent": admin_consent_completed,
            "delegated": sorted(delegated_observed),
            "application": sorted(application_observed),
            "missing": missing,
            "redirect_uri": redirect_uri,
            "cloud": cloud,
        },
    )
    _notify_on_commit(consent_request)
    return consent_request


def _store_delegated_token(connection: Connection, admin: SignedInAdmin, token_result: dict[str, Any]) -> None:
    if not token_result.get("refresh_token"):
        return
    credential, _ = Credential.objects.get_or_create(
        organization=connection.organization, connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED
    )
    credential.principal, credential.principal_id = admin.upn, admin.object_id
    credential.scopes = sorted(token_result.get("scope", "").split())
    credential.access_token = token_result["access_token"]
    credential.refresh_token = token_result["refresh_token"]
    credential.expires_at = timezone.now() + timedelta(seconds=int(token_result.get("expires_in", 3600)))
    credential.last_refreshed_at = timezone.now()
    credential.last_error = ""
    credential.save()



@transaction.atomic
def connection_record_observed_roles(
    *, connection: Connection, application_observed: list[str], acting_user: Any = None, audit_unchanged: bool = True
) -> tuple[list[str], list[str]]:
    """A fresh app-only token's roles, compared with the grants: drift shows up here
    (a permission revoked in the tenant after consent).

    The token's roles count for this connection only on its organization's own consent: what
    the tenant granted the portal for someone else is never observed here."""
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if not consent_proof.has_app_access(connection):
        application_observed = []
    now = timezone.now()
    lost, regained = [], []
    for grant in connection.grants.filter(provider=Provider.MICROSOFT, kind=PermissionKind.APPLICATION):
        present = grant.name in application_observed
        if grant.observed and not present:
            lost.append(grant.name)
            grant.revoked_at = now
        elif present and not grant.observed:
            regained.append(grant.name)
            grant.revoked_at = None
        grant.observed, grant.observed_at = present, now
        grant.save(update_fields=["observed", "observed_at", "revoked_at"])
    missing = missing_permissions(connection)
    connection_status_refresh(connection=connection)
    if not (audit_unchanged or lost or regained):
        return lost, missing  # periodic checks: only drift is worth an audit row
    audit_record(
        organization=connection.organization,
        action=AuditAction.CONNECTION_VERIFIED,
        actor=acting_user,
        target=connection,
        details={"lost": lost, "regained": regained, "missing": missing},
    )
    return lost, missing



def _notify_on_commit(consent_request: ConsentRequest) -> None:
    if consent_request.kind == ConsentRequest.Kind.LINK:
        outbox.enqueue("connections.notify_consent_result", consent_request_id=consent_request.pk)


# --- callbacks that record nothing but the attempt ------------------------------------------


def consent_callback_reject(*, reason: str, details: dict[str, Any], acting_user: Any = None) -> None:
    """A callback this browser did not start (forged, replayed, very old) or a malformed one:
    audited (in the consent request's organization when `details` names one), nothing changed.
    `details` never holds a state, code or token: the reason and what was malformed only."""
    consent_request = None
    if details.get("consent_request"):
        consent_request = ConsentRequest.objects.filter(pk=details["consent_request"]).first()
    audit_record(
        organization=consent_request.organization if consent_request else None,
        action=AuditAction.CONSENT_CALLBACK_REJECTED,
        actor=acting_user or ANONYMOUS_LINK_HOLDER,
        target=consent_request.connection if consent_request else None,
        target_label="" if consent_request else "unknown consent",
        details={"reason": reason, **{k: v for k, v in details.items() if k != "consent_request"}},
    )


def consent_callback_for_removed_connection(
    *, organization_id: int | None, consent_request_id: int | None, acting_user: Any = None
) -> Organization | None:
    """The tenant, the connection or the consent request was removed while the admin was at
    Microsoft: nothing to record it on. Audited in the organization, if it still exists (returned)."""
    organization = Organization.objects.filter(pk=organization_id).first() if organization_id is not None else None
    audit_record(
        organization=organization,
        action=AuditAction.CONSENT_CALLBACK_REJECTED,
        actor=acting_user or ANONYMOUS_LINK_HOLDER,
        target_label="removed connection",
        details={"reason": "connection removed", "consent_request": consent_request_id},
    )
    return organization


def consent_record_wrong_tenant(*, consent_request: ConsentRequest, admin: SignedInAdmin) -> None:
    """Someone of another tenant signed in (verified): audited; the link stays usable."""
    audit_record(
        organization=consent_request.organization,
        action=AuditAction.CONSENT_FAILED,
        actor=admin_actor(admin.name, admin.upn),
        target=consent_request.connection,
        details={
            "consent_request": consent_request.pk,
            "error_code": "wrong_tenant",
            "signed_in_tenant": admin.tenant_id,
        },
    )


def consent_record_not_an_admin(*, consent_request: ConsentRequest, admin: SignedInAdmin, needed_role: str) -> None:
    """A verified member of the right tenant without a role that can grant what is asked:
    audited, never recorded as the admin who granted; the link stays usable."""
    audit_record(
        organization=consent_request.organization,
        action=AuditAction.CONSENT_FAILED,
        actor=member_actor(admin.name, admin.upn),
        target=consent_request.connection,
        details={
            "consent_request": consent_request.pk,
            "error_code": "not_an_admin",
            "needed_role": needed_role,
        },
    )


def consent_record_domains(
    *, consent_request: ConsentRequest, admin: SignedInAdmin, token_result: dict[str, Any]
) -> None:
    """After consent, the tenant's verified domains, read as the admin who consented (their
    delegated User.Read covers GET /organization's verifiedDomains: no permission beyond it).
    Best effort: consent stands whether or not Graph answers."""
    tenant = consent_request.connection.tenant
    try:
        found = endpoints.organization(access_token=token_result.get("access_token", ""), cloud=tenant.cloud)
    except GraphError as exc:
        logger.warning("Could not read the verified domains of tenant %s: %s", tenant.tenant_id, exc.status)
        return
    if found.tenant_id.lower() != str(tenant.tenant_id).lower():
        return
    tenant_record_domains(tenant=tenant, verified=[d["name"] for d in found.domains],
                          actor=admin_actor(admin.name, admin.upn))
