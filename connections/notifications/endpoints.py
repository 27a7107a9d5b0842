"""Every outbound call of Teams notifications: one typed function each, its declaration beside it.

- Jira dynamic webhooks (the site's OAuth 2.0 grant, scope manage:jira-webhook): register one
  webhook per connection for the chosen projects' issue events, refresh it before its 30 days
  run out, delete it when no project is left.
- Graph, as the admin who picks (delegated): the teams they joined, a team's channels (the
  Teams directory's declaration, connections.microsoft.endpoints.CHANNELS), and
  adding the portal's Teams app to the chosen team (TeamsAppInstallation.ReadWriteSelfForTeam).
- The Bot Framework connector, as the portal's Teams app itself: post the notification.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import msal.exceptions
import requests
from atlassian import Jira
from django.conf import settings

from .. import http
from ..atlassian.client import AtlassianError, Unavailable
from ..endpoints import BOT, declare
from ..microsoft import endpoints as graph_endpoints
from ..microsoft.graph import Graph

# --- Jira dynamic webhooks --------------------------------------------------------------------

WEBHOOK_EVENTS = ("jira:issue_created", "jira:issue_updated")

JIRA_WEBHOOK_REGISTER = declare(
    "jira.webhook_register",
    "POST",
    "/rest/api/3/webhook",
    permissions=("manage:jira-webhook",),
    reads=("webhookRegistrationResult.createdWebhookId", "webhookRegistrationResult.errors"),
    keeps=("createdWebhookId",),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-post
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-post",
    purpose="Teams notifications: register the webhook that sends the chosen projects' issue events to the portal.",
)

JIRA_WEBHOOK_REFRESH = declare(
    "jira.webhook_refresh",
    "PUT",
    "/rest/api/3/webhook/refresh",
    permissions=("manage:jira-webhook",),
    reads=("expirationDate",),
    keeps=("expirationDate",),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-refresh-put
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-refresh-put",
    purpose="Teams notifications: extend the webhook's life before its 30 days run out.",
)

JIRA_WEBHOOK_DELETE = declare(
    "jira.webhook_delete",
    "DELETE",
    "/rest/api/3/webhook",
    permissions=("manage:jira-webhook",),
    reads=("errorMessages",),
    keeps=(),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-delete
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/#api-rest-api-3-webhook-delete",
    purpose="Teams notifications: remove the webhook when its projects change or none is left.",
)


@dataclass(frozen=True)
class Registered:
    webhook_id: int | None
    errors: tuple[str, ...]


def _atlassian_call(what: str, call: Any) -> Any:
    """atlassian-python-api raises requests' HTTPError: keep the status, never the URL or body."""
    try:
        return call()
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status == 429 or status >= 500:
            raise Unavailable(f"{what}: Atlassian answered HTTP {status}.", status=status) from exc
        raise AtlassianError(f"{what}: Atlassian answered HTTP {status}.", status=status) from exc
    except requests.RequestException as exc:
        raise Unavailable(f"{what}: Atlassian did not answer ({type(exc).__name__}).") from exc


def register_webhook(jira: Jira, *, url: str, jql: str, events: tuple[str, ...] = WEBHOOK_EVENTS) -> Registered:
    """Register one webhook; Atlassian answers 200 with per-webhook errors instead of failing."""
    body = {"url": url, "webhooks": [{"events": list(events), "jqlFilter": jql}]}
    answer = _atlassian_call("Registering the Jira webhook",
                        lambda: jira.post(JIRA_WEBHOOK_REGISTER.path.lstrip("/"), data=body))
    results = (answer or {}).get("webhookRegistrationResult") or [{}]
    first = results[0] if isinstance(results[0], dict) else {}
    created = first.get("createdWebhookId")
    return Registered(int(created) if created is not None else None, tuple(str(e) for e in first.get("errors") or ()))


def refresh_webhooks(jira: Jira, webhook_ids: list[int]) -> str:
    """Extend the webhooks' life; Jira's new expiration date ("2026-12-31T10:00:00.000+0000")."""
    answer = _atlassian_call("Refreshing the Jira webhook",
                        lambda: jira.put(JIRA_WEBHOOK_REFRESH.path.lstrip("/"), data={"webhookIds": webhook_ids}))
    return str((answer or {}).get("expirationDate", ""))


def delete_webhooks(jira: Jira, webhook_ids: list[int]) -> None:
    _atlassian_call("Removing the Jira webhook",
               lambda: jira.delete(JIRA_WEBHOOK_DELETE.path.lstrip("/"), data={"webhookIds": webhook_ids}))


# --- Confluence: the pages changed in a space (no webhooks for OAuth 2.0 apps) ------------------

CONFLUENCE_CHANGED = declare(
    "confluence.notify_changed_pages",
    "GET",
    "/wiki/rest/api/search",
    permissions=("search:confluence",),
    reads=("results.content.id", "results.content.title", "results.content._links.webui", "results.lastModified"),
    keeps=("results.content.id", "results.content.title"),
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get
    # and https://developer.atlassian.com/cloud/confluence/advanced-searching-using-cql/ (lastmodified, space, type)
    reference="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get",
    purpose="Teams notifications: the pages of a chosen Confluence space changed since the last look.",
)


def changed_pages(confluence: Any, *, space_key: str, since: str, limit: int = 25) -> list[dict[str, str]]:
    """Pages of the space modified at or after `since` ("yyyy/MM/dd HH:mm", CQL's minutes), newest
    first; one page of results (a space rarely changes more between two looks)."""
    safe_key = space_key.replace('"', "")
    cql = f'space = "{safe_key}" AND type = page AND lastmodified >= "{since}" ORDER BY lastmodified DESC'
    body = _atlassian_call("Listing changed Confluence pages", lambda: confluence.get(
        CONFLUENCE_CHANGED.path.removeprefix("/wiki/"), params={"cql": cql, "limit": limit}))
    rows = []
    for result in (body or {}).get("results", []):
        content = result.get("content") or {}
        if content.get("id"):
            rows.append({"id": str(content["id"]), "title": str(content.get("title", ""))[:300],
                         "webui": str((content.get("_links") or {}).get("webui", "")),
                         "modified": str(result.get("lastModified", ""))})
    return rows


# --- Graph, as the admin who picks (delegated) ------------------------------------------------

PICKER_TEAMS = declare(
    "graph.notify_joined_teams",
    "GET",
    "/v1.0/me/joinedTeams",
    permissions=("Team.ReadBasic.All",),
    reads=("id", "displayName", "description"),
    keeps=("id", "displayName"),  # of the team chosen, only
    # Reference: https://learn.microsoft.com/graph/api/user-list-joinedteams
    reference="https://learn.microsoft.com/graph/api/user-list-joinedteams",
    purpose="Notification picker: the teams the signed-in admin has joined, to choose one.",
)

APP_CATALOG = declare(
    "graph.notify_app_catalog",
    "GET",
    "/v1.0/appCatalogs/teamsApps",
    permissions=("AppCatalog.Read.All",),
    reads=("id", "externalId", "displayName"),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps
    reference="https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps",
    purpose="Notification picker: the tenant's catalog id of the portal's Teams app (found by its manifest id).",
)

TEAM_INSTALL_APP = declare(
    "graph.team_install_app",
    "POST",
    "/v1.0/teams/{team_id}/installedApps",
    permissions=("TeamsAppInstallation.ReadWriteSelfForTeam",),
    # Graph answers no body; on failure the portal reads the error's code (Conflict: already there).
    reads=("error.code",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/team-post-installedapps
    reference="https://learn.microsoft.com/graph/api/team-post-installedapps",
    purpose="Notification picker: add the portal's Teams app to the chosen team, so its bot may post there.",
)


def picker_teams(graph: Graph) -> list[dict[str, str]]:
    body = graph.get(PICKER_TEAMS.path)
    return [{"id": str(t.get("id", "")), "name": str(t.get("displayName", ""))} for t in body.get("value", [])]


def picker_channels(graph: Graph, team_id: str) -> list[dict[str, str]]:
    """The team's channels, through the Teams directory's declaration (the same call and fields)."""
    rows: list[dict[str, str]] = []
    for page in graph_endpoints.channels_pages(graph, quote(team_id, safe="")):
        rows += [{"id": str(c.get("id", "")), "name": str(c.get("displayName", ""))} for c in page.get("value", [])]
    return rows


def portal_app_catalog_id(graph: Graph, manifest_id: str) -> str | None:
    """The catalog id the tenant gave the app whose manifest id is `manifest_id` (None: not in
    the catalog). Only a store app's catalog id is its manifest id."""
    fields = ",".join(APP_CATALOG.reads)
    body = graph.get(APP_CATALOG.path, {"$filter": f"externalId eq '{manifest_id}'", "$select": fields})
    for app in body.get("value", []):
        if str(app.get("externalId", "")).lower() == manifest_id.lower():
            return str(app.get("id"))
    return None


def install_app_in_team(graph: Graph, team_id: str, catalog_app_id: str) -> None:
    """Add the app (by its catalog id, not the manifest id) to the team."""
    version = TEAM_INSTALL_APP.path.split("/")[1]
    bind = f"{settings.MICROSOFT_GRAPH_URL.rstrip('/')}/{version}/appCatalogs/teamsApps/{catalog_app_id}"
    graph.post(TEAM_INSTALL_APP.path.format(team_id=quote(team_id, safe="")), {"teamsApp@odata.bind": bind})


# --- the Bot Framework connector, as the portal's Teams app -----------------------------------

BOT_ACTIVITIES = declare(
    "bot.send_to_conversation",
    "POST",
    "/v3/conversations/{conversation_id}/activities",
    provider=BOT,
    permissions=(),  # the app's own Bot Framework token; no Graph permission
    reads=("id",),
    keeps=("id",),
    # Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#send-to-conversation
    reference="https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference",
    purpose="Teams notifications: the portal's Teams app posts the Jira or Confluence event into the chosen "
    "channel, as the app (not as a person).",
)
BOT_SCOPE = "https://api.botframework.com/.default"


class BotError(Exception):
    """The connector refused or did not answer. `retry_after`: seconds it asked to wait (429)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status in (0, 429) or self.status >= 500


_token_lock = threading.Lock()
_token: dict[str, Any] = {}


def _bot_app() -> msal.ConfidentialClientApplication:
    host = settings.MICROSOFT_AUTHORITY_HOST.rstrip("/")
    # Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
    # (multi-tenant bots: botframework.com; single-tenant bots: the bot's own tenant)
    return msal.ConfidentialClientApplication(
        settings.BOT_APP_ID, client_credential=settings.BOT_APP_SECRET,
        authority=f"{host}/{settings.BOT_TOKEN_TENANT}",
        instance_discovery=urlsplit(host).hostname == "login.microsoftonline.com",
        http_client=http.session(),
    )


def bot_token(*, fresh: bool = False) -> str:
    """The portal's bot's connector token (kept in memory until shortly before it expires)."""
    with _token_lock:
        if not fresh and _token.get("value") and _token.get("expires", 0) > time.time() + 300:
            return str(_token["value"])
        try:
            result = _bot_app().acquire_token_for_client(scopes=[BOT_SCOPE])
        except (requests.RequestException, ValueError, msal.exceptions.MsalServiceError) as exc:
            # No answer, or a 5xx msal gave up on: worth trying again later.
            raise BotError(f"Could not get the bot's token from Microsoft ({type(exc).__name__}).") from exc
        if "access_token" not in result:
            # The error code only: descriptions can echo request details.
            raise BotError(f"Microsoft refused the bot's token ({result.get('error', 'unknown')}).",
                           status=401, code=str(result.get("error", "")))
        _token.update(value=result["access_token"], expires=time.time() + int(result.get("expires_in", 3600)))
        return str(result["access_token"])


def forget_bot_token() -> None:
    with _token_lock:
        _token.clear()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def send_to_conversation(conversation_id: str, activity: dict[str, Any], *, service_url: str | None = None) -> str:
    """Post an activity into a conversation (a channel's id posts into the channel); its id."""
    base = (service_url or settings.BOT_SERVICE_URL).rstrip("/")
    url = base + BOT_ACTIVITIES.path.format(conversation_id=quote(conversation_id, safe=":@."))

    def post(token: str) -> requests.Response:
        with http.session() as session:
            return session.post(url, json=activity, headers={"Authorization": f"Bearer {token}"})

    try:
        response = post(bot_token())
        if response.status_code == 401:  # an expired or revoked token: one fresh try
            response = post(bot_token(fresh=True))
    except requests.RequestException as exc:
        raise BotError(f"The Bot Framework did not answer ({type(exc).__name__}).") from exc
    if response.status_code >= 400:
        try:
            error = (response.json() or {}).get("error") or {}
        except ValueError:
            error = {}
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        raise BotError(f"The Bot Framework answered HTTP {response.status_code}" + (f" ({code})." if code else "."),
                       status=response.status_code, code=code,
                       retry_after=_retry_after(response.headers.get("Retry-After")))
    try:
        return str((response.json() or {}).get("id", ""))
    except ValueError:
        return ""
