"""Checking that a Jira webhook delivery comes from Atlassian.

Jira signs the deliveries of dynamic webhooks registered by an OAuth 2.0 (3LO) app with a JWT in
`Authorization: Bearer …`, HS256 with the app's client secret. Atlassian documents the key, not the
claims: the portal requires the HS256 signature, an `exp` still in the future (a JWT without one
is refused, so a captured token cannot be replayed for ever) and nothing else.
Reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/
"""

import jwt
from django.conf import settings

LEEWAY_SECONDS = 60  # clock skew between Atlassian and the portal


class BadSignature(Exception):
    """Why a delivery was refused, in words fit for the log (never the token itself)."""


def verify(authorization_header: str) -> dict:
    if not authorization_header.lower().startswith("bearer "):
        raise BadSignature("no bearer token")
    token = authorization_header[7:].strip()
    try:
        # Only HS256: a token naming another algorithm (or "none") is not Atlassian's.
        return jwt.decode(token, settings.ATLASSIAN_CLIENT_SECRET, algorithms=["HS256"],
                          options={"require": ["exp"], "verify_aud": False}, leeway=LEEWAY_SECONDS)
    except jwt.ExpiredSignatureError as exc:
        raise BadSignature("expired token") from exc
    except jwt.InvalidSignatureError as exc:
        raise BadSignature("signature does not match") from exc
    except jwt.PyJWTError as exc:
        raise BadSignature(f"malformed token ({type(exc).__name__})") from exc
