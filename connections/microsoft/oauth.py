"""The browser side of Microsoft consent: flow state, callback URLs, the sign-in waiting for
admin consent.

Flow state lives in the session (connections.flows, shared with Atlassian's authorization),
keyed by the OAuth `state` and popped on callback: a callback whose state this browser did not
start finds nothing. Between the sign-in and admin consent, the sign-in's tokens wait in the
flow encrypted with the credential keys (never in plain text, not even in the session store).
"""

import json
from typing import Any

from django.conf import settings
from django.urls import reverse

from .. import crypto
from ..flows import FlowStash
from ..models import ConsentRequest
from . import client, endpoints, roles
from .graph import GraphError

SESSION_FLOWS = "microsoft_consent_flows"
SESSION_RESULT = "microsoft_consent_result"
# The consent request this browser may sign in to again after signing in with the wrong account.
SESSION_RETRY = "microsoft_consent_retry"
MAX_FLOWS = 5  # a browser rarely has more consent sign-ins under way; older ones are dropped
FLOWS = FlowStash(SESSION_FLOWS, max_flows=MAX_FLOWS)

_KEPT_TOKEN_FIELDS = ("access_token", "refresh_token", "expires_in", "scope")


def callback_uri() -> str:
    # Registered with Microsoft exactly as SITE_URL + this path.
    return settings.SITE_URL + reverse("connections:microsoft:callback")


def adminconsent_uri() -> str:
    return settings.SITE_URL + reverse("connections:microsoft:adminconsent_callback")


def seal_token_result(token_result: dict[str, Any]) -> str:
    """The sign-in's tokens, encrypted, to keep in the flow until admin consent returns."""
    return crypto.encrypt(json.dumps({k: token_result.get(k) for k in _KEPT_TOKEN_FIELDS}))


def open_token_result(sealed: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(crypto.decrypt(sealed))
    return result


# --- the sign-in steps, for the views ---------------------------------------------------------
# The views parse Microsoft's callbacks and render; these call the identity platform
# (connections.microsoft.client) with what a consent request asks for.

MicrosoftError = client.MicrosoftError
WrongTenant = client.WrongTenant
SignedInAdmin = client.SignedInAdmin


def sign_in_start(*, consent_request: ConsentRequest) -> tuple[dict[str, Any], str]:
    """Begin the admin's sign-in for this consent request: (flow to keep, URL to send them to).
    Raises MicrosoftError when the sign-in service cannot be reached."""
    tenant = consent_request.connection.tenant
    flow, url = client.start_sign_in(
        tenant_id=tenant.tenant_id,
        cloud=tenant.cloud,
        scopes=consent_request.requested_delegated or ["User.Read"],
        redirect_uri=callback_uri(),
    )
    return flow, url


def sign_in_finish(
    *, consent_request: ConsentRequest, flow: dict[str, Any], params: dict[str, str]
) -> tuple[client.SignedInAdmin, dict[str, Any]]:
    """Redeem the callback's code: (who signed in, verified; the token result). Raises
    WrongTenant (an admin of another tenant) or MicrosoftError."""
    tenant = consent_request.connection.tenant
    admin, token_result = client.finish_sign_in(
        tenant_id=tenant.tenant_id, cloud=tenant.cloud, flow=flow, params=params
    )
    return admin, token_result


def can_grant(admin: client.SignedInAdmin, *, application: bool) -> bool:
    """Whether the signed-in admin holds a role that can grant what is asked."""
    return roles.granting_role(admin.roles, application=application) is not None


def delegated_scopes(token_result: dict[str, Any]) -> list[str]:
    """The delegated permissions the sign-in's token carries."""
    scopes: list[str] = client.delegated_scopes(token_result)
    return scopes


def admin_consent_start(*, consent_request: ConsentRequest, state: str) -> str:
    """The URL where the tenant's admin grants the application permissions. Raises MicrosoftError."""
    tenant = consent_request.connection.tenant
    url: str = client.admin_consent_url(
        tenant_id=tenant.tenant_id, cloud=tenant.cloud, redirect_uri=adminconsent_uri(), state=state
    )
    return url


def granted_application_roles(*, consent_request: ConsentRequest) -> list[str]:
    """The application permissions the tenant granted, from an app-only token the portal fetches
    itself (never a callback's word). Raises MicrosoftError."""
    tenant = consent_request.connection.tenant
    app_roles: list[str] = client.application_roles(tenant_id=tenant.tenant_id, cloud=tenant.cloud)
    return app_roles


# --- finding a tenant by signing in to it ----------------------------------------------------


def tenant_find_start(*, cloud: str) -> tuple[dict[str, Any], str]:
    """Begin a sign-in (any tenant) whose id_token names the tenant to connect: (flow, URL).
    Raises MicrosoftError when the sign-in service cannot be reached."""
    flow, url = client.start_sign_in(
        tenant_id=None, cloud=cloud, scopes=["User.Read"], redirect_uri=callback_uri()
    )
    return flow, url


def tenant_find_finish(*, cloud: str, flow: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The tenant the sign-in names (verified id_token), with its name and verified domains from
    Graph's /organization read as the signed-in user (left empty when Graph does not answer).
    Raises MicrosoftError."""
    person, token_result = client.finish_sign_in(tenant_id=None, cloud=cloud, flow=flow, params=params)
    try:
        found = endpoints.organization(access_token=token_result.get("access_token", ""), cloud=cloud)
    except GraphError:
        found = endpoints.TenantOrganization(tenant_id=person.tenant_id, display_name="")
    same = found.tenant_id.lower() == person.tenant_id.lower()
    return {
        "tenant_id": person.tenant_id,
        "display_name": found.display_name if same else "",
        "domains": [d["name"] for d in found.domains],
        "cloud": cloud,
        "found_by": person.upn,
    }
