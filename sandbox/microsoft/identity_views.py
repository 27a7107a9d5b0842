"""The identity platform's machine endpoints: OpenID discovery, JWKS and the token endpoint."""

import base64
import datetime
import hashlib

from django.http import JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox.db import atomic

from .. import faults, requestlog
from ..origins import browser_origin, origin
from . import bot, directory, tokens
from .errors import fault_error, throttled_error, token_error
from .models import App, AuthorizationCode, RefreshToken
from .permissions import GRAPH_APP_ID, GRAPH_RESOURCE, ScopeError, split_scopes

REFRESH_TOKEN_DAYS = 90


def _tenant_or_error(segment):
    # The Bot Framework's own tenant serves discovery and keys like a multi-tenant segment.
    if segment in directory.MULTI_TENANT_SEGMENTS or segment == bot.BOTFRAMEWORK_TENANT:
        return None, None
    tenant = directory.resolve_tenant(segment)
    if tenant is None:
        return None, token_error(
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud.",
        )
    return tenant, None


@require_GET
def openid_configuration(request, tenant):
    found, error = _tenant_or_error(tenant)
    if error:
        return error
    base, browser = origin(request), browser_origin(request)
    # For organizations/common the issuer is a template: the real tenant is in each token.
    tid = str(found.pk) if found else "{tenantid}"
    return JsonResponse(
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/graph/oidc/userinfo",
            # The browser leg is plain http on loopback (no certificate warning); msal only builds a URL.
            "authorization_endpoint": f"{browser}/{tenant}/oauth2/v2.0/authorize",
            "end_session_endpoint": f"{browser}/{tenant}/oauth2/v2.0/logout",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
                "oid",
            ],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
    )


@require_GET
def keys(request, tenant):
    found, error = _tenant_or_error(tenant)
    if error:
        return error
    return JsonResponse(tokens.jwks())


def _client(request, segment):
    """(app, error): the app named by client_id, authenticated by its secret."""
    client_id = request.POST.get("client_id", "")
    secret = request.POST.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            pass
    requestlog.note(request, client_id=client_id)
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        return None, token_error(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{segment}'. This can "
            "happen if the application has not been installed by the administrator of the tenant or "
            "consented "
            "to by any user in the tenant. You may have sent your authentication request to the "
            "wrong tenant.",
        )
    if not secret:
        return None, token_error(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            status=401,
        )
    if not constant_time_compare(secret, app.client_secret):
        return None, token_error(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret "
            f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
            status=401,
        )
    return app, None


@csrf_exempt
@require_POST
def token(request, tenant):
    # The Bot Framework's token (its own audience, its own botframework.com tenant).
    if bot.is_bot_token_request(request, tenant):
        return bot.token(request, tenant, _client)
    found, error = _tenant_or_error(tenant)
    if error:
        return error
    app, error = _client(request, tenant)
    if error:
        return error
    if found is not None:
        requestlog.note(request, target=faults.tenant_target(found.pk))
        error = faults.apply(request, faults.tenant_target(found.pk), fault_error)
        if error:
            return error
        retry_after = faults.token_throttled(faults.tenant_target(found.pk))
        if retry_after is not None:
            return throttled_error(retry_after)
    grant_type = request.POST.get("grant_type", "")
    handler = {
        "client_credentials": _client_credentials,
        "authorization_code": _authorization_code,
        "refresh_token": _refresh_token,
    }.get(grant_type)
    if handler is None:
        return token_error(
            "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
        )
    return handler(request, app, found, tenant)


def _lifetime(tenant_id):
    return faults.token_lifetime(faults.tenant_target(tenant_id), tokens.ACCESS_TOKEN_SECONDS)


def _client_credentials(request, app, tenant, segment):
    if tenant is None:
        return token_error(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    scope = request.POST.get("scope", "").strip()
    if not scope.endswith("/.default") or " " in scope:
        return token_error(
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
            "value with /.default suffixed to the resource identifier (application ID URI).",
        )
    resource = scope[: -len("/.default")].rstrip("/")
    if resource not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        return token_error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant.display_name}.",
        )
    roles = directory.application_permissions_for(tenant, app)
    if roles is None:
        # A multi-tenant app that no one in the tenant consented to has no service principal there.
        # Reference: https://learn.microsoft.com/microsoftteams/platform/teams-sdk/teams/app-authentication/troubleshooting
        # Reference: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
        return token_error(
            "invalid_client",
            7000229,
            f"The client application {app.client_id} is missing service principal in the tenant {tenant.pk}. "
            "See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
            status=401,
        )
    lifetime = _lifetime(tenant.pk)
    access = tokens.access_token(app=app, tenant_id=tenant.pk, lifetime=lifetime, roles=roles)
    return JsonResponse(
        {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}
    )


def _pkce_ok(code, verifier):
    if not code.code_challenge:
        return True
    if not verifier:
        return False
    if code.code_challenge_method.upper() == "PLAIN":
        return verifier == code.code_challenge
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == code.code_challenge


def _authorization_code(request, app, tenant, segment):
    value = request.POST.get("code", "")
    code = (
        AuthorizationCode.objects.select_related("user__tenant")
        .filter(code_hash=tokens.hash_secret(value), app=app)
        .first()
    )
    if code is None or (tenant is not None and code.user.tenant_id != tenant.pk):
        return token_error("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if code.redeemed_at is not None:
        return token_error(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
            "existing refresh token.",
        )
    if code.expires_at <= timezone.now():
        return token_error(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new "
            "interactive authorization request for this user and resource.",
        )
    if request.POST.get("redirect_uri", "") != code.redirect_uri:
        return token_error(
            "invalid_grant",
            50011,
            f"The redirect URI '{request.POST.get('redirect_uri', '')}' specified in the request does "
            "not match "
            f"the redirect URIs configured for the application '{app.client_id}'.",
        )
    if not _pkce_ok(code, request.POST.get("code_verifier", "")):
        return token_error(
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        )
    with atomic():
        # Single use even when two redemptions race.
        if not AuthorizationCode.objects.filter(pk=code.pk, redeemed_at=None).update(redeemed_at=timezone.now()):
            return token_error("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed.")
    graph = [s for s in code.scopes if s not in ("openid", "profile", "email", "offline_access")]
    oidc = [s for s in code.scopes if s in ("openid", "profile", "email", "offline_access")]
    return _user_tokens(request, app, code.user, graph, oidc, code.nonce)


def _refresh_token(request, app, tenant, segment):
    row = (
        RefreshToken.objects.select_related("user__tenant")
        .filter(token_hash=tokens.hash_secret(request.POST.get("refresh_token", "")), app=app)
        .first()
    )
    if row is None or (tenant is not None and row.user.tenant_id != tenant.pk):
        return token_error("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if row.expires_at <= timezone.now():
        return token_error(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on "
            f"{row.created.isoformat()} and was inactive for {REFRESH_TOKEN_DAYS}.00:00:00.",
        )
    user = row.user
    if user.deleted or not user.account_enabled:
        return token_error("invalid_grant", 50057, "The user account is disabled.")
    try:
        graph, oidc, _ = split_scopes(request.POST.get("scope", ""), app)
    except ScopeError as bad:
        return token_error(
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {bad} is not valid.",
        )
    consented = directory.delegated_scopes_for(user.tenant, app, user)
    if not graph:
        graph = [s for s in row.scopes if s in consented]
    missing = [s for s in graph if s not in consented]
    if missing:
        return token_error(
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID '{app.client_id}' "
            f"named '{app.display_name}'. Send an interactive authorization request for this user and "
            "resource.",
        )
    return _user_tokens(request, app, user, graph, oidc or ["offline_access"], nonce=None)


def _user_tokens(request, app, user, graph_scopes, oidc_scopes, nonce):
    requestlog.note(request, target=faults.tenant_target(user.tenant_id))
    lifetime = _lifetime(user.tenant_id)
    base = origin(request)
    body = {
        "token_type": "Bearer",
        "scope": " ".join([*graph_scopes, *oidc_scopes]),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": tokens.access_token(
            app=app,
            tenant_id=user.tenant_id,
            lifetime=lifetime,
            user=user,
            scopes=graph_scopes or [s for s in oidc_scopes if s != "offline_access"],
        ),
    }
    if "offline_access" in oidc_scopes:
        value, digest = tokens.new_secret()
        RefreshToken.objects.create(
            token_hash=digest,
            app=app,
            user=user,
            scopes=graph_scopes,
            expires_at=timezone.now() + datetime.timedelta(days=REFRESH_TOKEN_DAYS),
        )
        body["refresh_token"] = value
    if "openid" in oidc_scopes:
        body["id_token"] = tokens.id_token(origin=base, app=app, user=user, nonce=nonce)
    if request.POST.get("client_info") in ("1", "true"):
        body["client_info"] = tokens.client_info(user)
    return JsonResponse(body)
