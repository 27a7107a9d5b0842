"""State changes of connections (site <-> tenant). Same rules as tenants/services.py."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import outbox
from tenants.audit import audit_record
from tenants.models import AuditAction
from tenants.services import require_admin

from . import permissions
from .models import Connection, PermissionGrant, Provider
from .status import connection_status_refresh

# Queued by name (connections/tasks.py registers it): services never import the task modules.
PROJECTS_REFRESH_TASK = "connections.projects_refresh"


def grants_request(*, connection, acting_user, consent_request_id=None):
    """Record, as requested, every Graph permission the connection's features need.

    Idempotent: existing rows keep their granted/observed state and get the new request's
    time and author; permissions no feature needs any more are left as they are (their
    history matters), and simply no longer count towards the connection's status.
    """
    now = timezone.now()
    for permission in permissions.graph_permissions(connection.features):
        grant, _ = PermissionGrant.objects.get_or_create(
            connection=connection, provider=Provider.MICROSOFT, kind=permission.kind, name=permission.name
        )
        grant.requested_at = now
        grant.requested_by = acting_user
        if consent_request_id is not None:
            grant.consent_request_id = consent_request_id
        grant.save(update_fields=["requested_at", "requested_by", "consent_request_id"])


@transaction.atomic
def connection_create(*, site, tenant, acting_user, features=()):
    """Link a site and a tenant of the same organization; it starts pending consent."""
    if site.organization_id != tenant.organization_id:
        raise ValidationError("A site and a tenant can only be connected within one organization.")
    require_admin(site.organization, acting_user)
    if Connection.objects.filter(site=site, tenant=tenant).exists():
        raise ValidationError(f"{site} is already connected to {tenant}.")
    unfit = permissions.unfit_features(features, site.products)
    if unfit:
        raise ValidationError(
            "; ".join(permissions.unfit_in_words(f, site.products) for f in unfit)
            + f". Choose other features, or correct the products of {site} on its page if they are wrong."
        )
    try:
        with transaction.atomic():
            connection = Connection.objects.create(
                organization=site.organization,
                site=site,
                tenant=tenant,
                features=[f for f in features if f in permissions.FEATURES],
                created_by=acting_user,
            )
    except IntegrityError as exc:  # the same pair connected concurrently
        raise ValidationError(f"{site} is already connected to {tenant}.") from exc
    audit_record(
        organization=site.organization,
        action=AuditAction.CONNECTION_CREATED,
        actor=acting_user,
        target=connection,
        details={"site": site.url, "tenant_id": str(tenant.tenant_id), "features": connection.features},
    )
    grants_request(connection=connection, acting_user=acting_user)
    projects_refresh_soon([connection])
    return connection


@transaction.atomic
def connection_set_features(*, connection: Connection, features: list[str], acting_user: Any) -> Connection:
    """Change what the connection is for. New needs are recorded as requested; if tokens
    have not shown them, the connection needs re-consent."""
    require_admin(connection.organization, acting_user)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    old = list(connection.features)
    site = connection.site
    unfit = permissions.unfit_features([f for f in features if f not in old], site.products)
    if unfit:
        raise ValidationError(
            "; ".join(permissions.unfit_in_words(f, site.products) for f in unfit)
            + f". Nothing was changed. Correct the products of {site} on its page if they are wrong."
        )
    connection.features = [f for f in features if f in permissions.FEATURES]
    grants_request(connection=connection, acting_user=acting_user)
    connection.save(update_fields=["features", "updated_at"])
    connection_status_refresh(connection=connection)
    audit_record(
        organization=connection.organization,
        action=AuditAction.CONNECTION_FEATURES_CHANGED,
        actor=acting_user,
        target=connection,
        details={"from": old, "to": connection.features},
    )
    return connection


def projects_refresh_soon(connections: Iterable[Connection]) -> None:
    """Queue a refresh of each connection's service projects once the caller's transaction
    commits (a new connection, a new site grant): the list is there without anyone asking."""
    for connection in connections:
        if "jsm" in (connection.site.products or []):  # the task looks again at fresh rows
            outbox.enqueue(PROJECTS_REFRESH_TASK, connection_id=connection.pk)
