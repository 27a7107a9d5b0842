"""Stand-in for connections.microsoft.graph (helper C's throttled Graph reader) until it lands:
the same names and the small part of its interface user matching uses (`Graph(tenant=).get`)."""

import time

import requests
from django.conf import settings

from .. import http
from ..microsoft import client


class GraphError(Exception):
    def __init__(self, message, *, status=0, code=""):
        super().__init__(message)
        self.status = status
        self.code = code


class DeltaExpired(GraphError):
    pass


class Forbidden(GraphError):
    pass


class Graph:
    def __init__(self, tenant):
        self.tenant = tenant
        self.session = http.session()
        self.requests = 0
        result = client._app(str(tenant.tenant_id), tenant.cloud).acquire_token_for_client(
            scopes=[client.GRAPH_DEFAULT_SCOPE]
        )
        if "error" in result:
            raise Forbidden(result.get("error_description", result["error"]), status=401, code=result["error"])
        self.session.headers["Authorization"] = f"Bearer {result['access_token']}"

    def get(self, url, params=None):
        if not url.startswith("http"):
            url = f"{settings.MICROSOFT_GRAPH_URL}/v1.0/{url.lstrip('/')}"
        for _ in range(5):
            try:
                response = self.session.get(url, params=params)
            except requests.RequestException as exc:
                raise GraphError(f"Microsoft Graph could not be reached ({type(exc).__name__}).") from None
            self.requests += 1
            if response.status_code in (429, 503) and response.headers.get("Retry-After"):
                time.sleep(float(response.headers["Retry-After"]))
                continue
            break
        if response.status_code < 400:
            return response.json()
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        code, message = error.get("code", ""), error.get("message", f"HTTP {response.status_code}")
        if response.status_code == 410 or code == "syncStateNotFound":
            raise DeltaExpired(message, status=410, code=code)
        if response.status_code == 403:
            raise Forbidden(message, status=403, code=code)
        raise GraphError(message, status=response.status_code, code=code)
