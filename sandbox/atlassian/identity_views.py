"""api.atlassian.com identity calls: accessible-resources and /me; and a site's tenant_info."""

from .auth import apply_faults, bearer_grant, json_response, scope_mismatch, site_url, unauthorized
from .models import Site

PRODUCT_WORDS = {"jira": "has_jira", "confluence": "has_confluence"}


def _scopes_for(site, scopes):
    """The token's scopes that apply to this site's products (and product-neutral ones)."""
    kept = []
    for scope in scopes:
        if scope == "offline_access":
            continue
        product = next((p for p in PRODUCT_WORDS if p in scope), None)
        if product is None or getattr(site, PRODUCT_WORDS[product]):
            kept.append(scope)
    return kept


def accessible_resources(request):
    token = bearer_grant(request)
    if token is None:
        return unauthorized()
    sites = list(token.grant.sites.order_by("name"))
    for site in sites:
        fault = apply_faults(request, site)
        if fault is not None:
            return fault
    return json_response(
        [
            {
                "id": site.cloud_id,
                "name": site.name,
                "url": site_url(request, site),
                "scopes": _scopes_for(site, token.scopes),
                "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
            }
            for site in sites
        ]
    )


def me(request):
    token = bearer_grant(request)
    if token is None:
        return unauthorized()
    if "read:me" not in token.scopes:
        return scope_mismatch()
    account = token.grant.account
    return json_response(
        {
            "account_type": account.account_type,
            "account_id": account.account_id,
            "email": account.email,
            "email_verified": True,
            "name": account.display_name,
            "nickname": account.display_name.split(" ")[0],
            "picture": f"https://avatar.example.invalid/{account.account_id}.png",
            "account_status": "active" if account.active else "inactive",
            "locale": "en-US",
            "extended_profile": {},
            "last_updated": "2024-01-01T00:00:00.000Z",
        }
    )


def tenant_info(request, site_name):
    site = Site.objects.filter(name=site_name).first()
    if site is None:
        return json_response({"message": "Site not found"}, 404)
    return json_response({"cloudId": site.cloud_id})
