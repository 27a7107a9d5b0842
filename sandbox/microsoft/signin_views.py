"""The browser leg: sign-in, consent and admin consent pages, ending in a redirect to the app.

No Django session and no portal CSRF cookie: the pages share a host with the portal (cookies
are per host, not per port), so the signed-in user lives in the sandbox's own signed cookie
`sbx_ms`, and each form carries a signed copy of the request it continues (`flow`), which is
also what makes a forged POST useless.
"""

import datetime
import secrets

from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from .. import faults, requestlog
from . import directory, roles, tokens
from .errors import error_page, page, redirect_error, redirect_to
from .models import App, AuthorizationCode, DirectoryUser, RedirectUri
from .permissions import DELEGATED, ScopeError, needs_admin, split_scopes

COOKIE = "sbx_ms"
_COOKIE_SALT = "sandbox.microsoft.signin"
_FLOW_SALT = "sandbox.microsoft.flow"
CODE_SECONDS = 600
DECLINED = "User declined to consent to access the app."
NEEDS_ADMIN = "The grant requires admin permission."


def _signed_in(request):
    try:
        uid = signing.loads(request.COOKIES.get(COOKIE, ""), salt=_COOKIE_SALT, max_age=8 * 3600)
    except signing.BadSignature:
        return None
    return DirectoryUser.objects.select_related("tenant").filter(pk=uid, deleted=False, account_enabled=True).first()


def _remember(response, user):
    response.set_cookie(COOKIE, signing.dumps(str(user.pk), salt=_COOKIE_SALT), httponly=True, samesite="Lax")
    return response


def _validate_app(request, params, tenant_segment):
    """(app, error page): the client and its redirect URI, checked before anything redirects."""
    client_id = params.get("client_id", "")
    requestlog.note(request, client_id=client_id)
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        return None, error_page(
            request,
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant_segment}'.",
        )
    redirect_uri = params.get("redirect_uri", "")
    if not app.redirect_uris.filter(uri=redirect_uri).exists():
        return None, error_page(
            request,
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
            f"configured for the application '{app.client_id}'. Make sure the redirect URI sent in "
            "the request "
            "matches one added to your application in the Azure portal.",
        )
    return app, None


def _tenant_check(request, segment, *, allow_common=True):
    if segment in directory.MULTI_TENANT_SEGMENTS:
        if segment == "common" and not allow_common:
            return None, error_page(
                request,
                90130,
                "Application is not supported over the /common or /consumers endpoints. Please use the "
                "/organizations or tenant-specific endpoint.",
            )
        return None, None
    tenant = directory.resolve_tenant(segment)
    if tenant is None:
        return None, error_page(request, 90002, f"Tenant '{segment}' not found.")
    return tenant, None


def _flow_params(request):
    """The original request's parameters: from the query, or from a signed `flow` field."""
    if request.method == "POST" and "flow" in request.POST:
        try:
            return signing.loads(request.POST["flow"], salt=_FLOW_SALT, max_age=3600)
        except signing.BadSignature:
            return None
    return {"params": request.GET.dict()}


def _page(request, template, flow, **context):
    context["flow"] = signing.dumps(flow, salt=_FLOW_SALT)
    return page(template, context)


def _sign_in_step(request, tenant, flow):
    """(user, None) when someone is signed in for this flow, else (None, the sign-in page) or
    (None, "login_required") for prompt=none."""
    prompt = flow["params"].get("prompt", "")
    if request.method == "POST" and request.POST.get("step") == "signin":
        user = directory.find_user(tenant, request.POST.get("username", ""))
        if user is None or not constant_time_compare(user.password, request.POST.get("password", "")):
            message = "Your account or password is incorrect."
        elif not user.account_enabled:
            message = "Your account has been locked. Contact your support person to unlock it."
        else:
            message = None
        if message:
            return None, _page(
                request,
                "signin.html",
                flow,
                error=message,
                tenant=tenant,
                username=request.POST.get("username", ""),
            )
        flow["uid"] = str(user.pk)
        return user, None
    if flow.get("uid"):
        user = DirectoryUser.objects.select_related("tenant").filter(pk=flow["uid"]).first()
        if user:
            return user, None
    user = _signed_in(request)
    if user and prompt not in ("login", "select_account") and (tenant is None or user.tenant_id == tenant.pk):
        flow["uid"] = str(user.pk)
        return user, None
    if prompt == "none":
        return None, "login_required"
    return None, _page(request, "signin.html", flow, tenant=tenant, username=flow["params"].get("login_hint", ""))


def _issue_code(request, app, user, params, graph, oidc):
    value, digest = tokens.new_secret()
    AuthorizationCode.objects.create(
        code_hash=digest,
        app=app,
        user=user,
        redirect_uri=params["redirect_uri"],
        scopes=[*graph, *oidc],
        nonce=params.get("nonce", ""),
        code_challenge=params.get("code_challenge", ""),
        code_challenge_method=params.get("code_challenge_method", "plain" if params.get("code_challenge") else ""),
        expires_at=timezone.now() + datetime.timedelta(seconds=CODE_SECONDS),
    )
    result = {"code": value, "session_state": secrets.token_hex(16)}
    if params.get("client_info") == "1":  # msal asks for it, for its routing header
        result["client_info"] = tokens.client_info(user)
    if "state" in params:
        result["state"] = params["state"]
    response = redirect_to(params["redirect_uri"], result, params.get("response_mode", "query"), request)
    return _remember(response, user)


@csrf_exempt
def authorize(request, tenant):
    flow = _flow_params(request)
    if flow is None:
        return error_page(request, 90014, "The request was tampered with or has expired. Start again.")
    params = flow["params"]
    found, error = _tenant_check(request, tenant)
    if error:
        return error
    app, error = _validate_app(request, params, tenant)
    if error:
        return error
    back = {
        "state": params.get("state"),
        "response_mode": params.get("response_mode", "query"),
        "request": request,
    }
    if params.get("response_type") != "code":
        return redirect_error(
            params["redirect_uri"],
            error="unsupported_response_type",
            code=700054,
            message="response_type 'code' is the only one the app may use here.",
            **back,
        )
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return redirect_error(
            params["redirect_uri"],
            error="invalid_request",
            code=50147,
            message="Invalid code challenge method.",
            **back,
        )
    try:
        graph, oidc, _ = split_scopes(params.get("scope", ""), app)
    except ScopeError as bad:
        return redirect_error(
            params["redirect_uri"],
            error="invalid_scope",
            code=70011,
            message=f"The provided value for the input parameter 'scope' is not valid. "
            f"The scope '{bad}' does not exist.",
            **back,
        )
    user, page = _sign_in_step(request, found, flow)
    if page == "login_required":
        return redirect_error(
            params["redirect_uri"],
            error="login_required",
            code=50058,
            message="A silent sign-in request was sent but no user is signed in.",
            **back,
        )
    if user is None:
        return page
    requestlog.note(request, target=faults.tenant_target(user.tenant_id))
    consented = directory.delegated_scopes_for(user.tenant, app, user)
    missing = [s for s in graph if s not in consented]
    step = request.POST.get("step") if request.method == "POST" else None
    if step == "consent":
        declined = request.POST.get("decision") != "accept" or faults.consent_declined(
            faults.tenant_target(user.tenant_id)
        )
        if declined:
            return redirect_error(
                params["redirect_uri"],
                error="access_denied",
                code=65004,
                message=DECLINED,
                extra={"error_subcode": "cancel"},
                **back,
            )
        for_everyone = roles.can_grant_delegated(user) and request.POST.get("for_organization") == "on"
        directory.grant_delegated(
            sp=directory.service_principal(user.tenant, app),
            principal=None if for_everyone else user,
            scopes=graph,
            granted_by=user,
        )
        return _issue_code(request, app, user, params, graph, oidc)
    if step == "back_to_app":
        return redirect_error(params["redirect_uri"], error="access_denied", code=90094, message=NEEDS_ADMIN, **back)
    if not missing and params.get("prompt") != "consent":
        return _issue_code(request, app, user, params, graph, oidc)
    if params.get("prompt") == "none":
        return redirect_error(
            params["redirect_uri"],
            error="consent_required",
            code=65001,
            message=f"The user or administrator has not consented to use the application "
            f"with ID '{app.client_id}' named '{app.display_name}'.",
            **back,
        )
    if needs_admin(missing) and not roles.can_grant_delegated(user):
        return _remember(
            _page(request, "needs_admin.html", flow, app=app, user=user, permissions=_describe(missing)), user
        )
    return _remember(
        _page(request, "consent.html", flow, app=app, user=user, permissions=_describe(graph), delegated=True),
        user,
    )


def _describe(scopes, application=()):
    rows = [{"name": s, "kind": "Delegated", "admin": DELEGATED.get(s, True)} for s in scopes]
    rows += [{"name": s, "kind": "Application", "admin": True} for s in application]
    return rows


@csrf_exempt
def admin_consent(request, tenant, version="v2"):
    """v2 (`/{tenant}/v2.0/adminconsent`, with `scope`) and v1 (`/{tenant}/adminconsent`)."""
    flow = _flow_params(request)
    if flow is None:
        return error_page(request, 90014, "The request was tampered with or has expired. Start again.")
    params = flow["params"]
    if version == "v1" and not params.get("redirect_uri"):
        # The tenant-wide admin consent URL may name the client only: Microsoft then sends the
        # admin back to the app's registered reply URL.
        # Reference: https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent#construct-the-url-for-granting-tenant-wide-admin-consent
        reply = RedirectUri.objects.filter(app_id=params.get("client_id", "")).order_by("id").first()
        if reply is not None:
            params = {**params, "redirect_uri": reply.uri}
    found, error = _tenant_check(request, tenant, allow_common=False)
    if error:
        return error
    app, error = _validate_app(request, params, tenant)
    if error:
        return error
    scope = params.get("scope", "") if version == "v2" else ""
    back = {"state": params.get("state"), "request": request}
    if version == "v2":
        try:
            graph, _, asked_default = split_scopes(scope, app)
        except ScopeError as bad:
            return redirect_error(
                params["redirect_uri"],
                error="invalid_scope",
                code=70011,
                message=f"The scope '{bad}' does not exist.",
                **back,
            )
        app_roles = app.application_permissions if asked_default else []
    else:
        graph, app_roles = list(app.delegated_scopes), list(app.application_permissions)
    user, page = _sign_in_step(request, found, flow)
    if user is None:
        return page if page != "login_required" else error_page(request, 50058, "No user is signed in.")
    requestlog.note(request, target=faults.tenant_target(user.tenant_id))
    # App roles of Microsoft Graph need a Global or Privileged Role Administrator; delegated
    # scopes alone can also be granted by a (Cloud) Application Administrator.
    if not (roles.can_grant_application(user) if app_roles else roles.can_grant_delegated(user)):
        return redirect_error(params["redirect_uri"], error="access_denied", code=90094, message=NEEDS_ADMIN, **back)
    if request.method == "POST" and request.POST.get("step") == "consent":
        if request.POST.get("decision") != "accept" or faults.consent_declined(faults.tenant_target(user.tenant_id)):
            # Microsoft may send admin_consent=True even on failure: clients must not trust it.
            return redirect_error(
                params["redirect_uri"],
                error="access_denied",
                code=65004,
                message=DECLINED,
                extra={"admin_consent": "True"},
                **back,
            )
        directory.grant_admin_consent(
            tenant=user.tenant, app=app, admin=user, application_permissions=app_roles, delegated_scopes=graph
        )
        result = {"admin_consent": "True", "tenant": str(user.tenant_id)}
        if version == "v2":
            result["scope"] = scope
        if "state" in params:
            result["state"] = params["state"]
        return _remember(redirect_to(params["redirect_uri"], result), user)
    return _remember(
        _page(
            request,
            "consent.html",
            flow,
            app=app,
            user=user,
            permissions=_describe(graph, app_roles),
            admin_consent=True,
        ),
        user,
    )


def logout(request, tenant):
    target = request.GET.get("post_logout_redirect_uri")
    response = page("signed_out.html", {"target": target})
    response.delete_cookie(COOKIE)
    return response
