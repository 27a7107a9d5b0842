"""Disconnect and reconnect: a connection's life after consent.

Disconnecting deletes the portal's tokens for the connection and stops its jobs, and keeps
its configuration (features, grants history, per-project switches, schedules) so that a
reconnect picks up where it left off. Nothing is deleted in Teams or in the Atlassian site:
the portal only ever read from them.

Both take the connection's row lock and re-read it, so two admins clicking at once end in
one consistent state: the second click finds the work done and changes nothing.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from .microsoft import client as microsoft
from .microsoft import consent, consent_proof
from .microsoft.grants import missing_permissions
from .models import Connection, ConsentRequest, Credential, PermissionGrant, Provider, SyncRun
from .status import connection_status_evaluate, connection_status_refresh

# Client-credential errors that mean the portal's app is gone from the tenant (deleted
# enterprise application, or consent withdrawn entirely).
APP_GONE_CODES = ("AADSTS65001", "AADSTS7000229", "AADSTS700016")


@dataclass
class Outcome:
    connection: Connection
    changed: bool
    message: str


def _stop(connection, acting_user):
    """Tokens deleted, open consent links revoked, queued runs cancelled and running ones
    told to stop at their next step. Returns what was done, for the audit trail."""
    now = timezone.now()
    credentials = list(connection.credentials.values_list("kind", flat=True))
    connection.credentials.all().delete()
    links = [c.pk for c in connection.consent_requests.filter(state__in=ConsentRequest.OPEN_STATES) if c.is_usable]
    ConsentRequest.objects.filter(pk__in=links).update(state=ConsentRequest.State.REVOKED, revoked_at=now)
    runs = connection.sync_runs.filter(state__in=SyncRun.ACTIVE_STATES)
    stopped = list(runs.values_list("pk", flat=True))
    runs.filter(state=SyncRun.State.QUEUED).update(
        state=SyncRun.State.CANCELLED, cancel_requested=True, finished_at=now,
        error="Cancelled: the connection was disconnected.",
    )
    runs.filter(state=SyncRun.State.RUNNING).update(cancel_requested=True)
    connection.status = Connection.Status.DISCONNECTED
    connection.disconnected_at, connection.disconnected_by = now, acting_user
    connection.save(update_fields=["status", "disconnected_at", "disconnected_by", "updated_at"])
    return {"credentials_deleted": credentials, "consent_links_revoked": links, "runs_stopped": stopped}


def _disconnect_locked(connection, acting_user, *, via=None):
    details = _stop(connection, acting_user)
    if via:
        details["via"] = via
    audit_record(
        organization=connection.organization, action=AuditAction.CONNECTION_DISCONNECTED, actor=acting_user,
        target=connection, details=details,
    )


@transaction.atomic
def connection_disconnect(*, connection, acting_user):
    require_admin(connection.organization, acting_user)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    if connection.status == Connection.Status.DISCONNECTED:
        return Outcome(connection, False, f"{connection} was already disconnected; nothing changed.")
    _disconnect_locked(connection, acting_user)
    return Outcome(connection, True, f"{connection} is disconnected. Its tokens are deleted and its jobs stopped.")


def _disconnect_all(connections, acting_user, via):
    done = []
    # In id order: two cascades at once take their locks in the same order, so never deadlock.
    for connection in connections.select_for_update().order_by("pk"):
        if connection.status != Connection.Status.DISCONNECTED:
            _disconnect_locked(connection, acting_user, via=via)
            done.append(connection)
    return done


@transaction.atomic
def tenant_disconnect(*, tenant, acting_user):
    """Disconnect every connection of the tenant in one step; the tenant stays registered."""
    require_admin(tenant.organization, acting_user)
    done = _disconnect_all(Connection.objects.filter(tenant=tenant), acting_user, via="tenant")
    audit_record(
        organization=tenant.organization, action=AuditAction.TENANT_DISCONNECTED, actor=acting_user, target=tenant,
        details={"connections": [c.pk for c in done]},
    )
    return done


@transaction.atomic
def site_disconnect(*, site, acting_user):
    """Disconnect every connection of the site in one step; the site stays registered."""
    require_admin(site.organization, acting_user)
    done = _disconnect_all(Connection.objects.filter(site=site), acting_user, via="site")
    audit_record(
        organization=site.organization, action=AuditAction.SITE_DISCONNECTED, actor=acting_user, target=site,
        details={"connections": [c.pk for c in done]},
    )
    return done


def _application_roles(tenant):
    """The application permissions the tenant still grants the portal, from a fresh
    app-only token; [] when the portal's app is gone from the tenant."""
    try:
        return microsoft.application_roles(tenant_id=tenant.tenant_id, cloud=tenant.cloud), False
    except microsoft.MicrosoftError as exc:
        if exc.code in APP_GONE_CODES or exc.error == "unauthorized_client":
            return [], True
        raise ValidationError(
            "Microsoft could not be asked what the tenant still grants, so nothing was changed. "
            f"Try again in a few minutes. ({exc})"
        ) from exc


def connection_reconnect(*, connection, acting_user):
    """Restore a disconnected connection. Consent is asked again only if the tenant no longer
    grants what the connection's features need."""
    require_admin(connection.organization, acting_user)
    if connection.status != Connection.Status.DISCONNECTED:
        return Outcome(connection, False, f"{connection} is not disconnected; nothing changed.")
    # Ask Microsoft before taking the row lock: a network call must not hold it. Only on this
    # organization's own admin consent: without it, what the tenant grants is not ours to use.
    own_consent = consent_proof.has_app_access(connection)
    roles, app_gone = _application_roles(connection.tenant) if own_consent else ([], False)
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection.pk)
        if connection.status != Connection.Status.DISCONNECTED:
            return Outcome(connection, False, f"{connection} was already reconnected; nothing changed.")
        connection.disconnected_at, connection.disconnected_by = None, None
        # Out of "disconnected"; from here the status rule says what the connection is.
        connection.status = Connection.Status.PENDING_CONSENT
        connection.save(update_fields=["status", "disconnected_at", "disconnected_by", "updated_at"])
        ever_granted = connection.grants.filter(provider=Provider.MICROSOFT, granted_at__isnull=False).exists()
        if app_gone or not ever_granted:
            # The tenant-wide consent went with the app (or never was): every grant must be given again.
            PermissionGrant.objects.filter(connection=connection, provider=Provider.MICROSOFT, observed=True).update(
                observed=False, observed_at=timezone.now(), revoked_at=timezone.now()
            )
            missing = missing_permissions(connection)
        else:
            # Delegated consent is tenant-wide and lives as long as the app does; the app-only
            # token shows the application permissions as they are now.
            _lost, missing = consent.connection_record_observed_roles(
                connection=connection, application_observed=roles, acting_user=acting_user
            )
        connection_status_refresh(connection=connection)
        connection.refresh_from_db()
        audit_record(
            organization=connection.organization, action=AuditAction.CONNECTION_RECONNECTED, actor=acting_user,
            target=connection,
            details={"roles": roles, "app_gone": app_gone, "missing": missing, "status": connection.status},
        )
    if connection.status == Connection.Status.ACTIVE:
        return Outcome(connection, True, f"{connection} is reconnected. The tenant still grants everything it needs.")
    if connection.status == Connection.Status.PENDING_CONSENT or missing:
        return Outcome(
            connection, True,
            f"{connection} is reconnected, but needs consent again: "
            + (", ".join(missing) if missing else "the portal's app is no longer in the tenant")
            + ". Give permission, or send a consent link to a Global Administrator.",
        )
    reasons = " ".join(connection_status_evaluate(connection).reasons)
    status = connection.get_status_display().lower()
    return Outcome(connection, True, f"{connection} is reconnected and {status}: {reasons}")


def remaining_access(connection):
    """What the portal keeps and what stays on the providers' side after a disconnect, for
    the confirmation page."""
    credentials = list(connection.credentials.values_list("kind", flat=True))
    others = connection.site.connections.exclude(pk=connection.pk).exclude(status=Connection.Status.DISCONNECTED)
    return {
        "delegated_token": Credential.Kind.MICROSOFT_DELEGATED in credentials,
        "site_used_elsewhere": list(others.select_related("tenant")),
        "site_authorized": bool(connection.site.auth_mode),
        "open_links": sum(1 for c in connection.consent_requests.filter(state__in=ConsentRequest.OPEN_STATES)
                          if c.is_usable),
        "active_runs": connection.sync_runs.filter(state__in=SyncRun.ACTIVE_STATES).count(),
    }
