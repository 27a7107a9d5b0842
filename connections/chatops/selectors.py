"""Reads for incident chats and meetings: the open incidents of a service project (Jira's
enhanced search, paged by nextPageToken), one incident's responders, and which Microsoft user
each responder is (the connection's user matching)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from atlassian.errors import ApiError
from django.urls import reverse

from ..atlassian import client as atlassian_client
from ..atlassian import incidents as jira_incidents
from ..atlassian import refresh as atlassian_refresh
from ..models import (
    ChatopsState,
    Connection,
    ConnectionProject,
    IncidentChat,
    IncidentMeeting,
    ManualMapping,
    MatchOutcome,
    UserMatch,
)

FEATURE = "jsm_chatops"
PAGE_SIZE = 25


class Refused(Exception):
    """The action cannot be done, for a reason the person or the rule's author can act on."""


class JiraUnavailable(Refused):
    """Jira did not answer, or refused the read."""


def open_incidents_jql(project: ConnectionProject) -> str:
    return f'project = "{project.key}" AND issuetype = Incident AND statusCategory != Done ORDER BY created DESC'


def refuse_unless_usable(connection: Connection, project: ConnectionProject) -> None:
    """Raise Refused with a sentence saying why, unless chats and meetings may be made for
    incidents of `project` now."""
    if project.connection_id != connection.pk:
        raise Refused("That project does not belong to this connection.")
    if FEATURE not in (connection.features or []):
        raise Refused(f"Incident chats and meetings are not switched on for {connection}: add the feature first.")
    if connection.status == Connection.Status.DISCONNECTED:
        raise Refused(f"{connection} is disconnected: reconnect it to create chats and meetings.")
    if project.gone_at:
        raise Refused(f"{project.key} is no longer in Jira.")
    if not project.teams_enabled:
        raise Refused(
            f"Microsoft Teams is switched off for {project.key}: chats and meetings cannot be created for its "
            f"incidents. An admin can switch it on under Service projects on the connection's page."
        )


def jira_client(connection: Connection) -> Any:
    try:
        return atlassian_refresh.jira_for(connection.site)
    except (atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized) as exc:
        raise JiraUnavailable(f"{exc} Authorize the site again from its page.") from exc


def jira_call(what: str, call: Any) -> Any:
    try:
        return call()
    except (atlassian_refresh.NeedsReauthorization, atlassian_refresh.NotAuthorized) as exc:
        raise JiraUnavailable(f"{exc} Authorize the site again from its page.") from exc
    except requests.HTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", 0)
        if status == 404:
            raise JiraUnavailable(f"{what}: Jira does not know that incident (or the portal may not see it).") from exc
        if status in (401, 403):
            raise JiraUnavailable(
                f"{what}: Jira refused (HTTP {status}). The site's authorization may lack a scope the feature "
                "needs: authorize the site again from its page."
            ) from exc
        raise JiraUnavailable(f"{what}: Jira answered HTTP {status}. Try again shortly.") from exc
    except ApiError as exc:  # atlassian-python-api's own errors (not found, permission, conflict)
        raise JiraUnavailable(f"{what}: Jira refused ({type(exc).__name__}: {exc}).") from exc
    except (atlassian_client.AtlassianError, requests.RequestException, OSError) as exc:
        raise JiraUnavailable(f"{what}: Jira could not be reached ({type(exc).__name__}). Try again shortly.") from exc


@dataclass(frozen=True)
class Incident:
    id: str
    key: str
    summary: str
    status: str
    priority: str
    assignee: dict[str, Any] | None

    @property
    def topic(self) -> str:
        # Teams limits a chat's topic; the key comes first so the chat is found by it.
        return f"{self.key}: {self.summary}"[:250]


def _incident(issue: dict[str, Any]) -> Incident:
    fields = issue.get("fields") or {}
    return Incident(
        id=str(issue.get("id", "")),
        key=str(issue.get("key", "")),
        summary=str(fields.get("summary") or ""),
        status=str((fields.get("status") or {}).get("name", "")),
        priority=str((fields.get("priority") or {}).get("name", "")),
        assignee=fields.get("assignee") if isinstance(fields.get("assignee"), dict) else None,
    )


@dataclass
class IncidentPage:
    incidents: list[Incident]
    next_page_token: str | None
    chats: dict[str, IncidentChat] = field(default_factory=dict)
    meetings: dict[str, IncidentMeeting] = field(default_factory=dict)


def open_incidents(connection: Connection, project: ConnectionProject, *, page_token: str | None = None,
                   page_size: int | None = None) -> IncidentPage:
    """One page of the project's open incidents, newest first, with the chats and meetings the
    portal made for them."""
    jira = jira_client(connection)
    page = jira_call(
        "Listing the open incidents",
        lambda: jira_incidents.search_page(jira, jql=open_incidents_jql(project), max_results=page_size or PAGE_SIZE,
                                           next_page_token=page_token),
    ) or {}
    incidents = [_incident(i) for i in page.get("issues") or [] if isinstance(i, dict)]
    ids = [i.id for i in incidents]
    return IncidentPage(
        incidents=incidents,
        next_page_token=None if page.get("isLast", True) else page.get("nextPageToken"),
        chats={c.issue_id: c for c in IncidentChat.objects.filter(connection=connection, issue_id__in=ids)},
        meetings={m.issue_id: m for m in IncidentMeeting.objects.filter(connection=connection, issue_id__in=ids)},
    )


def incident(connection: Connection, project: ConnectionProject, issue_key: str) -> Incident:
    """One open or closed incident of the project, by key; JiraUnavailable when Jira has none."""
    key = issue_key.strip().upper()
    if not key or not key.startswith(f"{project.key}-") or not key[len(project.key) + 1:].isdigit():
        raise Refused(f"{issue_key!r} is not an issue key of {project.key}.")
    jira = jira_client(connection)
    page = jira_call(
        f"Reading {key}",
        lambda: jira_incidents.search_page(jira, jql=f'project = "{project.key}" AND key = "{key}"', max_results=1),
    ) or {}
    issues = [i for i in page.get("issues") or [] if isinstance(i, dict)]
    if not issues:
        raise JiraUnavailable(f"Jira has no incident {key} in {project.key} (or the portal may not see it).")
    return _incident(issues[0])


@dataclass(frozen=True)
class Responder:
    account_id: str
    name: str
    why: str  # assignee, watcher, request participant
    microsoft_user_id: str = ""
    reason: str = ""  # why there is no Microsoft user

    @property
    def mapped(self) -> bool:
        return bool(self.microsoft_user_id)


_REASONS: dict[str, str] = {
    MatchOutcome.UNMATCHED: "no Microsoft 365 user has this person's email address",
    MatchOutcome.AMBIGUOUS: "several Microsoft 365 users match; choose one in the user mapping",
    MatchOutcome.HIDDEN: "the Atlassian profile hides the email address; map the person by hand",
}


def responders(connection: Connection, found: Incident) -> list[Responder]:
    """The incident's responders (assignee, watchers, request participants), each once, with
    their Microsoft user from the connection's user matching, or the reason there is none."""
    jira = jira_client(connection)
    watching = jira_call(f"Reading the watchers of {found.key}", lambda: jira_incidents.watchers(jira, found.key))
    participating = jira_call(
        f"Reading the request participants of {found.key}", lambda: jira_incidents.participants(jira, found.key)
    )
    people = jira_incidents.responder_ids(found.assignee, watching, participating)
    ids = [p[0] for p in people]
    manual = dict(ManualMapping.objects.filter(connection=connection, account_id__in=ids)
                  .values_list("account_id", "microsoft_user_id"))
    matches = {m.account_id: m for m in UserMatch.objects.filter(connection=connection, account_id__in=ids)}
    result = []
    for account_id, name, why in people:
        match = matches.get(account_id)
        if account_id in manual:
            result.append(Responder(account_id, name, why, microsoft_user_id=manual[account_id]))
        elif match is not None and match.outcome == MatchOutcome.MATCHED and match.microsoft_user_id:
            result.append(Responder(account_id, name, why, microsoft_user_id=match.microsoft_user_id))
        elif match is None:
            result.append(Responder(account_id, name, why,
                                    reason="user matching has not seen this account yet; run user matching"))
        else:
            result.append(Responder(account_id, name, why, reason=_REASONS.get(match.outcome, "not matched")))
    return result


def mapping_url(connection: Connection, account_id: str) -> str:
    """The user mapping, filtered to the account, with its manual mapping form filled in."""
    return f"{reverse('connections:user_mapping', args=[connection.pk])}?q={account_id}&map={account_id}"


def teams_app_catalog_id(connection: Connection) -> str:
    """The catalog id of the portal's Teams app in the connection's tenant, once resolved."""
    state = ChatopsState.objects.filter(connection=connection).first()
    return state.teams_app_catalog_id if state else ""


def chatops_projects(connection: Connection) -> Any:
    """The connection's service projects still in Jira, Teams on or off."""
    return connection.projects.filter(gone_at__isnull=True).order_by("key")
