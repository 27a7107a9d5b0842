"""Checking what a tenant has really granted, from tokens the portal fetches itself."""

from typing import Any

from django.utils import timezone

from portal import outbox

from ..models import Connection, PermissionGrant
from . import client, consent, consent_proof

# Registered in connections.tasks; enqueued by name so this module never imports the tasks.
VERIFY_GRANTS_TASK = "connections.verify_microsoft_grants"


def verify_request(*, connection: Connection, acting_user: Any) -> None:
    """Queue a re-read of the tenant's application grants (once the caller's transaction commits)."""
    outbox.enqueue(VERIFY_GRANTS_TASK, connection_id=connection.pk, acting_user_id=acting_user.pk)


def verify(*, connection, acting_user=None):
    """Ask for an app-only token and record its roles; returns a short summary.

    Without the organization's own admin consent for this connection no token is asked for:
    nothing is observed, whatever the tenant granted the portal for someone else."""
    if not consent_proof.has_app_access(connection):
        lost, missing = consent.connection_record_observed_roles(
            connection=connection, application_observed=[], acting_user=acting_user
        )
        return {"roles": [], "lost": lost, "missing": missing, "own_consent": False}
    try:
        roles = client.application_roles(tenant_id=connection.tenant.tenant_id, cloud=connection.tenant.cloud)
    except client.MicrosoftError as exc:
        # No token at all (consent withdrawn entirely, app removed): nothing is observed.
        if exc.code in ("AADSTS65001", "AADSTS7000229", "AADSTS700016") or exc.error in ("unauthorized_client",):
            roles = []
        else:
            PermissionGrant.objects.filter(connection=connection).update(observed_at=timezone.now())
            raise
    lost, missing = consent.connection_record_observed_roles(
        connection=connection, application_observed=roles, acting_user=acting_user
    )
    return {"roles": roles, "lost": lost, "missing": missing}
