"""The Jira and Jira Service Management endpoints of incident chats and meetings: one typed
function each, its declaration beside it (connections.endpoints). The clients are
atlassian-python-api's (connections.atlassian.refresh.jira_for), which add the base URL, the
credentials and timeouts; an HTTP error comes back as requests.HTTPError."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from atlassian import Jira

from ..endpoints import JSM, declare

SEARCH_JQL = declare(
    "jira.search_jql",
    "GET",
    "/rest/api/3/search/jql",
    permissions=("read:jira-work",),
    reads=("issues.id", "issues.key", "summary", "status", "priority", "assignee", "nextPageToken", "isLast"),
    keeps=("issues.id", "issues.key", "summary"),
    # The enhanced search; GET /rest/api/3/search is removed (410).
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get",
    purpose="Incident chats: the open incidents of a service project, a page at a time (nextPageToken).",
)
INCIDENT_FIELDS = ("summary", "status", "priority", "assignee")


def search_page(jira: Jira, *, jql: str, max_results: int, next_page_token: str | None = None) -> Any:
    """One page of issues matching `jql`, with INCIDENT_FIELDS."""
    params: dict[str, Any] = {"jql": jql, "fields": ",".join(INCIDENT_FIELDS), "maxResults": max_results}
    if next_page_token:
        params["nextPageToken"] = next_page_token
    return jira.get(SEARCH_JQL.path.lstrip("/"), params=params)


def search_all(jira: Jira, *, jql: str, page_size: int = 50, limit: int = 500) -> Iterator[dict[str, Any]]:
    """Every issue matching `jql` (at most `limit`), following nextPageToken until the last page."""
    token, seen = None, 0
    while True:
        page = search_page(jira, jql=jql, max_results=page_size, next_page_token=token) or {}
        for issue in page.get("issues") or []:
            yield issue
            seen += 1
            if seen >= limit:
                return
        token = page.get("nextPageToken")
        if not token or page.get("isLast", True):
            return


WATCHERS = declare(
    "jira.issue_watchers",
    "GET",
    "/rest/api/3/issue/{issue_key}/watchers",
    permissions=("read:jira-work",),
    reads=("watchers.accountId", "watchers.displayName"),
    keeps=("watchers.accountId",),
    # Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-watchers/#api-rest-api-3-issue-issueidorkey-watchers-get
    reference="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-watchers/#api-rest-api-3-issue-issueidorkey-watchers-get",
    purpose="Incident chats: the incident's watchers are responders.",
)


def watchers(jira: Jira, issue_key: str) -> list[dict[str, Any]]:
    body = jira.get(WATCHERS.path.format(issue_key=issue_key).lstrip("/")) or {}
    return [w for w in body.get("watchers") or [] if isinstance(w, dict) and w.get("accountId")]


PARTICIPANTS = declare(
    "jsm.request_participants",
    "GET",
    "/rest/servicedeskapi/request/{issue_key}/participant",
    permissions=("read:servicedesk-request",),
    reads=("values.accountId", "values.displayName", "isLastPage"),
    keeps=("values.accountId",),
    # Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-participant-get
    reference="https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-participant-get",
    purpose="Incident chats: the request's participants are responders.",
    provider=JSM,
)


def participants(jira: Jira, issue_key: str, *, page_size: int = 50) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    start = 0
    while True:
        body = jira.get(PARTICIPANTS.path.format(issue_key=issue_key).lstrip("/"),
                        params={"start": start, "limit": page_size}) or {}
        values = [p for p in body.get("values") or [] if isinstance(p, dict) and p.get("accountId")]
        people += values
        start += len(values)
        if body.get("isLastPage", True) or not values:
            return people


REQUEST_COMMENT = declare(
    "jsm.request_comment",
    "POST",
    "/rest/servicedeskapi/request/{issue_key}/comment",
    permissions=("write:servicedesk-request",),
    reads=("id", "public"),
    keeps=("id",),
    # Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post
    reference="https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post",
    purpose="Incident chats: meeting links and chat messages added to the incident as internal notes.",
    provider=JSM,
)


def add_internal_comment(jira: Jira, issue_key: str, body: str) -> str:
    """An internal note (public: false: agents see it, the customer does not); its id."""
    answer = jira.post(REQUEST_COMMENT.path.format(issue_key=issue_key).lstrip("/"),
                       data={"body": body, "public": False}) or {}
    return str(answer.get("id", ""))


def responder_ids(assignee: dict[str, Any] | None, watching: Sequence[dict[str, Any]],
                  participating: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(account id, display name, why) of each responder once, assignee first."""
    seen: dict[str, tuple[str, str, str]] = {}
    for why, people in (("assignee", [assignee] if assignee else []), ("watcher", watching),
                        ("request participant", participating)):
        for person in people:
            account_id = str(person.get("accountId", ""))
            if account_id and account_id not in seen:
                seen[account_id] = (account_id, str(person.get("displayName", "")), why)
    return list(seen.values())
