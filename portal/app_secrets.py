"""The portal's own client secrets (Microsoft Entra app, Atlassian OAuth app) and how long
they have left, from MICROSOFT_CLIENT_SECRET_EXPIRES / ATLASSIAN_CLIENT_SECRET_EXPIRES.

An expired secret stops every consent, token refresh and sync, for every organization: the
dashboard warns admins ahead (APP_SECRET_WARNING_DAYS) and /healthz turns 503 once it expired.
"""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone

OK, WARNING, EXPIRED = "ok", "warning", "expired"

_SECRETS = (
    ("microsoft", "Microsoft Entra app client secret", "MICROSOFT_CLIENT_SECRET_EXPIRES"),
    ("atlassian", "Atlassian OAuth app client secret", "ATLASSIAN_CLIENT_SECRET_EXPIRES"),
)


@dataclass(frozen=True)
class SecretExpiry:
    key: str
    label: str
    setting: str
    expires: date
    days_left: int

    @property
    def state(self):
        if self.days_left < 0:
            return EXPIRED
        if self.days_left <= settings.APP_SECRET_WARNING_DAYS:
            return WARNING
        return OK

    @property
    def sentence(self):
        if self.state == EXPIRED:
            return f"The {self.label} expired on {self.expires:%Y-%m-%d}: consent, token refresh and sync fail " \
                   f"until the operator installs a new secret and updates {self.setting}."
        when = "today" if self.days_left == 0 else f"in {self.days_left} day{'s' if self.days_left != 1 else ''}"
        return f"The {self.label} expires {when} ({self.expires:%Y-%m-%d}): create a new secret, deploy it and " \
               f"update {self.setting} before then."


def expiries(today=None):
    """Every configured secret's expiry (none configured: an empty list)."""
    today = today or timezone.localdate()
    found = []
    for key, label, setting in _SECRETS:
        expires = getattr(settings, setting, None)
        if expires:
            found.append(SecretExpiry(key, label, setting, expires, (expires - today).days))
    return found


def warnings(today=None):
    """The secrets that need attention (expiring soon, or expired)."""
    return [e for e in expiries(today) if e.state != OK]


def health(today=None):
    """The /healthz entry: overall state and each secret's days left."""
    found = expiries(today)
    states = {e.state for e in found}
    state = EXPIRED if EXPIRED in states else WARNING if WARNING in states else OK
    return {
        "ok": state != EXPIRED,
        "status": state,
        "secrets": {
            e.key: {"expires": e.expires.isoformat(), "days_left": e.days_left, "status": e.state} for e in found
        },
    }
