"""The transport of the Organizations REST API: Bearer organization API key, errors in words,
rate-limit headers read. The key is never logged or put into an exception's message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .. import http


class AdminApiError(Exception):
    """A call to the Organizations API failed; `status` 0 means no answer."""

    def __init__(self, message: str, *, status: int = 0, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def remedy(self) -> str:
        if self.status == 401:
            return ("Atlassian refused the API key: it has expired or was revoked. Create a new one in "
                    "admin.atlassian.com › Settings › API keys and save it here.")
        if self.status == 403:
            return "The API key lacks the scope read:domains:admin: create a key with it (or without scopes)."
        if self.status == 404:
            return ("Atlassian knows no organization with this id for this key: copy the organization id from "
                    "admin.atlassian.com (in its address, or where the API key was created).")
        if self.status == 429:
            return f"Atlassian is rate-limiting the key: try again in {self.retry_after or 60} seconds."
        return "Atlassian did not answer: try again later."


@dataclass(frozen=True)
class RateLimit:
    limit: str = ""
    remaining: str = ""
    reset: str = ""


def api_base() -> str:
    return settings.ATLASSIAN_API_URL.rstrip("/")


def get(url: str, api_key: str) -> tuple[dict[str, Any], RateLimit]:
    """GET one URL of the API (only on Atlassian's API origin: the key goes nowhere else)."""
    if (urlsplit(url).scheme, urlsplit(url).netloc) != (urlsplit(api_base()).scheme, urlsplit(api_base()).netloc):
        raise AdminApiError("refusing to follow a link off Atlassian's API origin")
    try:
        with http.session() as session:
            response = session.get(url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
    except requests.RequestException as exc:
        raise AdminApiError(f"could not reach Atlassian ({type(exc).__name__})") from exc
    # Reference: https://developer.atlassian.com/cloud/admin/api-access/rest/intro/#rate-limits
    rate = RateLimit(response.headers.get("X-RateLimit-Limit", ""), response.headers.get("X-RateLimit-Remaining", ""),
                     response.headers.get("X-RateLimit-Reset", ""))
    if response.status_code >= 400:
        retry = response.headers.get("Retry-After")
        raise AdminApiError(f"Atlassian answered HTTP {response.status_code}", status=response.status_code,
                            retry_after=int(retry) if retry and retry.isdigit() else None)
    try:
        return response.json(), rate
    except ValueError as exc:
        raise AdminApiError("Atlassian's answer was not JSON", status=response.status_code) from exc
