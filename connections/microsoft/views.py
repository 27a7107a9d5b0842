"""Consent for a Microsoft tenant, in the browser.

Two ways in, one flow: "Give permission" (the site admin is the tenant's admin) and a
shared consent link (opened by a tenant admin with no portal account). Both sign the
admin in with Microsoft (auth code + PKCE + nonce, id_token signature checked), then,
when the features need application permissions, send them to admin consent. Nothing is
believed from a callback alone: grants are recorded from tokens the portal fetched.

Flow state lives in the session (connections.microsoft.oauth), keyed by the OAuth `state`,
popped on callback: a callback whose state this browser did not start changes nothing and is
audited (connections.microsoft.consent writes every audit row).
"""

import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, scoped
from tenants.views import FOUND_TENANT_SESSION

from .. import permissions
from ..models import Connection, ConsentRequest
from ..params import callback_params
from ..ratelimit import rate_limited
from . import consent, oauth, roles
from .errors import code_from_description, explain
from .forms import ConsentLinkSendForm
from .grants import missing_permissions


def _acting_user(request: Any) -> Any:
    """The signed-in portal user, or None for a tenant admin holding a consent link."""
    return request.user if request.user.is_authenticated else None


def _begin(request, consent_request):
    """Send the admin to Microsoft to sign in, for this consent request."""
    try:
        flow, url = oauth.sign_in_start(consent_request=consent_request)
    except oauth.MicrosoftError as exc:
        return _result(
            request,
            consent_request,
            ok=False,
            what="Microsoft's sign-in service could not be reached.",
            todo="Try again in a few minutes.",
            detail=str(exc),
            status=502,
        )
    oauth.FLOWS.remember(
        request,
        flow["state"],
        {"flow": flow, "consent_request": consent_request.pk, "stage": "signin", **_asker(consent_request)},
    )
    return redirect(url)


def _result(request, consent_request, *, ok, what, todo="", detail="", status=200, retry=False):
    return render(
        request,
        "connections/microsoft/consent_result.html",
        {
            "consent_request": consent_request, "ok": ok, "what": what, "todo": todo, "detail": detail,
            "retry": retry,
        },
        status=status,
    )


def _finish(request, consent_request, *, admin, token_result, delegated, application, admin_consent):
    try:
        consent.consent_record_grant(
            consent_request=consent_request,
            admin=admin,
            delegated_observed=delegated,
            application_observed=application,
            admin_consent_completed=admin_consent,
            token_result=token_result,
            redirect_uri=oauth.adminconsent_uri() if consent_request.requested_application else oauth.callback_uri(),
            cloud=consent_request.connection.tenant.cloud,
        )
    except ValidationError as exc:
        # The link was withdrawn, replaced or used, or the connection disconnected, while the
        # admin was at Microsoft: nothing is recorded, and the page says whom to ask.
        asker = consent_request.created_by.email if consent_request.created_by else "the site admin"
        return _result(
            request, consent_request, ok=False,
            what=f"{' '.join(exc.messages)} Nothing was recorded in the portal.",
            todo=f"Ask {asker} for a new consent link.",
            status=409,
        )
    consent.consent_record_domains(consent_request=consent_request, admin=admin, token_result=token_result)
    if consent_request.kind == ConsentRequest.Kind.DIRECT and request.user.is_authenticated:
        messages.success(request, "Permissions granted and verified with Microsoft.")
        return redirect("connections:connection_detail", connection_id=consent_request.connection_id)
    request.session[oauth.SESSION_RESULT] = consent_request.pk
    return redirect("connections:microsoft:consent_done")


def _fail(request, consent_request, *, error="", code="", description="", admin=None):
    declined = error == "access_denied" or code == "AADSTS65004"
    try:
        consent.consent_record_failure(
            consent_request=consent_request,
            error=error,
            code=code,
            description=description,
            admin=admin,
            declined=declined,
        )
    except ValidationError:
        pass  # already used up: the result page says what happened anyway
    what, todo = explain(code, error)
    return _result(request, consent_request, ok=False, what=what, todo=todo, detail=code or error, status=400)


def _asker(consent_request):
    """Whom to point the admin to, kept with the flow in case the request is gone by the callback."""
    return {
        "organization": consent_request.organization_id,
        "asker": consent_request.created_by.email if consent_request.created_by_id else "",
    }


def _consent_request_of(entry):
    return (
        ConsentRequest.objects.select_related("connection__tenant", "organization", "created_by")
        .filter(pk=entry["consent_request"])
        .first()
    )


def _connection_gone(request, entry):
    """The tenant, the connection or the consent request was removed while the admin was at
    Microsoft: nothing to record it on. Audited in the organization, if it still exists."""
    organization = consent.consent_callback_for_removed_connection(
        organization_id=entry.get("organization"),
        consent_request_id=entry.get("consent_request"),
        acting_user=_acting_user(request),
    )
    asker = entry.get("asker") or "the site admin who sent you the link"
    return render(
        request,
        "connections/microsoft/consent_result.html",
        {
            "ok": False,
            "what": "This connection no longer exists in the portal: it was removed (or its Microsoft tenant was) "
            "while you were signing in. Nothing was recorded.",
            "todo": f"Ask {asker}"
            + (f" of {organization}" if organization else "")
            + " whether the connection is still wanted; if it is, they will send you a new consent link.",
        },
        status=410,
    )


def _reject_callback(request, reason, details, *, error="invalid_state"):
    """A callback this browser did not start (forged, replayed, or very old): audited, no change."""
    consent.consent_callback_reject(reason=reason, details=details, acting_user=_acting_user(request))
    what, todo = explain(error=error)
    return render(
        request,
        "connections/microsoft/consent_result.html",
        {"ok": False, "what": what, "todo": todo, "detail": reason},
        status=403,
    )


def _wrong_tenant(request, consent_request, admin):
    tenant = consent_request.connection.tenant
    consent.consent_record_wrong_tenant(consent_request=consent_request, admin=admin)
    return _result(
        request,
        consent_request,
        ok=False,
        what=f"You signed in as {admin.upn}, an account of another Microsoft 365 tenant. This link is for "
        f"{tenant.display_name} ({tenant.tenant_id}).",
        todo=f"Sign in with an administrator account of {tenant.display_name}. {_still_usable(consent_request)}",
        status=403,
        retry=_allow_retry(request, consent_request),
    )


def _not_an_admin(request, consent_request, admin, *, application):
    """A verified member of the right tenant without a role that can grant what is asked: never
    recorded as the admin who granted; the link stays usable for someone who can."""
    tenant = consent_request.connection.tenant
    needed = roles.needed_in_words(application=application)
    consent.consent_record_not_an_admin(consent_request=consent_request, admin=admin, needed_role=needed)
    return _result(
        request,
        consent_request,
        ok=False,
        what=f"You signed in as {admin.upn}, who holds no role in {tenant.display_name} that can grant these "
        f"permissions. Only a {needed} can.",
        todo=(f"Sign in with such an account, or send a consent link to a {needed} of {tenant.display_name}. "
              if consent_request.kind == ConsentRequest.Kind.DIRECT else
              f"Forward the link to a {needed} of {tenant.display_name}, or sign in with such an account. ")
        + f"Nothing was recorded. {_still_usable(consent_request)}",
        status=403,
        retry=_allow_retry(request, consent_request),
    )


def _still_usable(consent_request):
    if consent_request.kind == ConsentRequest.Kind.DIRECT:
        return "You can try again from the connection page."
    return "The link still works."


def _allow_retry(request, consent_request):
    """Let this browser (which held the link) start the sign-in again, with another account."""
    if not consent_request.is_usable:
        return False
    request.session[oauth.SESSION_RETRY] = consent_request.pk
    return True


# --- starting -------------------------------------------------------------------------------


@admin_required
@require_POST
def give_permission(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    try:
        consent_request, _ = consent.consent_request_create(
            connection=connection, acting_user=request.user, kind=ConsentRequest.Kind.DIRECT
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("connections:connection_detail", connection_id=connection.pk)
    return _begin(request, consent_request)


@admin_required
@require_POST
def link_create(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    try:
        consent_request, _ = consent.consent_request_create(connection=connection, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("connections:connection_detail", connection_id=connection.pk)
    # Post, redirect, get: reloading the link's page shows the same link and makes no other.
    return redirect("connections:microsoft:link_show", consent_request_id=consent_request.pk)


def _link_url(consent_request):
    if not consent_request.token or not consent_request.is_usable:
        return ""
    return settings.SITE_URL + reverse("connections:microsoft:consent_link", args=[consent_request.token])


@admin_required
@require_GET
def link_show(request, consent_request_id):
    consent_request = scoped(request, ConsentRequest, pk=consent_request_id, kind=ConsentRequest.Kind.LINK)
    return render(
        request,
        "connections/microsoft/link_show.html",
        {
            "connection": consent_request.connection,
            "consent_request": consent_request,
            "url": _link_url(consent_request),
            "send_form": ConsentLinkSendForm(),
        },
    )


@admin_required
@require_POST
def link_send(request, consent_request_id):
    consent_request = scoped(request, ConsentRequest, pk=consent_request_id, kind=ConsentRequest.Kind.LINK)
    form = ConsentLinkSendForm(request.POST)
    if form.is_valid():
        try:
            consent.consent_request_send(
                consent_request=consent_request, to=form.cleaned_data["email"], acting_user=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"The link was sent to {form.cleaned_data['email']}.")
            return redirect("connections:microsoft:link_show", consent_request_id=consent_request.pk)
    return render(
        request,
        "connections/microsoft/link_show.html",
        {
            "connection": consent_request.connection,
            "consent_request": consent_request,
            "url": _link_url(consent_request),
            "send_form": form,
        },
        status=400,
    )


@admin_required
def link_revoke(request, consent_request_id):
    """Withdrawing a link asks first (GET), and happens only on the confirming POST."""
    consent_request = scoped(request, ConsentRequest, pk=consent_request_id)
    if request.method != "POST":
        return render(
            request,
            "connections/microsoft/link_revoke_confirm.html",
            {"connection": consent_request.connection, "consent_request": consent_request},
        )
    try:
        consent.consent_request_revoke(consent_request=consent_request, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The consent link no longer works.")
    return redirect("connections:connection_detail", connection_id=consent_request.connection_id)


@admin_required
@require_POST
def tenant_find(request):
    """"Connect new tenant" starting with a Microsoft sign-in: the id_token names the tenant, and
    Graph's /organization (as the signed-in user) its name and verified domains."""
    try:
        flow, url = oauth.tenant_find_start(cloud=request.POST.get("cloud") or "public")
    except oauth.MicrosoftError:
        messages.error(request, "Microsoft's sign-in service could not be reached. Try again in a few minutes, or "
                                "type the tenant id.")
        return redirect("tenants:tenant_new")
    oauth.FLOWS.remember(request, flow["state"], {
        "flow": flow, "stage": "find_tenant", "organization": request.organization.pk,
        "cloud": request.POST.get("cloud") or "public",
    })
    return redirect(url)


def _tenant_found(request, entry, params):
    cloud = entry.get("cloud", "public")
    try:
        found = oauth.tenant_find_finish(cloud=cloud, flow=entry["flow"], params=params.values)
    except oauth.MicrosoftError as exc:
        what, todo = explain(exc.code, exc.error)
        messages.error(request, f"{what} {todo}")
        return redirect("tenants:tenant_new")
    request.session[FOUND_TENANT_SESSION] = found
    return redirect("tenants:tenant_new")


# --- the shared link (no portal account needed) ---------------------------------------------


def _link_or_gone(request, token):
    consent_request = consent.consent_request_find(token)
    if consent_request is None:
        return None, render(request, "connections/microsoft/link_gone.html", {"reason": "unknown"}, status=404)
    if not consent_request.is_usable:
        return None, render(
            request,
            "connections/microsoft/link_gone.html",
            {"reason": consent_request.effective_state, "consent_request": consent_request},
            status=410,
        )
    return consent_request, None


@never_cache
@require_GET
@rate_limited("consent-link")
def consent_link(request, token):
    consent_request, gone = _link_or_gone(request, token)
    if gone:
        return gone
    consent_request = consent.consent_request_open(consent_request=consent_request)
    connection = consent_request.connection
    return render(
        request,
        "connections/microsoft/consent_link.html",
        {
            "consent_request": consent_request,
            "connection": connection,
            "features": permissions.features(connection.features),
            "graph_permissions": permissions.graph_permissions(connection.features),
            **permissions.consent_screen_note(consent_request.requested_application),
            "needed_role": roles.needed_in_words(application=bool(consent_request.requested_application)),
            "token": token,
            # The public statement for this connection's features only: the URL names features, never
            # the link's token or the connection (see statement_views.data_statement_public).
            "statement_query": urlencode({"features": ",".join(connection.features)}),
        },
    )


@never_cache
@require_POST
@rate_limited("consent-link")
def consent_link_start(request, token):
    consent_request, gone = _link_or_gone(request, token)
    if gone:
        return gone
    return _begin(request, consent_request)


@never_cache
@require_POST
def consent_retry(request):
    """"Sign in with another account", from a result page this browser was shown."""
    consent_request = (
        ConsentRequest.objects.select_related("connection__tenant")
        .filter(pk=request.session.pop(oauth.SESSION_RETRY, None))
        .first()
    )
    if consent_request is None or not consent_request.is_usable:
        what, todo = explain(error="invalid_state")
        return render(
            request, "connections/microsoft/consent_result.html", {"ok": False, "what": what, "todo": todo},
            status=410,
        )
    return _begin(request, consent_request)


# --- Microsoft's callbacks -------------------------------------------------------------------


@never_cache
@require_GET
def callback(request):
    """Back from sign-in: redeem the code, verify who signed in, then admin consent if needed."""
    params = callback_params(request.GET)
    if params.malformed:
        return _reject_callback(request, "malformed callback", {"malformed": list(params.malformed)})
    entry = oauth.FLOWS.take(request, params.get("state"))
    if entry is not None and entry.get("stage") == "find_tenant" and request.user.is_authenticated:
        if "error" in params:
            what, todo = explain(code_from_description(params.get("error_description", "")), params["error"])
            messages.error(request, f"{what} {todo}")
            return redirect("tenants:tenant_new")
        return _tenant_found(request, entry, params)
    if entry is None or entry.get("stage") != "signin":
        return _reject_callback(request, "unknown state", {"has_code": "code" in params})
    consent_request = _consent_request_of(entry)
    if consent_request is None:
        return _connection_gone(request, entry)
    if "error" in params:
        description = params.get("error_description", "")
        return _fail(
            request,
            consent_request,
            error=params["error"],
            code=code_from_description(description),
            description=description,
        )
    try:
        admin, token_result = oauth.sign_in_finish(
            consent_request=consent_request, flow=entry["flow"], params=params.values
        )
    except oauth.WrongTenant as exc:
        # The link stays usable: the right admin may still open it.
        return _wrong_tenant(request, consent_request, exc.admin)
    except oauth.MicrosoftError as exc:
        if exc.error in ("invalid_state", "unverified_sign_in"):
            return _reject_callback(request, str(exc), {"consent_request": consent_request.pk}, error=exc.error)
        return _fail(request, consent_request, error=exc.error, code=exc.code, description=str(exc))
    application = bool(consent_request.requested_application)
    if not oauth.can_grant(admin, application=application):
        return _not_an_admin(request, consent_request, admin, application=application)
    delegated = oauth.delegated_scopes(token_result)
    if not application:
        return _finish(
            request, consent_request, admin=admin, token_result=token_result, delegated=delegated, application=[],
            admin_consent=False,
        )
    state = secrets.token_urlsafe(24)
    oauth.FLOWS.remember(
        request,
        state,
        {
            "stage": "adminconsent",
            "consent_request": consent_request.pk,
            **_asker(consent_request),
            "admin": admin.as_list(),
            "delegated": delegated,
            # Kept in the session only until admin consent returns, and encrypted there too.
            "token_result": oauth.seal_token_result(token_result),
        },
    )
    try:
        url = oauth.admin_consent_start(consent_request=consent_request, state=state)
    except oauth.MicrosoftError as exc:
        return _fail(request, consent_request, error=exc.error, code=exc.code, description=str(exc), admin=admin)
    return redirect(url)


@never_cache
@require_GET
def adminconsent_callback(request):
    """Back from admin consent. The `tenant` it names is checked against the link's, and
    the grant is believed only from an app-only token the portal obtains itself."""
    params = callback_params(request.GET)
    if params.malformed:
        return _reject_callback(request, "malformed callback", {"malformed": list(params.malformed)})
    entry = oauth.FLOWS.take(request, params.get("state"))
    if entry is None or entry.get("stage") != "adminconsent":
        return _reject_callback(request, "unknown state", {"tenant": params.get("tenant", "")[:64]})
    consent_request = _consent_request_of(entry)
    if consent_request is None:
        return _connection_gone(request, entry)
    tenant = consent_request.connection.tenant
    admin = oauth.SignedInAdmin.from_list(entry["admin"])
    if "error" in params:
        description = params.get("error_description", "")
        return _fail(
            request,
            consent_request,
            error=params["error"],
            code=code_from_description(description),
            description=description,
            admin=admin,
        )
    if params.get("tenant", "").lower() != str(tenant.tenant_id).lower():
        return _reject_callback(
            request,
            "tenant mismatch",
            {
                "consent_request": consent_request.pk,
                "tenant": params.get("tenant", "")[:64],
            },
        )
    try:
        # This organization's own admin-consent round just came back for this tenant: the
        # app-only token's roles are what that consent granted.
        app_roles = oauth.granted_application_roles(consent_request=consent_request)
    except oauth.MicrosoftError as exc:
        return _fail(request, consent_request, error=exc.error, code=exc.code, description=str(exc), admin=admin)
    token_result = oauth.open_token_result(entry["token_result"])
    return _finish(
        request,
        consent_request,
        admin=admin,
        token_result=token_result,
        delegated=entry["delegated"],
        application=app_roles,
        admin_consent=True,
    )


@never_cache
def consent_done(request):
    consent_request = (
        ConsentRequest.objects.select_related("connection__site", "connection__tenant")
        .filter(pk=request.session.get(oauth.SESSION_RESULT))
        .first()
    )
    if consent_request is None:
        return redirect("home")
    connection = consent_request.connection
    grants = connection.grants.filter(observed=True, provider="microsoft")
    return render(
        request,
        "connections/microsoft/consent_result.html",
        {
            "consent_request": consent_request,
            "ok": True,
            "grants": grants,
            "missing": missing_permissions(connection),
        },
    )
