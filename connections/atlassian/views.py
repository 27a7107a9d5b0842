"""Connecting an Atlassian site, in the browser: OAuth 2.0 (3LO) with an explicit site
choice (recommended), or an email + API token. Views stay thin: the flow's state is in
oauth.py, every change in services.py, every outbound call in client.py.

Each way a connection can fail (declined, state mismatch, a reused code, a site the grant
does not cover, a wrong API token) ends on a page that says what happened and what to do,
changes nothing, and is audited.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, scoped
from tenants.models import AtlassianSite

from .. import permissions
from ..params import callback_params
from . import client, endpoints, needs, oauth, refresh, services
from .forms import ApiTokenForm, ChooseSiteForm, ConnectForm, SiteApiTokenForm


def _problem(request, *, title, what, todo, status=400, detail="", site=None):
    return render(
        request,
        "connections/atlassian/problem.html",
        {"title": title, "what": what, "todo": todo, "detail": detail, "site": site},
        status=status,
    )


def _begin(request, *, features, site=None):
    scopes = needs.scopes_for(features)
    url = oauth.begin(request, scopes=scopes, features=features, site=site)
    services.authorization_started(organization=request.organization, acting_user=request.user, scopes=scopes,
                                   site=site)
    return redirect(url)


@admin_required
def connect(request):
    """Choose what the site is for, then go to Atlassian to authorize exactly that."""
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _begin(request, features=form.cleaned_data["features"])
    features = [(f, needs.scopes_for([f.key])) for f in permissions.FEATURES.values()]
    return render(request, "connections/atlassian/connect.html", {"form": form, "features": features})


@admin_required
@require_POST
def reauthorize(request, site_id):
    site = scoped(request, AtlassianSite, pk=site_id)
    return _begin(request, features=needs.site_feature_keys(site), site=site)


def _site_of(request, flow):
    if not flow.get("site"):
        return None
    return AtlassianSite.objects.filter(organization=request.organization, pk=flow["site"]).first()


@admin_required
@require_GET
@never_cache
def callback(request):
    params = callback_params(request.GET)
    flow = None if params.malformed else oauth.take_flow(request, params.get("state"))
    if flow is None:
        services.callback_rejected(
            organization=request.organization,
            acting_user=request.user,
            reason="malformed" if params.malformed else "state_mismatch",
            details={"malformed": list(params.malformed)} if params.malformed else {"error": params.get("error")},
        )
        return _problem(
            request,
            title="This answer from Atlassian was ignored",
            what="It does not belong to an authorization started in this browser, or it came more than 15 minutes "
            "later. Someone may have sent you a link that only looks like the portal's; nothing was changed.",
            todo="Start the connection again from the portal.",
            status=403,
        )
    site = _site_of(request, flow)
    error = params.get("error")
    if error:
        declined = error == "access_denied"
        services.authorization_failed(
            organization=request.organization,
            acting_user=request.user,
            site=site,
            declined=declined,
            reason=error,
            details={"error_description": params.get("error_description")[:300]},
        )
        if declined:
            return _problem(
                request,
                site=site,
                title="Authorization declined",
                what="You (or Atlassian) declined the portal's request on Atlassian's consent screen, so the portal "
                "has no access to the site. Nothing was saved.",
                todo="Start again and choose Accept on Atlassian's screen, or connect with an API token instead.",
            )
        return _problem(
            request,
            site=site,
            title="Atlassian did not authorize the portal",
            what=f"Atlassian answered: {error}. Nothing was saved.",
            todo="Start again; if it keeps happening, give the details below to your portal operator.",
            detail=params.get("error_description")[:300],
        )
    try:
        tokens = endpoints.exchange_code(code=params.get("code"), redirect_uri=oauth.callback_uri())
        resources = endpoints.accessible_resources(access_token=tokens.access_token)
        account = endpoints.me(access_token=tokens.access_token)
    except client.InvalidGrant as exc:
        services.authorization_failed(organization=request.organization, acting_user=request.user, site=site,
                                      reason="code_rejected", details={"error": exc.error})
        return _problem(
            request,
            site=site,
            title="This authorization was already used",
            what="Atlassian refused the authorization code: it was already used (for example by reloading this "
            "page or going back in the browser) or it expired. Nothing was saved.",
            todo="Start the connection again from the portal; it takes a few seconds.",
        )
    except client.AtlassianError as exc:
        services.authorization_failed(organization=request.organization, acting_user=request.user, site=site,
                                      reason="atlassian_error", details={"status": exc.status, "error": exc.error})
        return _problem(
            request,
            site=site,
            title="Atlassian could not be reached",
            what="The portal could not finish the authorization with Atlassian. Nothing was saved.",
            todo="Try again in a few minutes.",
            detail=str(exc),
            status=502,
        )
    if not resources:
        services.authorization_failed(organization=request.organization, acting_user=request.user, site=site,
                                      reason="no_sites", details={"atlassian_account": account.account_id})
        return _problem(
            request,
            site=site,
            title="The authorization covers no site",
            what=f"Atlassian authorized the portal for {account.email or account.name}, but for no Jira or "
            "Confluence site. Nothing was saved.",
            todo="Start again and pick a site on Atlassian's consent screen, with an account that can use it.",
        )
    if site is not None:
        return _finish_reauthorization(request, site, flow, tokens, resources, account)
    key = oauth.keep_pending(request, flow=flow, tokens=tokens, resources=resources, account=account)
    return redirect(reverse("connections:atlassian:choose") + f"?pending={key}")


def _finish_reauthorization(request, site, flow, tokens, resources, account):
    chosen = next(
        (r for r in resources if r.cloud_id == site.cloud_id or services.canonical_url(r.url) == site.url), None
    )
    if chosen is None:
        services.authorization_failed(
            organization=request.organization,
            acting_user=request.user,
            site=site,
            reason="site_not_covered",
            details={"covered": [r.url for r in resources]},
        )
        return _problem(
            request,
            site=site,
            title="The authorization does not cover this site",
            what=f"You authorized the portal for {', '.join(r.url for r in resources)}, but not for {site.url}. "
            "Nothing was changed.",
            todo=f"Authorize again and choose {site.url} on Atlassian's consent screen, with an account that "
            "can use that site.",
        )
    try:
        services.site_authorize_oauth(
            organization=request.organization,
            resource=chosen,
            tokens=tokens,
            products=services.products_of(resource=chosen, tokens=tokens),
            account=account,
            features=flow["features"],
            acting_user=request.user,
            site_id=site.pk,
            other_sites=[r for r in resources if r is not chosen],
        )
    except ValidationError as exc:
        return _problem(request, site=site, title="Not authorized", what=" ".join(exc.messages),
                        todo="Authorize again and choose this site.")
    messages.success(request, f"{site} is authorized again, as {account.email or account.name}.")
    return redirect("tenants:site_detail", site_id=site.pk)


@admin_required
@never_cache
def choose(request):
    """The grant may cover several sites: the admin picks the one to connect."""
    key = request.POST.get("pending") or request.GET.get("pending", "")
    entry = oauth.peek_pending(request, key)
    if entry is None:
        services.authorization_failed(organization=request.organization, acting_user=request.user,
                                      reason="choice_expired")
        return _problem(
            request,
            title="This choice is no longer open",
            what="The site was already chosen, or more than 10 minutes passed since you authorized at Atlassian. "
            "Nothing was saved from this page.",
            todo="Start the connection again from the portal.",
            status=410,
        )
    resources = oauth.resources_of(entry)
    form = ChooseSiteForm(request.POST or None, resources=resources)
    if request.method == "POST":
        posted = request.POST.get("cloud_id", "")
        if posted and posted not in {r.cloud_id for r in resources}:
            oauth.take_pending(request, key)
            services.authorization_failed(organization=request.organization, acting_user=request.user,
                                          reason="site_not_covered", details={"cloud_id": posted[:64]})
            return _problem(
                request,
                title="The authorization does not cover that site",
                what="The site sent with the form is not one the Atlassian authorization covers. Nothing was saved.",
                todo="Start the connection again and choose the site on Atlassian's consent screen.",
            )
        if form.is_valid():
            entry = oauth.take_pending(request, key)
            chosen = next(r for r in resources if r.cloud_id == form.cleaned_data["cloud_id"])
            account = oauth.account_of(entry)
            tokens = oauth.tokens_of(entry)
            site, created = services.site_authorize_oauth(
                organization=request.organization,
                resource=chosen,
                tokens=tokens,
                products=services.products_of(resource=chosen, tokens=tokens),
                account=account,
                features=entry["features"],
                acting_user=request.user,
                other_sites=[r for r in resources if r is not chosen],
            )
            verb = "connected" if created else "authorized again"
            messages.success(request, f"{site} is {verb}, as {account.email or account.name}.")
            others = [r.name for r in resources if r is not chosen]
            if others:
                messages.info(request, f"The authorization also covers {', '.join(others)}: not added. Connect "
                                       "them the same way if the portal should use them.")
            return redirect("tenants:site_detail", site_id=site.pk)
    registered = {s.cloud_id: s for s in request.organization.sites.exclude(cloud_id="")}
    rows = [(r, registered.get(r.cloud_id)) for r in resources]
    return render(
        request,
        "connections/atlassian/choose.html",
        {"form": form, "rows": rows, "pending": key, "account": oauth.account_of(entry)},
    )


@admin_required
def api_token_new(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site, _ = services.api_token_connect(organization=request.organization, acting_user=request.user,
                                                 **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{site} is connected with the API token of {site.account_email}.")
            return redirect("tenants:site_detail", site_id=site.pk)
    return render(request, "connections/atlassian/api_token_form.html", {"form": form, "site": None})


@admin_required
def site_api_token(request, site_id):
    site = scoped(request, AtlassianSite, pk=site_id)
    form = SiteApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.api_token_connect(organization=request.organization, acting_user=request.user, site=site,
                                       url=site.url, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{site} now uses the API token of {form.cleaned_data['email']}.")
            return redirect("tenants:site_detail", site_id=site.pk)
    return render(request, "connections/atlassian/api_token_form.html", {"form": form, "site": site})


@admin_required
@require_POST
def check(request, site_id):
    """One harmless real call with the site's credential (refreshing it if needed)."""
    site = scoped(request, AtlassianSite, pk=site_id)
    try:
        messages.success(request, refresh.site_check(site))
    except refresh.NotAuthorized as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure is shown in words, never as a 500
        status = getattr(getattr(exc, "response", None), "status_code", "") or getattr(exc, "status", "")
        messages.error(request, f"The check failed (Atlassian answered {status or 'nothing'}). "
                                "If it keeps failing, authorize the site again.")
    return redirect("tenants:site_detail", site_id=site.pk)
