"""Whether an organization may use a tenant's app-only access for a connection.

The portal is one multi-tenant app: once any admin of a tenant consented to it, Microsoft gives
the portal an app-only token for that tenant whoever asks. Such a token proves that the tenant
consented to the app, not to which customer. So an organization's connection may use app-only
access only on the strength of its own consent round: a consent request of this connection,
started by this organization, in which an admin of this very tenant signed in (a verified
id_token) holding a role that can grant application permissions of Microsoft Graph, and which
was followed by the tenant's admin-consent round for it.

Every app-only use goes through `require_app_access` (Graph for jobs and health checks, grant
checks, reconnect); the grant table only counts application permissions as observed when it holds.
"""

from ..models import ConsentRequest
from . import roles


class NoOwnConsent(Exception):
    """This organization has no consent of its own from an admin of the tenant."""

    def __init__(self, connection):
        tenant = connection.tenant
        super().__init__(
            f"No administrator of {tenant} has given consent for this connection yet, so the portal does not use "
            f"{tenant}'s data for it (another organization's consent to the portal never counts)."
        )
        self.remedy = (
            f"Ask a {roles.needed_in_words(application=True)} of {tenant} to open a consent link "
            "(“Copy link for the tenant admin” on the connection page), or give permission yourself if you are one."
        )


def app_access_proof(connection):
    """The consent request that lets this connection use app-only access, or None."""
    return (
        ConsentRequest.objects.filter(
            connection=connection,
            organization_id=connection.organization_id,
            state=ConsentRequest.State.CONSENTED,
            admin_consent_at__isnull=False,
            granted_by_role__in=roles.GRANTS_APPLICATION,
            granted_in_tenant__iexact=str(connection.tenant.tenant_id),
        )
        .order_by("-consented_at", "-pk")
        .first()
    )


def has_app_access(connection):
    return app_access_proof(connection) is not None


def require_app_access(connection):
    """Raise NoOwnConsent unless the connection rests on its organization's own admin consent."""
    if not has_app_access(connection):
        raise NoOwnConsent(connection)
