"""What a client needs to talk to the sandbox (`manage.py sandbox info --json`)."""

import importlib

from django.conf import settings

from . import defaults
from .microsoft.models import App, Tenant
from .origins import browser_origin, origin


def _atlassian(base):
    try:
        module = importlib.import_module("sandbox.atlassian.info")
    except ModuleNotFoundError as missing:
        if missing.name != "sandbox.atlassian.info":
            raise
        return {}
    return module.atlassian_info(base)


def _tenant(tenant):
    users = tenant.users.filter(deleted=False, account_enabled=True).order_by("change_seq")
    admin = users.filter(is_admin=True).first()
    member = users.filter(is_admin=False, user_type="Member").first()
    sp = tenant.service_principals.filter(app_id=defaults.MICROSOFT_CLIENT_ID).first()
    return {
        "id": str(tenant.pk),
        "display_name": tenant.display_name,
        "domains": [
            {"name": d.name, "verified": d.is_verified, "default": d.is_default, "initial": d.is_initial}
            for d in tenant.domains.order_by("name")
        ],
        "admin": {"username": admin.user_principal_name, "password": admin.password} if admin else None,
        "user": {"username": member.user_principal_name, "password": member.password} if member else None,
        "users": tenant.users.count(),
        "portal_app_consented": sp is not None,
        "portal_app_roles": sp.application_permissions if sp else [],
    }


def sandbox_info(request=None, base=None, browser=None):
    base = base or origin(request)
    browser = browser or browser_origin(request)
    info = {
        "origin": base,
        "browser_origin": browser,
        "ca_bundle": str(settings.SANDBOX_DIR / "ca.pem"),
        "microsoft": {
            "authority_host": base + defaults.MICROSOFT_AUTHORITY_PATH,
            "graph": base + defaults.GRAPH_PATH,
            "apps": [
                {
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                    "display_name": app.display_name,
                    "redirect_uris": sorted(r.uri for r in app.redirect_uris.all()),
                    "application_permissions": app.application_permissions,
                    "delegated_scopes": app.delegated_scopes,
                }
                for app in App.objects.order_by("client_id")
            ],
            "tenants": [_tenant(t) for t in Tenant.objects.order_by("display_name")],
        },
        "atlassian": {
            "auth": base + defaults.ATLASSIAN_AUTH_PATH,
            "api": base + defaults.ATLASSIAN_API_PATH,
            "sites_prefix": base + defaults.ATLASSIAN_SITES_PATH + "/",
            "client_id": defaults.ATLASSIAN_CLIENT_ID,
            "client_secret": defaults.ATLASSIAN_CLIENT_SECRET,
            **_atlassian(base),
        },
    }
    return info
