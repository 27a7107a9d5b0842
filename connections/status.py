"""The one rule for a connection's status, derived from facts (never set by hand).

Precedence, first match wins:
    disconnected        an admin disconnected it (owned by disconnect/reconnect: left alone here)
    needs re-authorization
                        the Atlassian site's grant is dead, or the portal cannot obtain a
                        Microsoft credential for the tenant (delegated refresh refused, or no
                        app-only token: consent withdrawn)
    pending consent     nothing observed on the Microsoft side (no token shows a grant, no
                        delegated sign-in stored): never consented, or consent gone; or the
                        Atlassian site was never authorized
    degraded            a permission the features need is missing (a Graph permission, or an
                        Atlassian scope the site's grant does not hold), features that act as a
                        signed-in admin have no delegated sign-in stored, or a health check fails
    active              otherwise; said to have passed its checks only when checks ran and
                        passed (a skipped check never counts as passed)

Every place that changes one of those facts calls `connection_status_refresh`, so the status
on the page is always what the facts say.
"""

from dataclasses import dataclass

from django.utils import timezone

from tenants.models.directory import SiteAuthMode, SiteAuthStatus

from . import permissions
from .atlassian.needs import scopes_for
from .microsoft.grants import missing_permissions
from .models import Connection, Credential, HealthCheckResult, Provider


@dataclass(frozen=True)
class StatusReason:
    status: str
    reasons: tuple[str, ...]


def _dead_delegated_credential(connection):
    credential = (
        Credential.objects.filter(connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED)
        .order_by("pk")
        .first()
    )
    if credential is None or not credential.last_error or credential.last_error_at is None:
        return None
    if credential.last_refreshed_at and credential.last_refreshed_at > credential.last_error_at:
        return None
    return credential


def _latest_failures(connection):
    return list(
        HealthCheckResult.objects.filter(
            connection=connection, is_latest=True, outcome=HealthCheckResult.Outcome.FAILED
        ).order_by("feature", "check_name")
    )


def _missing_atlassian_scopes(connection):
    """Scopes this connection's features need that the site's grant does not hold (OAuth only:
    an API token carries its account's permissions, not scopes). Read from the site's granted
    scopes, which `sync_connection_grants` copies onto the connection's Atlassian grants."""
    site = connection.site
    if site.auth_mode != SiteAuthMode.OAUTH:
        return []
    granted = set(site.granted_scopes or [])
    return [name for name in scopes_for(connection.features) if name not in granted]


def delegated_sign_in_missing(connection):
    """The connection's features that need an admin's delegated sign-in, when none is stored."""
    needing = permissions.needing_delegated_sign_in(connection.features)
    if not needing or Credential.objects.filter(
        connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED
    ).exists():
        return []
    return needing


def _active_reason(connection):
    latest = HealthCheckResult.objects.filter(connection=connection, is_latest=True)
    passed = latest.filter(outcome=HealthCheckResult.Outcome.PASSED).exists()
    skipped = list(latest.filter(outcome=HealthCheckResult.Outcome.SKIPPED).order_by("feature", "check_name"))
    if not passed:
        return ("Every permission is granted. No health check has run yet.",)
    if skipped:
        return (
            "Every permission is granted and the checks that ran passed.",
            *dict.fromkeys(f"Not checked: {f.message}" for f in skipped),
        )
    return ("Every permission is granted and the last checks passed.",)


def connection_status_evaluate(connection):
    """The status the facts give, with the reasons in words (for the page)."""
    if connection.status == Connection.Status.DISCONNECTED:
        return StatusReason(Connection.Status.DISCONNECTED, ("An admin disconnected this connection.",))
    failures = _latest_failures(connection)

    reauth = []
    site = connection.site
    if site.auth_status == SiteAuthStatus.NEEDS_REAUTH:
        reauth.append(f"The Atlassian site {site.name} needs re-authorization: authorize it again.")
    credential = _dead_delegated_credential(connection)
    if credential is not None:
        reauth.append(f"Microsoft refused to renew the delegated sign-in of {credential.principal or 'the admin'}: "
                      "give permission again.")
    reauth += [f.remedy or f.message for f in failures if f.cause == HealthCheckResult.Cause.NEEDS_REAUTH]
    if reauth:
        return StatusReason(Connection.Status.NEEDS_REAUTH, tuple(dict.fromkeys(reauth)))

    # What holds now, not what was once granted: after the app was removed from the tenant
    # (or a disconnect deleted the tokens) the connection waits for consent again.
    anything = (
        connection.grants.filter(provider=Provider.MICROSOFT, observed=True).exists()
        or Credential.objects.filter(connection=connection, kind=Credential.Kind.MICROSOFT_DELEGATED).exists()
    )
    pending = []
    if not anything:
        pending.append(
            f"Nothing has been granted in {connection.tenant} yet: a tenant admin has to give permission."
        )
    # A site never authorized is the Atlassian side's "nobody has granted anything yet": the
    # connection waits for a first grant, as with a tenant never consented, so pending consent
    # rather than degraded (degraded is for a grant that exists but falls short).
    if site.auth_status == SiteAuthStatus.NOT_AUTHORIZED:
        pending.append(
            f"The Atlassian site {site.name} has not been authorized yet. Authorize {site.name} from its page."
        )
    if pending:
        return StatusReason(Connection.Status.PENDING_CONSENT, tuple(pending))

    degraded = []
    missing = missing_permissions(connection)
    if missing:
        degraded.append(f"Not granted in {connection.tenant}: {', '.join(missing)}.")
    missing_scopes = _missing_atlassian_scopes(connection)
    if missing_scopes:
        degraded.append(
            f"Not granted on the Atlassian site {site.name}: {', '.join(missing_scopes)}. "
            f"Authorize {site.name} again from its page."
        )
    unfit = permissions.unfit_features(connection.features, site.products)
    if unfit:
        degraded += [
            f"{permissions.unfit_in_words(f, site.products)}: it cannot work here. Remove the feature, or "
            f"correct the products of {site.name} on its page."
            for f in unfit
        ]
    delegated = delegated_sign_in_missing(connection)
    if delegated:
        degraded.append(
            f"No delegated sign-in of an admin of {connection.tenant} is stored (a disconnect deletes it), so "
            f"{', '.join(f.title for f in delegated)} cannot work and its delegated checks are skipped. "
            "Sign in with Microsoft again to restore delegated features."
        )
    degraded += [f"{f.message} {f.remedy}".strip() for f in failures if f.cause != HealthCheckResult.Cause.NEEDS_REAUTH]
    if degraded:
        return StatusReason(Connection.Status.DEGRADED, tuple(dict.fromkeys(degraded)))
    return StatusReason(Connection.Status.ACTIVE, _active_reason(connection))


def connection_status_refresh(*, connection, save=True):
    """Set the connection's status from the facts; returns the status. Call it inside the
    transaction that changed a fact (it does not lock: the caller holds what it changed)."""
    status = connection_status_evaluate(connection).status
    if status != connection.status:
        connection.status = status
        if save:
            # Never over a disconnect that landed meanwhile: that transition is not this rule's.
            Connection.objects.filter(pk=connection.pk).exclude(status=Connection.Status.DISCONNECTED).update(
                status=status, updated_at=timezone.now()
            )
    return connection.status


def site_products_changed_refresh(sender, *, site, **kwargs):
    """What a site runs changed (its admin corrected it): its connections' status follows."""
    for connection in Connection.objects.filter(site=site).exclude(status=Connection.Status.DISCONNECTED):
        connection_status_refresh(connection=connection)
