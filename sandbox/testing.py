"""Test helpers around a running sandbox: the object the `sandbox` fixture yields, and a small
"browser" that drives the sign-in and consent pages with requests (no real browser needed)."""

import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urljoin

import requests

from . import clock, defaults, faults, requestlog
from .microsoft import directory
from .microsoft.models import App, DirectoryUser, Tenant

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)


class SignInError(AssertionError):
    """The pages did not end in a redirect to the app (the page text says why)."""


def _form(html):
    """(action, hidden fields) of the first form on a page."""
    match = _FORM.search(html)
    if not match:
        raise SignInError(re.sub(r"<[^>]+>", " ", html)[:2000])
    action = dict(_ATTR.findall(match.group(1))).get("action", "")
    fields = {}
    for tag in _INPUT.findall(match.group(2)):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = unescape(attrs.get("value", ""))
    return unescape(action), fields


def _redirect(response):
    return response.headers["Location"] if response.status_code in (301, 302, 303, 307, 308) else None


def sign_in(url, username, password, *, consent="accept", for_organization=False, session=None, stop_prefix=None):
    """Open a sign-in URL (authorize or adminconsent) and go through the pages like a user.

    Returns the URL the sandbox finally redirects to (the app's redirect URI with code/error).
    `consent`: "accept", "cancel", or "back" (leave a "need admin approval" page).
    """
    session = session or requests.Session()
    response = session.get(url, allow_redirects=False, timeout=30)
    for _ in range(6):
        location = _redirect(response)
        if location:
            return location
        html = response.text
        if response.status_code >= 400 and "<form" not in html:
            raise SignInError(re.sub(r"<[^>]+>", " ", html)[:2000])
        action, fields = _form(html)
        target = urljoin(response.url, action) if action else response.url
        step = fields.get("step")
        if step == "signin":
            fields.update(username=username, password=password)
        elif step == "consent":
            fields["decision"] = consent if consent in ("accept", "cancel") else "cancel"
            if for_organization:
                fields["for_organization"] = "on"
        elif step == "back_to_app":
            if consent != "back" and consent != "cancel":
                raise SignInError("The user needs admin approval: " + re.sub(r"<[^>]+>", " ", html)[:600])
        else:  # form_post back to the app: hand back the form's target
            return target
        response = session.post(target, data=fields, allow_redirects=False, timeout=30)
    raise SignInError("Too many pages without a redirect.")


# --- Atlassian's sign-in and consent pages -------------------------------------------------

_ANY_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"<(?:input|button)\b[^>]*>", re.IGNORECASE)
_ATTR_DASHED = re.compile(r'([\w-]+)="([^"]*)"')


def _all_forms(html):
    for match in _ANY_FORM.finditer(html):
        attrs = dict(_ATTR_DASHED.findall(match.group(1)))
        fields = [dict(_ATTR_DASHED.findall(tag)) | {"_tag": tag[:7].lower()} for tag in _FIELD.findall(match.group(2))]
        yield unescape(attrs.get("action", "")), fields


def atlassian_consent(url, *, user, password, sites=None, decision="accept", session=None):
    """Go through the sandbox's Atlassian sign-in and consent pages; return the final redirect URL.

    `sites`: the site names to grant (None: whatever the page offers by default).
    """
    session = session or requests.Session()
    session.verify = False
    response = session.get(url, allow_redirects=False, timeout=30)
    for _ in range(8):
        if response.status_code in (301, 302, 303, 307, 308):
            location = urljoin(response.url, response.headers["Location"])
            if "/connect/atlassian/callback" in location or not location.startswith(("https://127.", "http://127.")):
                return location
            response = session.get(location, allow_redirects=False, timeout=30)
            continue
        forms = list(_all_forms(response.text))
        if not forms:
            raise AssertionError(re.sub(r"<[^>]+>", " ", response.text)[:2000])
        action, fields = forms[0]
        data, buttons = {}, []
        for f in fields:
            name, kind = f.get("name"), f.get("type", "text").lower()
            if not name:
                continue
            if f["_tag"].startswith("<button") or kind == "submit":
                buttons.append((name, f.get("value", "")))
            elif kind in ("checkbox", "radio"):
                wanted = "checked" in f if sites is None else (f.get("data-site") in sites or f.get("value") in sites)
                if wanted:
                    data.setdefault(name, [])
                    data[name].append(f.get("value", "on"))
            elif kind == "password":
                data[name] = password
            elif kind in ("email", "text") and not f.get("value"):
                data[name] = user
            else:
                data[name] = unescape(f.get("value", ""))
        for name, value in buttons:
            if value.lower() in (decision, "allow" if decision == "accept" else "deny", "approve"):
                data[name] = value
                break
        else:
            if buttons:
                data[buttons[0][0]] = buttons[0][1]
        response = session.post(urljoin(response.url, action), data=data, allow_redirects=False, timeout=30)
    raise AssertionError("Too many pages without a redirect back to the portal.")


@dataclass
class TenantInfo:
    id: str
    name: str
    domain: str  # the default verified domain
    initial_domain: str
    admin: tuple  # (username, password)
    user: tuple  # a non-admin member
    domains: list = field(default_factory=list)


@dataclass
class Sandbox:
    """What the `sandbox` fixture yields."""

    origin: str
    browser_origin: str
    ca_bundle: str
    tenants: dict  # short name ("contoso", "fabrikam", "northwind") -> TenantInfo
    client_id: str = defaults.MICROSOFT_CLIENT_ID
    client_secret: str = defaults.MICROSOFT_CLIENT_SECRET

    @property
    def authority_host(self):
        return self.origin + defaults.MICROSOFT_AUTHORITY_PATH

    @property
    def graph_url(self):
        return self.origin + defaults.GRAPH_PATH

    @property
    def atlassian_auth_url(self):
        return self.origin + defaults.ATLASSIAN_AUTH_PATH

    @property
    def atlassian_api_url(self):
        return self.origin + defaults.ATLASSIAN_API_PATH

    @property
    def atlassian(self):
        from .info import _atlassian

        return _atlassian(self.origin)

    def authority(self, tenant="organizations"):
        tenant = self.tenants[tenant].id if tenant in self.tenants else tenant
        return f"{self.origin}/{tenant}"

    def msal_app(self, tenant="organizations", **kwargs):
        import msal

        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self.client_secret,
            authority=self.authority(tenant),
            instance_discovery=False,
            verify=self.ca_bundle,
            **kwargs,
        )

    def http(self):
        """A requests session that trusts the sandbox's CA."""
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would override `verify`
        session.verify = self.ca_bundle
        return session

    # --- state -------------------------------------------------------------------------
    def tenant(self, name) -> Tenant:
        return Tenant.objects.get(pk=self.tenants[name].id if name in self.tenants else name)

    def user(self, tenant, username) -> DirectoryUser:
        return DirectoryUser.objects.get(tenant=self.tenant(tenant), user_principal_name__iexact=username)

    def register_redirect_uri(self, uri, client_id=None):
        directory.register_redirect_uri(client_id or self.client_id, uri)

    def register_portal(self, base_url):
        """Register the portal's exact callback URIs on another base (the test live server)."""
        for path in defaults.MICROSOFT_REDIRECT_PATHS:
            self.register_redirect_uri(base_url.rstrip("/") + path)

    def grant_admin_consent(self, tenant, **kwargs):
        info = self.tenants[tenant]
        admin = self.user(tenant, info.admin[0])
        return directory.grant_admin_consent(
            tenant=admin.tenant, app=App.objects.get(pk=self.client_id), admin=admin, **kwargs
        )

    def revoke(self, tenant, permission=None, *, application=True, delegated=True, client_id=None):
        return directory.revoke(
            tenant=self.tenant(tenant),
            app=App.objects.get(pk=client_id or self.client_id),
            permission=permission,
            application=application,
            delegated=delegated,
        )

    def delete_user(self, tenant, username, permanently=False):
        return directory.delete_user(self.user(tenant, username), permanently=permanently)

    def update_user(self, tenant, username, **fields):
        return directory.update_user(self.user(tenant, username), **fields)

    def target(self, name):
        """A fault target from a tenant short name, "site:<name>", "tenant:<id>" or "*"."""
        if name in self.tenants:
            return faults.tenant_target(self.tenants[name].id)
        return name

    def set_fault(self, kind, target, **params):
        return faults.set_fault(kind, self.target(target), **params)

    def clear_faults(self):
        faults.clear()

    def advance_clock(self, seconds):
        """Move the sandbox's clock forward (sandbox.clock): token expiries come nearer."""
        return clock.advance(seconds)

    def requests(self, **filters):
        """Recorded requests (see sandbox.requestlog.entries for the filters)."""
        return requestlog.entries(**filters)

    def sign_in(self, url, username, password, **kwargs):
        return sign_in(url, username, password, **kwargs)

    # --- Intune and Atlassian's mobile apps ---------------------------------------------
    def atlassian_organization(self):
        """The seeded Atlassian organization: id, name, API key, domains."""
        from .atlassian.admin_seed import admin_info

        return admin_info()[0]

    def mobile_sign_in(self, tenant, client_id):
        from .microsoft import atlassian_apps

        return atlassian_apps.mobile_sign_in(self.tenant(tenant), client_id)

    def revoke_tenant_consent(self, tenant, client_id):
        from .microsoft import atlassian_apps

        return atlassian_apps.revoke_tenant_consent(self.tenant(tenant), client_id)

    def remove_enterprise_app(self, tenant, client_id):
        from .microsoft import atlassian_apps

        return atlassian_apps.remove_app(self.tenant(tenant), client_id)

    def set_intune_licensed(self, tenant, licensed):
        from .microsoft import atlassian_apps

        return atlassian_apps.set_licensed(self.tenant(tenant), licensed)

    def app_protections(self, tenant):
        from .microsoft.models import ManagedAppProtection

        return list(ManagedAppProtection.objects.filter(tenant=self.tenant(tenant)).order_by("platform", "created"))

    def expire_organization_keys(self, org_id):
        from .atlassian import admin_api

        return admin_api.expire_keys(org_id)


def tenant_infos():
    infos = {}
    for tenant in Tenant.objects.prefetch_related("domains"):
        domains = list(tenant.domains.all())
        initial = next(d.name for d in domains if d.is_initial)
        default = next((d.name for d in domains if d.is_default), initial)
        users = tenant.users.filter(deleted=False, account_enabled=True).order_by("change_seq")
        admin = users.filter(is_admin=True).first()
        member = users.filter(is_admin=False, user_type="Member").exclude(mail=None).first()
        short = initial.split(".")[0]
        infos[short] = TenantInfo(
            id=str(tenant.pk),
            name=tenant.display_name,
            domain=default,
            initial_domain=initial,
            admin=(admin.user_principal_name, admin.password),
            user=(member.user_principal_name, member.password),
            domains=[d.name for d in domains],
        )
    return infos


def point_settings(settings_obj, origin, ca_bundle):
    """Point the portal's endpoint settings at a sandbox origin."""
    settings_obj.MICROSOFT_AUTHORITY_HOST = origin + defaults.MICROSOFT_AUTHORITY_PATH
    settings_obj.MICROSOFT_GRAPH_URL = origin + defaults.GRAPH_PATH
    settings_obj.ATLASSIAN_AUTH_URL = origin + defaults.ATLASSIAN_AUTH_PATH
    settings_obj.ATLASSIAN_API_URL = origin + defaults.ATLASSIAN_API_PATH
    settings_obj.ATLASSIAN_EXTRA_SITE_PREFIXES = [origin + defaults.ATLASSIAN_SITES_PATH + "/"]
    # Tests send the browser to the HTTPS origin (the browser contexts accept its CA).
    settings_obj.ATLASSIAN_AUTHORIZE_URL = ""
    settings_obj.HTTP_CA_BUNDLE = ca_bundle
    settings_obj.MICROSOFT_CLIENT_ID = defaults.MICROSOFT_CLIENT_ID
    settings_obj.MICROSOFT_CLIENT_SECRET = defaults.MICROSOFT_CLIENT_SECRET
    settings_obj.ATLASSIAN_CLIENT_ID = defaults.ATLASSIAN_CLIENT_ID
    settings_obj.ATLASSIAN_CLIENT_SECRET = defaults.ATLASSIAN_CLIENT_SECRET
    settings_obj.BOT_SERVICE_URL = origin + defaults.BOT_SERVICE_PATH
    settings_obj.BOT_APP_ID = defaults.MICROSOFT_CLIENT_ID
    settings_obj.BOT_APP_SECRET = defaults.MICROSOFT_CLIENT_SECRET
    settings_obj.TEAMS_APP_MANIFEST_ID = defaults.TEAMS_APP_MANIFEST_ID
