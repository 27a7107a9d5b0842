"""Writing the audit trail.

`audit_record` is called by services inside their transaction, so an event exists if
and only if the change it describes was committed. It is chained to the organization's
previous event in that same transaction (tenants/audit_chain.py). Where the request came from (IP, user
agent) is picked up from a context variable the middleware sets, so services need not
know about HTTP.
"""

import contextvars
import ipaddress
import re
from dataclasses import dataclass

from .audit_chain import append
from .models import AuditAction, AuditEvent
from .models.audit import ActorType

# Keys never written into audit details, whatever a caller passes: credentials belong in
# the credential store, not in a permanent record.
_SECRET_KEYS = {"token", "access_token", "refresh_token", "secret", "password", "api_token", "code"}


@dataclass(frozen=True)
class RequestOrigin:
    ip_address: str | None = None
    user_agent: str = ""


_origin = contextvars.ContextVar("audit_request_origin", default=None)


def set_request_origin(request):
    """Remember where the current request came from; returns a token to reset it."""
    from portal.client_ip import client_ip

    return _origin.set(RequestOrigin(client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300]))


def reset_request_origin(token):
    _origin.reset(token)


@dataclass(frozen=True)
class ExternalActor:
    """Someone acting without a portal account, e.g. a tenant admin granting consent."""

    label: str


# PostgreSQL refuses NUL in text and in jsonb, and lone surrogates cannot be encoded: an
# event carrying what an attacker typed must still be written, so they are dropped.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _text(value):
    return _UNSTORABLE.sub("", value)


def _scrub(value):
    if isinstance(value, dict):
        return {
            _text(str(k)): ("[redacted]" if str(k).lower() in _SECRET_KEYS else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _text(value)
    return value


def _ip(value):
    """A storable IP address or None: a forwarded header may carry anything."""
    try:
        return str(ipaddress.ip_address((value or "").strip())) if value else None
    except ValueError:
        return None


def audit_record(*, organization, action, actor=None, target=None, target_label="", details=None):
    """Append one event. `actor` is a User, an ExternalActor, or None for the system."""
    action = AuditAction(action)  # a fixed vocabulary: an unknown action is a bug, raise
    if actor is None:
        actor_type, actor_user, actor_label = ActorType.SYSTEM, None, "system"
    elif isinstance(actor, ExternalActor):
        actor_type, actor_user, actor_label = ActorType.EXTERNAL, None, actor.label
    else:
        actor_type, actor_user, actor_label = ActorType.USER, actor, actor.email or actor.username
    origin = _origin.get() or RequestOrigin()
    return append(AuditEvent(
        organization=organization,
        actor_type=actor_type,
        actor_user=actor_user,
        actor_label=_text(actor_label)[:255],
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=_text(target_label or (str(target) if target is not None else ""))[:255],
        details=_scrub(details or {}),
        ip_address=_ip(origin.ip_address),
        user_agent=_text(origin.user_agent)[:300],
    ))
