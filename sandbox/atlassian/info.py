"""What `sandbox info` prints for the Atlassian side: the apps, sites, sign-in accounts (with
passwords) and API tokens. Generated accounts (thousands) are counted, not listed."""

from .admin_seed import admin_info
from .models import Account, App, Site


def _site(origin, site):
    return {
        "id": site.cloud_id,
        "cloud_id": site.cloud_id,
        "name": site.name,
        "url": f"{origin}/sites/{site.name}",
        "products": list(site.products),
    }


def _account(account):
    tokens = [t.token for t in account.api_tokens.all()]
    return {
        "key": account.display_name,
        "account_id": account.account_id,
        "email": account.email,
        "name": account.display_name,
        "password": account.password or None,
        "api_token": tokens[0] if tokens else None,
        "sites": [s.name for s in account.sites.order_by("name")],
        "admin_of": [s.name for s in account.admin_of.order_by("name")],
        "email_visible": account.email_visible,
        "active": account.active,
        "account_type": account.account_type,
    }


def atlassian_info(origin: str) -> dict:
    origin = origin.rstrip("/")
    named = Account.objects.exclude(password="").prefetch_related("api_tokens").order_by("pk")
    users = [_account(a) for a in named]
    admin = next((u for u in users if u["name"] == "Ada Admin"), users[0] if users else None)
    return {
        "apps": [
            {
                "client_id": a.client_id,
                "client_secret": a.client_secret,
                "name": a.name,
                "redirect_uris": list(a.redirect_uris),
            }
            for a in App.objects.order_by("client_id")
        ],
        "sites": [_site(origin, s) for s in Site.objects.order_by("name")],
        "admin": admin,
        "users": users,
        "accounts_total": Account.objects.count(),
        "organizations": admin_info(),
    }
