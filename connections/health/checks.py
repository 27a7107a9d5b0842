"""One harmless real check per feature and side, each answering passed / failed / skipped
with a remedy in plain words (the idea follows onyx's capability checks).

A check reads one page at most (one user, one team, one space) with the credentials the
feature really uses: app-only Graph tokens for application permissions, the stored delegated
token for delegated ones, the site's OAuth token or API token for Atlassian. Before a Graph
call, the fresh app-only token's roles say whether the permission is there at all, so the
remedy can name exactly what is missing.
"""

from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings

from .. import permissions
from ..atlassian import client as atlassian_client
from ..atlassian import endpoints as atlassian_endpoints
from ..atlassian import refresh
from ..microsoft import chats as graph_chats
from ..microsoft import endpoints as graph_endpoints
from ..microsoft import intune_endpoints
from ..microsoft.graph import Forbidden, Graph, GraphError, TokenThrottled
from ..models import SearchConnection
from .credentials import Probe
from .results import (  # noqa: F401 - the results' vocabulary, as the checks' callers know it
    CONSENT_HINT,
    FAILED,
    NEEDS_REAUTH,
    OTHER,
    PASSED,
    PERMISSION,
    SKIPPED,
    UNAVAILABLE,
    Result,
)


@dataclass(frozen=True)
class Check:
    key: str
    side: str  # "microsoft" or "atlassian"
    title: str
    run: Callable[[Probe], Result]
    # Application permissions (Microsoft) or scopes (Atlassian) the call needs.
    needs: tuple[str, ...] = ()


# --- Microsoft ------------------------------------------------------------------------------


def _missing_roles(probe, needs):
    """Result for a check whose application permissions are absent from the token, or None."""
    if probe.app_error is not None:
        return Result(SKIPPED, "No app-only token could be obtained (see the credential checks).")
    missing = [n for n in needs if n not in probe.roles]
    if not missing:
        return None
    names = ", ".join(missing)
    plural = "s" if len(missing) > 1 else ""
    return Result(
        FAILED,
        f"Application permission{plural} {names} {'are' if plural else 'is'} not granted in tenant {probe.tenant}.",
        f"Ask a Global Administrator of {probe.tenant} to open a consent link {CONSENT_HINT}.",
        PERMISSION,
    )


def _graph_failure(probe, exc, needs):
    if isinstance(exc, TokenThrottled):
        # No token just now says nothing about the tenant: the whole run waits (see services).
        probe.throttled = probe.throttled or exc
        return Result(SKIPPED, str(exc)[:300])
    if isinstance(exc, Forbidden):
        names = ", ".join(exc.permissions or needs) or "a permission"
        return Result(
            FAILED,
            f"Microsoft Graph refused the call in tenant {probe.tenant}: {names} is not granted.",
            f"Ask a Global Administrator of {probe.tenant} to open a consent link {CONSENT_HINT}.",
            PERMISSION,
        )
    if exc.status in (0, 429) or exc.status >= 500:
        return Result(FAILED, f"Microsoft Graph did not answer ({exc}).", exc.remedy, UNAVAILABLE)
    return Result(FAILED, str(exc)[:300], exc.remedy, OTHER)


def _app_call(call, needs, describe):
    def run(probe):
        blocked = _missing_roles(probe, needs)
        if blocked:
            return blocked
        try:
            body = call(Graph(probe.connection))
        except GraphError as exc:
            return _graph_failure(probe, exc, needs)
        return Result(PASSED, describe(probe, body))

    return run


def _joined_teams(probe):
    token = probe.delegated_token()
    if token is None:
        return Result(SKIPPED, probe.delegated_skip_reason)
    try:
        body = graph_endpoints.joined_teams(Graph(probe.connection, access_token=token))
    except GraphError as exc:
        return _graph_failure(probe, exc, ("Team.ReadBasic.All (delegated)",))
    return Result(PASSED, f"Listed the teams {probe.delegated_principal} has joined: {len(body.get('value', []))}.")


def _teams_app(probe):
    """Incident chats install the portal's Teams app by its catalog id, found in the tenant's
    app catalog (a user-context call): the app must have been uploaded there."""
    token = probe.delegated_token()
    if token is None:
        return Result(SKIPPED, probe.delegated_skip_reason)
    if not settings.TEAMS_APP_MANIFEST_ID:
        return Result(FAILED, "The portal does not know its Teams app (TEAMS_APP_MANIFEST_ID is not set).",
                      "Set TEAMS_APP_MANIFEST_ID to the id in the manifest of the portal's Teams app.", OTHER)
    try:
        found = graph_chats.teams_app_catalog_id(Graph(probe.connection, access_token=token),
                                                 external_id=settings.TEAMS_APP_MANIFEST_ID)
    except GraphError as exc:
        return _graph_failure(probe, exc, ("AppCatalog.Read.All (delegated)",))
    if not found:
        return Result(
            FAILED, f"The portal's Teams app is not in {probe.tenant}'s app catalog: incident chats get no app.",
            f"A Teams administrator of {probe.tenant} uploads the portal's app (Teams admin center, Manage apps).",
            OTHER,
        )
    return Result(PASSED, f"The portal's Teams app is in {probe.tenant}'s app catalog.")


def _channel_messages(probe):
    needs = ("Team.ReadBasic.All", "Channel.ReadBasic.All", "ChannelMessage.Read.All")
    blocked = _missing_roles(probe, needs)
    if blocked:
        return blocked
    graph = Graph(probe.connection)
    try:
        teams = next(graph_endpoints.teams_pages(graph, top=1, fields=("id",))).get("value", [])
        if not teams:
            return Result(PASSED, f"Tenant {probe.tenant} has no team yet: nothing to read, and nothing refused.")
        channels = next(graph_endpoints.channels_pages(graph, teams[0]["id"], fields=None)).get("value", [])
        if not channels:
            return Result(PASSED, "Listed a team; it has no channel to read yet.")
        next(graph_endpoints.channel_messages_pages(graph, teams[0]["id"], channels[0]["id"], top=1))
    except GraphError as exc:
        return _graph_failure(probe, exc, needs)
    return Result(PASSED, "Read a team, its channels and the newest message of one channel.")


def _search_connection(probe):
    needs = ("ExternalConnection.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.OwnedBy")
    blocked = _missing_roles(probe, needs)
    if blocked:
        return blocked
    try:
        body = graph_endpoints.external_connections(Graph(probe.connection))
    except GraphError as exc:
        return _graph_failure(probe, exc, needs[:1])
    listed = {str(c.get("id", "")).lower(): c for c in body.get("value", []) if isinstance(c, dict)}
    search = SearchConnection.objects.filter(connection=probe.connection, graph_connection_created=True).first()
    if search is not None and search.published:
        # The index the portal built must still be there, and ready (not obsolete or over its limit).
        # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalconnection
        ours = listed.get(search.graph_connection_id.lower())
        if ours is None:
            return Result(FAILED, f"The Microsoft Search connection {search.graph_connection_id} is gone from "
                          f"{probe.tenant}.", remedy="Publish Microsoft Search again from its page.", cause=OTHER)
        if ours.get("state") not in ("ready", "draft"):
            return Result(FAILED, f"The Microsoft Search connection {search.graph_connection_id} is "
                          f"{ours.get('state')}.", remedy="Narrow the filter (Microsoft's item limit) or publish "
                          "again from the Microsoft Search page.", cause=OTHER)
    return Result(PASSED, f"Listed the portal's Microsoft Search connections in {probe.tenant}: {len(listed)}.")


READ_ONE_USER = Check(
    "read_one_user",
    "microsoft",
    "Read one user",
    _app_call(
        graph_endpoints.users_first_page,
        ("User.Read.All",),
        lambda probe, body: f"Read one user of {probe.tenant} (id only).",
    ),
    ("User.Read.All",),
)
JOINED_TEAMS = Check("joined_teams", "microsoft", "List joined teams (delegated)", _joined_teams)
TEAMS_APP = Check("teams_app", "microsoft", "Find the portal's Teams app in the app catalog (delegated)", _teams_app)
CHANNEL_MESSAGES = Check(
    "channel_messages", "microsoft", "List teams, channels and one message", _channel_messages,
    ("Team.ReadBasic.All", "Channel.ReadBasic.All", "ChannelMessage.Read.All"),
)
SEARCH_CONNECTION = Check(
    "search_connection", "microsoft", "List Microsoft Search connections", _search_connection,
    ("ExternalConnection.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.OwnedBy"),
)

# --- Atlassian ------------------------------------------------------------------------------


def _atlassian_call(product, build, call, describe, scope):
    def run(probe):
        site = probe.site
        if product not in (site.products or []) and not (product == "jira" and "jsm" in (site.products or [])):
            return Result(SKIPPED, f"{site.name} runs no {product.capitalize()}.")
        try:
            api = build(site)
            body = call(api)
        except refresh.NeedsReauthorization:
            return Result(
                FAILED,
                f"The Atlassian site {site.name} needs re-authorization.",
                "Authorize it again from the site's page.",
                NEEDS_REAUTH,
            )
        except refresh.NotAuthorized:
            return Result(SKIPPED, f"The Atlassian site {site.name} is not authorized yet: authorize it first.")
        except requests.HTTPError as exc:
            status = getattr(exc.response, "status_code", 0)
            if status in (401, 403):
                return Result(
                    FAILED,
                    f"{site.name} refused the call (HTTP {status}): scope {scope} is not granted.",
                    f"Authorize {site.name} again and grant {scope}.",
                    PERMISSION,
                )
            if status == 429 or status >= 500:
                return Result(FAILED, f"{site.name} did not answer (HTTP {status}).", "Try again later.", UNAVAILABLE)
            return Result(FAILED, f"{site.name} answered HTTP {status}.", "Try again; if it persists, contact support.",
                          OTHER)
        except (atlassian_client.AtlassianError, requests.RequestException) as exc:
            return Result(FAILED, f"{site.name} could not be reached ({type(exc).__name__}).", "Try again later.",
                          UNAVAILABLE)
        return Result(PASSED, describe(site, body))

    return run


JIRA_PROJECTS = Check(
    "jira_projects",
    "atlassian",
    "List Jira projects",
    _atlassian_call(
        "jira", refresh.jira_for, lambda jira: atlassian_endpoints.jira_project_search(jira, max_results=1),
        lambda site, body: f"{site.name}: {body.get('total', 0)} Jira project(s) visible.", "read:jira-work",
    ),
    ("read:jira-work",),
)
JIRA_USERS = Check(
    "jira_users",
    "atlassian",
    "Search Jira users",
    _atlassian_call(
        "jira", refresh.jira_for, lambda jira: atlassian_endpoints.jira_users_search(jira, max_results=1),
        lambda site, body: f"{site.name}: read one page of users.", "read:jira-user",
    ),
    ("read:jira-user",),
)
def _service_projects(probe):
    """Incident chats live in service projects: a site without Jira Service Management fails
    here (listing Jira's service_desk projects on it would pass on "0 service projects")."""
    site = probe.site
    if "jsm" not in (site.products or []):
        products = ", ".join(permissions.PRODUCT_NAMES.get(p, p) for p in site.products or []) or "no known product"
        return Result(
            FAILED,
            f"{site.name} runs no Jira Service Management ({products}): incident chats have no service project.",
            f"Use this feature with a Jira Service Management site, or correct the products of {site.name} "
            "on its page if it does run it.",
            OTHER,
        )
    return _list_service_projects(probe)


_list_service_projects = _atlassian_call(
    "jira", refresh.jira_for,
    lambda jira: atlassian_endpoints.jira_project_search(jira, max_results=1, type_key="service_desk"),
    lambda site, body: f"{site.name}: {body.get('total', 0)} service project(s).", "read:jira-work",
)
SERVICE_PROJECTS = Check("service_projects", "atlassian", "List service projects", _service_projects,
                         ("read:jira-work",))
CONFLUENCE_SPACES = Check(
    "confluence_spaces",
    "atlassian",
    "List Confluence spaces",
    _atlassian_call(
        "confluence", refresh.confluence_for, lambda wiki: atlassian_endpoints.confluence_spaces(wiki, limit=1),
        lambda site, body: f"{site.name}: read the first page of spaces.", "read:space:confluence",
    ),
    ("read:space:confluence",),
)

def _intune_protections(probe):
    """Intune answers only in a tenant with an Intune licence: listing one iOS policy says both
    that and whether the permission is there."""
    needs = ("DeviceManagementApps.ReadWrite.All",)
    blocked = _missing_roles(probe, needs)
    if blocked:
        return blocked
    try:
        intune_endpoints.protections_first_page(Graph(probe.connection), "ios")
    except GraphError as exc:
        if exc.status == 400 and intune_endpoints.is_unlicensed(exc):
            return Result(FAILED, f"Intune does not answer in tenant {probe.tenant}: it has no active Intune licence.",
                          intune_endpoints.UNLICENSED_REMEDY, OTHER)
        return _graph_failure(probe, exc, needs)
    return Result(PASSED, f"Intune answers in {probe.tenant}: app protection policies can be made there.")


INTUNE_PROTECTIONS = Check("intune_protections", "microsoft", "List Intune app protection policies",
                           _intune_protections, ("DeviceManagementApps.ReadWrite.All",))

# What each feature is checked with; keys follow connections.permissions.FEATURES.
FEATURE_CHECKS = {
    "teams_notifications": (JOINED_TEAMS, JIRA_PROJECTS),
    "jsm_chatops": (READ_ONE_USER, JOINED_TEAMS, TEAMS_APP, SERVICE_PROJECTS, JIRA_USERS),
    "user_mapping": (READ_ONE_USER, JIRA_USERS),
    "channel_knowledge": (CHANNEL_MESSAGES, JIRA_PROJECTS),
    "confluence_search": (SEARCH_CONNECTION, CONFLUENCE_SPACES),
    "intune_mobile_policy": (INTUNE_PROTECTIONS,),
}
assert set(FEATURE_CHECKS) == set(permissions.FEATURES), "every feature needs its checks"
