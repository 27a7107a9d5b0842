"""Drive the sandbox's Atlassian 3LO pages with requests, as a browser would."""

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from sandbox import defaults

CALLBACK = "https://portal.example/connect/atlassian/callback"
SCOPES = [
    "read:me",
    "read:jira-user",
    "read:jira-work",
    "read:space:confluence",
    "read:page:confluence",
    "search:confluence",
    "read:content-details:confluence",
    "offline_access",
]


def http(sandbox):
    session = requests.Session()
    session.verify = sandbox.ca_bundle
    return session


def register_callback():
    from sandbox.atlassian.urls import register_redirect_uri

    register_redirect_uri(defaults.ATLASSIAN_CLIENT_ID, CALLBACK)


def authorize_url(sandbox, scopes=SCOPES, state="st-1", **extra):
    query = {
        "audience": "api.atlassian.com",
        "client_id": defaults.ATLASSIAN_CLIENT_ID,
        "scope": " ".join(scopes),
        "redirect_uri": CALLBACK,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
        **extra,
    }
    return f"{sandbox.atlassian_auth_url}/authorize?{urlencode(query)}"


def _form(html):
    match = re.search(r'<form method="post" action="([^"]+)">', html)
    flow = re.search(r'name="flow" value="([^"]+)"', html)
    assert match and flow, html[:2000]
    return match.group(1), unescape(flow.group(1))


def consent(sandbox, session, *, email, password, sites, decision="accept", scopes=SCOPES, state="st-1"):
    """Sign in, tick `sites` (names), decide; return the parsed callback query."""
    page = session.get(authorize_url(sandbox, scopes, state), allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:1000]
    if 'type="password"' in page.text:
        action, flow = _form(page.text)
        page = session.post(
            urljoin(page.url, action),
            data={"flow": flow, "email": email, "password": password},
            allow_redirects=False,
            timeout=10,
        )
    action, flow = _form(page.text)
    boxes = dict(re.findall(r'value="([^"]+)" data-site="([^"]+)"', page.text))
    chosen = [cloud_id for cloud_id, name in boxes.items() if name in sites]
    step = "cancel" if decision == "cancel-at-sites" else "next"
    page = session.post(
        urljoin(page.url, action),
        data={"flow": flow, "site": chosen, "decision": step},
        allow_redirects=False,
        timeout=10,
    )
    if page.status_code == 200:
        action, flow = _form(page.text)
        page = session.post(
            urljoin(page.url, action), data={"flow": flow, "decision": decision}, allow_redirects=False, timeout=10
        )
    assert page.status_code == 302, page.text[:1000]
    location = page.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(sandbox, session, code, *, as_json=True, basic=False):
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    auth = None
    if basic:
        auth = (defaults.ATLASSIAN_CLIENT_ID, defaults.ATLASSIAN_CLIENT_SECRET)
    else:
        body |= {"client_id": defaults.ATLASSIAN_CLIENT_ID, "client_secret": defaults.ATLASSIAN_CLIENT_SECRET}
    url = f"{sandbox.atlassian_auth_url}/oauth/token"
    if as_json:
        return session.post(url, json=body, auth=auth, timeout=10)
    return session.post(url, data=body, auth=auth, timeout=10)


def refresh(sandbox, session, refresh_token):
    return session.post(
        f"{sandbox.atlassian_auth_url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": defaults.ATLASSIAN_CLIENT_ID,
            "client_secret": defaults.ATLASSIAN_CLIENT_SECRET,
        },
        timeout=10,
    )


def token_for(sandbox, *, sites, scopes=SCOPES, user=None):
    """A fresh token body for the admin (or `user`) covering `sites`."""
    register_callback()
    info = sandbox.atlassian
    account = user or info["admin"]
    session = http(sandbox)
    params = consent(sandbox, session, email=account["email"], password=account["password"], sites=sites, scopes=scopes)
    response = exchange(sandbox, session, params["code"])
    assert response.status_code == 200, response.text
    return response.json()


def site(sandbox, name):
    return next(s for s in sandbox.atlassian["sites"] if s["name"] == name)
