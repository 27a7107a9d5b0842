"""The HTTP session every outbound client of the portal uses (msal included).

When HTTP_CA_BUNDLE is set (the sandbox's CA), the session trusts exactly that bundle and
ignores REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment: requests would otherwise
let those override a Session's `verify`, silently. Every request gets a timeout, so a
provider that hangs cannot hold a web request or a worker forever.
"""

import requests
from django.conf import settings

DEFAULT_TIMEOUT = 20  # seconds


class _Session(requests.Session):
    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        return super().request(method, url, **kwargs)


def session():
    s = _Session()
    if settings.HTTP_CA_BUNDLE:
        s.trust_env = False
        s.verify = settings.HTTP_CA_BUNDLE
    s.headers["User-Agent"] = "connections-portal"
    return s
