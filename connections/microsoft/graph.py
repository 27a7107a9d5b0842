"""Microsoft Graph for sync jobs: app-only, throttled, paged.

    graph = Graph(connection)
    for page in graph.pages(path, params):
        ...page["value"]...; page.get("@odata.deltaLink")

This is the transport only: which paths and fields are asked for is written in one function
per endpoint (connections.microsoft.endpoints), and callers use those.

The app-only token comes from msal's client-credentials grant and is kept in msal's token
cache per tenant in this process until five minutes before it expires (a 401 drops it and
asks once more; connections.microsoft.client). Every
request goes through connections.throttle under the key "graph:<tenant id>": Graph throttles
per app and tenant, so that is where Retry-After applies and where each tenant's budget is
counted. Links Graph hands back (@odata.nextLink) are followed only on Graph's own origin,
so a token is never sent anywhere else.
"""

import logging
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .. import endpoints, http
from ..throttle import Throttle, Throttled, in_run
from . import client, consent_proof

logger = logging.getLogger(__name__)

_GRAPH_HOSTS = {"usgov": "https://graph.microsoft.us"}
_DELTA_EXPIRED_CODES = {"syncStateNotFound", "resyncRequired", "syncStateInvalid"}


class GraphError(Exception):
    """Graph answered with an error (or could not be reached: status 0)."""

    def __init__(self, status, code, message):
        super().__init__(f"Microsoft Graph: HTTP {status} {code}: {message}".strip())
        self.status = status
        self.code = code
        self.message = message

    @property
    def transient(self):
        """Unavailable or busy (no answer, 5xx, 429): trying again later can work unchanged."""
        if self.code == "foreignLink":
            return False  # refused by the portal itself: it would refuse again
        return self.status == 0 or self.status >= 500 or self.status == 429

    @property
    def remedy(self):
        if self.transient:
            return "Microsoft Graph is unavailable or busy; the run can be retried later."
        if self.status == 401:
            return "The portal could not get a token for this tenant: check that consent is still granted."
        return "Retry; if it fails again, contact support with the error above."


class TokenThrottled(GraphError):
    """Microsoft's token endpoint is throttling: no token until `retry_at`."""

    def __init__(self, throttled):
        super().__init__(429, "tokenThrottled", str(throttled))
        self.retry_at = throttled.retry_at

    @property
    def remedy(self):
        at = self.retry_at.strftime("%H:%M:%S UTC")
        return f"Microsoft is throttling the portal's token requests: retry the run after {at}."


class DeltaExpired(GraphError):
    """The delta token (or sync state) is gone: start again with a full read."""


class Forbidden(GraphError):
    """403: the tenant has not granted what this call needs.

    Microsoft's 403 bodies do not reliably say which permission is missing (directory endpoints
    answer Authorization_RequestDenied, "Insufficient privileges to complete the operation.", and
    Teams endpoints word it their own way), so `permissions` comes from the portal's own
    declaration of the endpoint that was called (connections.endpoints), never from the text."""

    def __init__(self, status, code, message, endpoint: endpoints.Endpoint | None = None):
        super().__init__(status, code, message)
        self.endpoint = endpoint
        self.permissions: list[str] = list(endpoint.permissions) if endpoint else []

    @property
    def remedy(self):
        needed = " or ".join(self.permissions) if self.permissions else "the missing permission"
        return f"Ask a Global Administrator of the tenant to grant {needed} (re-consent from the connection page)."


class NotConsented(GraphError):
    """This connection's organization has no consent of its own from an admin of the tenant:
    the portal does not use the tenant's app-only access for it."""

    def __init__(self, reason: consent_proof.NoOwnConsent):
        super().__init__(403, "consentNotGiven", str(reason))
        self._remedy = reason.remedy

    @property
    def remedy(self):
        return self._remedy


class NotFound(GraphError):
    """404: the team, channel or user is gone (or hidden from the app)."""


def graph_base(cloud="public"):
    if cloud in _GRAPH_HOSTS and settings.MICROSOFT_GRAPH_URL == "https://graph.microsoft.com":
        return _GRAPH_HOSTS[cloud]
    return settings.MICROSOFT_GRAPH_URL.rstrip("/")


# --- app-only tokens (msal's token cache, in connections.microsoft.client) --------------------


def _app_token(tenant_id: str, cloud: str, *, fresh: bool = False) -> str:
    try:
        # Reference: https://learn.microsoft.com/graph/auth-v2-service
        return client.app_only_token(tenant_id=tenant_id, cloud=cloud, fresh=fresh)
    except client.Throttled as exc:
        # A 429 from the token endpoint says nothing about consent: busy, try at retry_at.
        raise TokenThrottled(exc) from exc
    except client.MicrosoftError as exc:
        if not exc.error:
            raise GraphError(0, "tokenUnavailable", f"could not get a token from Microsoft ({exc})") from exc
        raise GraphError(401, exc.error, str(exc)[:300]) from exc
    except ValueError as exc:  # msal: a token answer that is not JSON
        raise GraphError(0, "tokenUnavailable", f"could not get a token from Microsoft ({exc})") from exc


def forget_tokens(tenant_id: object = None) -> None:
    """Drop cached app-only tokens (of one tenant): the next call gets one with today's roles."""
    client.forget_app_only_tokens(tenant_id)


# --- the reader -------------------------------------------------------------------------------


def _error_from(response, method="GET", path=""):
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code", "") if isinstance(error, dict) else str(error)
    message = error.get("message", "") if isinstance(error, dict) else ""
    message = message or response.reason or ""
    status = response.status_code
    if status == 410 or code in _DELTA_EXPIRED_CODES:
        return DeltaExpired(status, code, message)
    if status == 403:
        return Forbidden(status, code, message, endpoints.find(endpoints.GRAPH, method, path))
    if status == 404:
        return NotFound(status, code, message)
    return GraphError(status, code, message)


class Graph:
    """Graph for one connection's Microsoft tenant: app-only, or with a delegated token.

    App-only access is used only when the connection rests on its organization's own admin
    consent (connections.microsoft.consent_proof); otherwise NotConsented is raised here, before
    any token is asked for."""

    def __init__(self, connection, *, throttle=None, access_token=None):
        if access_token is None:
            try:
                consent_proof.require_app_access(connection)
            except consent_proof.NoOwnConsent as exc:
                raise NotConsented(exc) from exc
        tenant = connection.tenant
        self.tenant_id = str(tenant.tenant_id)
        self.cloud = getattr(tenant, "cloud", "public") or "public"
        self.base = graph_base(self.cloud)
        self.throttle = throttle or Throttle(rate=settings.SYNC_GRAPH_RATE, burst=settings.SYNC_GRAPH_BURST)
        self.key = f"graph:{self.tenant_id.lower()}"
        self.session = http.session()
        self.requests_made = 0
        # A delegated token (health checks of delegated features) instead of the app-only one.
        self.access_token = access_token

    def _token(self, fresh=False):
        if self.access_token:
            return self.access_token
        attempt = 0
        while True:
            attempt += 1
            try:
                return _app_token(self.tenant_id, self.cloud, fresh=fresh)
            except TokenThrottled as exc:
                # Inside a sync run a throttled token request is waited out like Graph's own
                # Retry-After (a long wait gives the worker back): throttling is not a failure.
                # Elsewhere (health checks, pages) the caller says when it retries.
                if not in_run() or attempt >= self.throttle.max_attempts:
                    raise
                try:
                    self.throttle.wait_out(f"token:{self.tenant_id.lower()}", exc.retry_at.timestamp())
                except Throttled:
                    raise exc from None

    def _url(self, url_or_path):
        if url_or_path.startswith(("http://", "https://")):
            ours, theirs = urlsplit(self.base), urlsplit(url_or_path)
            if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
                raise GraphError(0, "foreignLink", f"refusing to follow a link off Graph's origin ({theirs.netloc})")
            return url_or_path
        return f"{self.base}/{url_or_path.lstrip('/')}"

    def _path(self, url: str) -> str:
        """The Graph path of a URL on Graph's origin ("/v1.0/teams/…"), as declarations spell it."""
        path = urlsplit(url).path
        prefix = urlsplit(self.base).path.rstrip("/")
        return path[len(prefix):] if prefix and path.startswith(prefix + "/") else path

    def _send(self, url, params, token):
        def call():
            self.requests_made += 1
            return self.session.get(url, params=params, headers={"Authorization": f"Bearer {token}"})

        try:
            return self.throttle.send(self.key, call)
        except Throttled as exc:
            raise GraphError(429, "throttled", f"Microsoft Graph {exc}") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise GraphError(0, "unreachable", f"could not reach Microsoft Graph ({type(exc).__name__})") from exc

    def get(self, url_or_path, params=None):
        """One GET; the parsed JSON body, or a GraphError."""
        url = self._url(url_or_path)
        response = self._send(url, params, self._token())
        if response.status_code == 401 and not self.access_token:  # revoked or expired early: one fresh try
            response = self._send(url, params, self._token(fresh=True))
        if response.status_code >= 400:
            raise _error_from(response, "GET", self._path(url))
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(response.status_code, "invalidJson", "Graph's answer was not JSON") from exc

    def write(self, method, url_or_path, body=None, *, key=None, accept=(), retry=True, timeout=None, params=None):
        """The one way a write (POST, PUT, PATCH, DELETE) goes to Graph, with a JSON body: the
        response (its status, headers such as Location, and body) when it succeeded or its status
        is in `accept`, else a GraphError. A 401 asks once for a fresh token.

        `key`: the throttle key when a limit narrower than the tenant's applies (Microsoft Search
        throttles ingestion per connection). `retry=False` for a write that must not run twice (a
        create: POST /chats makes a new group chat each time): it waits its turn but is sent once;
        a 5xx, a timeout or a lost answer may mean Graph did it, so the caller decides."""
        url = self._url(url_or_path)
        key = key or self.key

        def send(token):
            def call():
                self.requests_made += 1
                return self.session.request(
                    method, url, params=params, json=body, headers={"Authorization": f"Bearer {token}"},
                    **({"timeout": timeout} if timeout else {}),
                )

            try:
                if retry:
                    return self.throttle.send(key, call)
                self.throttle.wait_turn(key)
                return call()
            except Throttled as exc:
                raise GraphError(429, "throttled", f"Microsoft Graph {exc}") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise GraphError(0, "unreachable", f"could not reach Microsoft Graph ({type(exc).__name__})") from exc

        response = send(self._token())
        if response.status_code == 401 and not self.access_token:  # a 401 is refused before any work
            response = send(self._token(fresh=True))
        if response.status_code >= 400 and response.status_code not in accept:
            raise _error_from(response, method.upper(), self._path(url))
        return response

    def post(self, path, body):
        """One POST with a JSON body; the parsed JSON answer ({} when Graph sends none), or a
        GraphError (a 409 Conflict included: the caller decides what it means)."""
        return json_body(self.write("POST", path, body)) or {}

    def pages(self, url_or_path, params=None):
        """Each page of a collection, following @odata.nextLink (the query is only sent first:
        the link carries it). The last page may carry @odata.deltaLink."""
        page = self.get(url_or_path, params)
        yield page
        while page.get("@odata.nextLink"):
            page = self.get(page["@odata.nextLink"])
            yield page

    def send(self, method, url_or_path, *, json=None, params=None, timeout=None):
        """One write sent once, never retried (see write): (status, headers, parsed body or {})."""
        response = self.write(method, url_or_path, json, retry=False, timeout=timeout, params=params)
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        return response.status_code, response.headers, body


def json_body(response):
    """A write's parsed JSON answer, None for an empty one (204), or a GraphError."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise GraphError(response.status_code, "invalidJson", "Graph's answer was not JSON") from exc


def send(graph: Graph, method: str, url_or_path: str, body=None, *, retry_on_failure: bool = True):
    """One write (POST, PATCH, DELETE) on Graph, throttled like reads; the parsed JSON body, or
    None for an empty answer (204), or a GraphError. `retry_on_failure=False` for a write that
    must not run twice (a create), see Graph.write."""
    return json_body(graph.write(method, url_or_path, body, retry=retry_on_failure))
