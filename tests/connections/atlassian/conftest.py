"""An admin of Acme and a way to walk the OAuth 2.0 (3LO) flow across the portal (Django's
test client) and the sandbox's Atlassian pages (driven with requests, like a browser)."""

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.urls import reverse

from tenants.models import Role
from tests.factories import MembershipFactory

PORTAL = "http://testserver"

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_INPUT = re.compile(r"<(?:input|button)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


def _forms(html):
    for match in _FORM.finditer(html):
        attrs = dict(_ATTR.findall(match.group(1)))
        fields = [dict(_ATTR.findall(tag)) | {"_tag": tag[:7].lower()} for tag in _INPUT.findall(match.group(2))]
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
        forms = list(_forms(response.text))
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
class ConnectWorld:
    sandbox: object
    client: object
    admin: object
    organization: object

    def start(self, features=("teams_notifications",)):
        response = self.client.post(reverse("connections:atlassian:connect"), {"features": list(features)})
        assert response.status_code == 302, response.content[:500]
        return response.url

    def back_to_portal(self, url):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == PORTAL, url
        return self.client.get(parts.path + ("?" + parts.query if parts.query else ""))

    def authorize(self, url, *, sites=None, decision="accept", user=None):
        account = user or self.account
        return atlassian_consent(url, user=account[0], password=account[1], sites=sites, decision=decision)

    @property
    def account(self):
        admin = self.sandbox.atlassian["admin"]  # Ada Admin: a member of every sandbox site
        return admin["email"], admin["password"]

    def site_url(self, name):
        from django.conf import settings

        return settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + name

    @property
    def site_names(self):
        return [s["name"] for s in self.sandbox.atlassian.get("sites", [])]

    def connect(self, *, sites, choose, features=("teams_notifications",)):
        """The whole flow: start, grant `sites` at Atlassian, choose `choose` in the portal."""
        back = self.authorize(self.start(features), sites=sites)
        response = self.back_to_portal(back)
        assert response.status_code == 302 and "/connect/atlassian/choose/" in response.url, response.content[:2000]
        page = self.client.get(response.url)
        pending = parse_qs(urlsplit(response.url).query)["pending"][0]
        cloud_id = re.search(
            rf'value="([^"]+)">\s*<strong>{re.escape(choose)}</strong>', page.content.decode()
        ).group(1)
        done = self.client.post(reverse("connections:atlassian:choose"), {"pending": pending, "cloud_id": cloud_id})
        assert done.status_code == 302, done.content[:2000]
        return page, done


@pytest.fixture
def world(sandbox, settings, client):
    from sandbox.atlassian.apps_registry import register_redirect_uri

    settings.SITE_URL = PORTAL
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, PORTAL + "/connect/atlassian/callback")
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Acme")
    client.force_login(membership.user)
    return ConnectWorld(sandbox, client, membership.user, membership.organization)
