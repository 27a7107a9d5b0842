"""The browser side of OAuth 2.0 (3LO): flow state and the grant waiting for a site choice.

`state` lives in the session (connections.flows, shared with Microsoft's consent flow),
popped and compared on callback: a callback this browser did not start changes nothing.
Between the callback and the admin's choice of site, the grant's tokens wait in the session
encrypted with the credential keys (never in plain text, not even in the session store), for
a few minutes, usable once.
"""

import json
import secrets
import time
from typing import Any

from django.conf import settings
from django.urls import reverse

from .. import crypto
from ..flows import FlowStash
from . import client, endpoints

SESSION_FLOWS = "atlassian_flows"
SESSION_PENDING = "atlassian_pending"
MAX_FLOWS = 5
FLOW_TTL = 15 * 60  # seconds a started authorization may take at Atlassian
PENDING_TTL = 10 * 60  # seconds the admin has to choose a site
FLOWS = FlowStash(SESSION_FLOWS, max_flows=MAX_FLOWS, ttl=FLOW_TTL)


def callback_uri():
    # Registered with Atlassian exactly as SITE_URL + this path.
    return settings.SITE_URL + reverse("connections:atlassian:callback")


def begin(request: Any, *, scopes: list[str], features: list[str], site: Any = None) -> str:
    """Remember a new flow and return the URL that sends the admin to Atlassian."""
    state = secrets.token_urlsafe(32)
    FLOWS.remember(
        request,
        state,
        {
            "organization": request.organization.pk,
            "user": request.user.pk,
            "scopes": list(scopes),
            "features": list(features),
            "site": site.pk if site else None,
        },
    )
    return endpoints.authorize_url(scopes=scopes, state=state, redirect_uri=callback_uri())


def take_flow(request: Any, state: str | None) -> dict[str, Any] | None:
    """The flow this browser started with `state` (popped: usable once), or None."""
    entry = FLOWS.take(request, state)
    if entry is None:
        return None
    if entry.get("organization") != request.organization.pk or entry.get("user") != request.user.pk:
        return None
    return entry


def keep_pending(request, *, flow, tokens, resources, account):
    """Park the grant until the admin chooses a site; returns the key the choice form posts."""
    key = secrets.token_urlsafe(16)
    secret = crypto.encrypt(
        json.dumps(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_in": tokens.expires_in,
                "scopes": list(tokens.scopes),
            }
        )
    )
    request.session[SESSION_PENDING] = {
        key: {
            "organization": flow["organization"],
            "user": flow["user"],
            "features": flow["features"],
            "site": flow["site"],
            "tokens": secret,
            "resources": [
                {"cloud_id": r.cloud_id, "name": r.name, "url": r.url, "scopes": list(r.scopes),
                 "avatar_url": r.avatar_url}
                for r in resources
            ],
            "account": {"account_id": account.account_id, "name": account.name, "email": account.email},
            "created": time.time(),
        }
    }
    return key


def peek_pending(request, key):
    entry = request.session.get(SESSION_PENDING, {}).get(key) if key else None
    if entry is None or entry.get("created", 0) < time.time() - PENDING_TTL:
        return None
    if entry.get("organization") != request.organization.pk or entry.get("user") != request.user.pk:
        return None
    return entry


def take_pending(request, key):
    entry = peek_pending(request, key)
    request.session.pop(SESSION_PENDING, None)  # one grant waits at a time; used or not, it goes
    return entry


def resources_of(entry):
    return [client.Resource(**{**r, "scopes": tuple(r["scopes"])}) for r in entry["resources"]]


def tokens_of(entry):
    data = json.loads(crypto.decrypt(entry["tokens"]))
    return client.Tokens(
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        expires_in=data["expires_in"],
        scopes=tuple(data["scopes"]),
    )


def account_of(entry):
    return client.Account(**entry["account"])
