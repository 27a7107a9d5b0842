"""The Content-Security-Policy header: django-csp's, plus the sign-in origins in form-action.

"Give permission", a consent link's start and connecting a site are forms answered with a
redirect to Microsoft's or Atlassian's sign-in; browsers check a form's redirects against
form-action, so those origins are allowed there, read from the settings on each response
(the tests point them at a sandbox on a port chosen at start).
Reference: https://www.w3.org/TR/CSP3/#directive-form-action
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings

# National clouds' login hosts (connections/microsoft/client.py _CLOUD_HOSTS).
_NATIONAL_CLOUD_LOGINS = ("https://login.microsoftonline.us",)


def _origin(url):
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def sign_in_origins():
    urls = (
        settings.MICROSOFT_AUTHORITY_HOST,
        *_NATIONAL_CLOUD_LOGINS,
        settings.ATLASSIAN_AUTHORIZE_URL or settings.ATLASSIAN_AUTH_URL,
    )
    origins = {o for o in map(_origin, urls) if o}
    if settings.SANDBOX_ENABLED:
        # The sandbox (demo and tests only) advertises its sign-in pages on its browser port,
        # on loopback, on ports chosen at start.
        origins |= {f"http://{settings.SANDBOX_HOST}:*", f"https://{settings.SANDBOX_HOST}:*"}
    return sorted(origins)


class PortalCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only:
            parts.update = {**(parts.update or {}), "form-action": sign_in_origins()}
        return parts
