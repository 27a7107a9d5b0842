"""A working access token for a site, refreshed single-flight.

Atlassian rotates refresh tokens: each refresh returns a new one and kills the old (after a
10-minute reuse interval, in which a refresh whose answer was lost is sent again). Two
workers refreshing with the same token would leave one of them holding a dead token, and
the next refresh would break the site. So whoever finds the token stale takes a row lock
on the credential, re-reads it, and refreshes only if it is still stale; everyone who
waited on the lock then reads the fresh token instead of refreshing again. The rotated
refresh token is saved in the same transaction as the refresh that produced it.
(The idea follows Nango's credentials/refresh.ts.)

Clients for a site (Jira, Confluence) are built here from a fresh token every time,
because atlassian-python-api never refreshes one itself.
"""

from __future__ import annotations

import time
from datetime import timedelta

import requests
from atlassian import ConfluenceV2, Jira
from django.db import transaction
from django.utils import timezone

from tenants.models import AtlassianSite
from tenants.models.directory import SiteAuthMode, SiteAuthStatus

from ..models import Credential
from . import client, endpoints, services

# Refresh a little before expiry, so a token never runs out in the middle of a job.
MARGIN_SECONDS = 300


class NotAuthorized(Exception):
    """The site has no usable credential: it was never authorized, or its grant is dead."""

    def __init__(self, site: AtlassianSite, message: str) -> None:
        super().__init__(message)
        self.site = site


class NeedsReauthorization(NotAuthorized):
    """Atlassian refused the refresh token (invalid_grant): an admin must authorize again."""


def _oauth_credential(site: AtlassianSite) -> Credential | None:
    return Credential.objects.filter(site=site, kind=Credential.Kind.ATLASSIAN_OAUTH).order_by("pk").first()


def access_token(site: AtlassianSite) -> str:
    """A valid access token for the site's OAuth grant, refreshing it if needed (single-flight)."""
    credential = _oauth_credential(site)
    if credential is None:
        raise NotAuthorized(site, f"{site} is not authorized with OAuth 2.0.")
    if not credential.is_stale(MARGIN_SECONDS):
        return credential.access_token
    return _refresh(credential.pk, site)


def _refresh(credential_id: int, site: AtlassianSite) -> str:
    failure: Exception | None = None
    with transaction.atomic():
        # Everyone who found the token stale queues here; only the first one refreshes.
        credential = Credential.objects.select_for_update().get(pk=credential_id)
        if not credential.is_stale(MARGIN_SECONDS):
            return credential.access_token  # someone refreshed while we waited
        assert credential.site is not None  # an Atlassian credential belongs to its site
        site = credential.site
        if site.auth_status == SiteAuthStatus.NEEDS_REAUTH:
            # The token was refused before: sending it again cannot help and looks like replay.
            raise NeedsReauthorization(site, site.auth_error or f"{site} needs to be authorized again.")
        try:
            tokens = _refresh_call(credential.refresh_token)
        except client.InvalidGrant:
            message = (
                f"Atlassian no longer accepts the portal's authorization for {site}: it ends 90 days after "
                "its last use and a year after the site was authorized, and when the grant is revoked or the "
                "authorizing account changes its password. Authorize the site again: Re-authorize with Atlassian on "
                "the site's page."
            )
            credential.last_error, credential.last_error_at = message[:500], timezone.now()
            credential.save(update_fields=["last_error", "last_error_at", "updated_at"])
            services.site_mark_needs_reauth(site=site, error=message)
            failure = NeedsReauthorization(site, message)
        except client.AtlassianError as exc:
            # Transient (network, 5xx, 429): keep the grant, note the error, let the caller retry.
            credential.last_error, credential.last_error_at = str(exc)[:500], timezone.now()
            credential.save(update_fields=["last_error", "last_error_at", "updated_at"])
            failure = exc
        else:
            now = timezone.now()
            credential.access_token = tokens.access_token
            # The old refresh token is dead from now on: store its successor in this same transaction.
            credential.refresh_token = tokens.refresh_token or credential.refresh_token
            credential.expires_at = now + timedelta(seconds=tokens.expires_in)
            credential.last_refreshed_at = now
            if tokens.scopes:
                credential.scopes = list(tokens.scopes)
            credential.last_error, credential.last_error_at = "", None
            credential.save()
            return tokens.access_token
    raise failure


# Atlassian answers a refresh token it has just rotated away once more within its 10-minute reuse
# interval, so a refresh whose answer was lost (no answer, 5xx) is sent again at once with the same
# token; after the interval the same token would revoke the grant's whole token family.
# Reference: https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens
LOST_ANSWER_RETRIES = (1, 3)  # seconds to wait before each new try


def _refresh_call(refresh_token: str) -> client.Tokens:
    for wait in (*LOST_ANSWER_RETRIES, None):
        try:
            return endpoints.refresh(refresh_token=refresh_token)
        except client.Unavailable:
            if wait is None:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def api_token_credential(site: AtlassianSite) -> Credential:
    credential = (
        Credential.objects.filter(site=site, kind=Credential.Kind.ATLASSIAN_API_TOKEN).order_by("pk").first()
    )
    if credential is None:
        raise NotAuthorized(site, f"{site} has no API token.")
    return credential


def _check_usable(site: AtlassianSite) -> None:
    if site.auth_status == SiteAuthStatus.NEEDS_REAUTH:
        raise NeedsReauthorization(site, site.auth_error or f"{site} needs to be authorized again.")


def jira_for(site: AtlassianSite, session: requests.Session | None = None) -> Jira:
    """A Jira client for the site, with a fresh token (OAuth) or its API token. `session`: an
    HTTP session to reuse, so a job reading page after page keeps one connection."""
    _check_usable(site)
    if site.auth_mode == SiteAuthMode.OAUTH:
        return client.jira(cloud_id=site.cloud_id, access_token=access_token(site), session=session)
    if site.auth_mode == SiteAuthMode.API_TOKEN:
        credential = api_token_credential(site)
        return client.jira_basic(
            site_url=site.url, email=credential.principal, api_token=credential.access_token, session=session
        )
    raise NotAuthorized(site, f"{site} is not authorized yet.")


def confluence_for(site: AtlassianSite) -> ConfluenceV2:
    """A Confluence (REST v2) client for the site, with a fresh token (OAuth) or its API token."""
    _check_usable(site)
    if site.auth_mode == SiteAuthMode.OAUTH:
        return client.confluence(cloud_id=site.cloud_id, access_token=access_token(site))
    if site.auth_mode == SiteAuthMode.API_TOKEN:
        credential = api_token_credential(site)
        return client.confluence_basic(
            site_url=site.url, email=credential.principal, api_token=credential.access_token
        )
    raise NotAuthorized(site, f"{site} is not authorized yet.")


# --- proving a site answers ----------------------------------------------------------------

def site_check(site: AtlassianSite) -> str:
    """One harmless real call with the site's credential; a sentence saying what answered.

    Lists one Jira project (read:jira-work) or one Confluence space, whichever the site runs
    and the grant allows; an API token may do both.
    """
    scopes = set(site.granted_scopes or [])
    api_token = site.auth_mode == SiteAuthMode.API_TOKEN
    if "jira" in site.products and (api_token or "read:jira-work" in scopes):
        found = endpoints.jira_project_search(jira_for(site), max_results=1)
        return f"Jira answered: {found.get('total', len(found.get('values', [])))} project(s) visible."
    if "confluence" in site.products:
        found = endpoints.confluence_spaces(confluence_for(site), limit=1)
        return f"Confluence answered: {len(found.get('results', []))} space(s) on the first page."
    raise NotAuthorized(site, f"Nothing the portal may read on {site} yet: authorize it for a feature first.")
