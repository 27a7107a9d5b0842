"""The browser side of Microsoft consent: flow state, callback URLs, the sign-in waiting for
admin consent.

Flow state lives in the session (connections.flows, shared with Atlassian's authorization),
keyed by the OAuth `state` and popped on callback: a callback whose state this browser did not
start finds nothing. Between the sign-in and admin consent, the sign-in's tokens wait in the
flow encrypted with the credential keys (never in plain text, not even in the session store).
"""

import json
from typing import Any

from django.conf import settings
from django.urls import reverse

from .. import crypto
from ..flows import FlowStash

SESSION_FLOWS = "microsoft_consent_flows"
SESSION_RESULT = "microsoft_consent_result"
# The consent request this browser may sign in to again after signing in with the wrong account.
SESSION_RETRY = "microsoft_consent_retry"
MAX_FLOWS = 5  # a browser rarely has more consent sign-ins under way; older ones are dropped
FLOWS = FlowStash(SESSION_FLOWS, max_flows=MAX_FLOWS)

_KEPT_TOKEN_FIELDS = ("access_token", "refresh_token", "expires_in", "scope")


def callback_uri() -> str:
    # Registered with Microsoft exactly as SITE_URL + this path.
    return settings.SITE_URL + reverse("connections:microsoft:callback")


def adminconsent_uri() -> str:
    return settings.SITE_URL + reverse("connections:microsoft:adminconsent_callback")


def seal_token_result(token_result: dict[str, Any]) -> str:
    """The sign-in's tokens, encrypted, to keep in the flow until admin consent returns."""
    return crypto.encrypt(json.dumps({k: token_result.get(k) for k in _KEPT_TOKEN_FIELDS}))


def open_token_result(sealed: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(crypto.decrypt(sealed))
    return result
