"""Jira's enhanced issue search (search/jql, paged by nextPageToken) and the old search it
replaced (gone: 410), issue watchers, and Jira Service Management's request participants and
request comments (public or internal)."""

import datetime
import json
import re

from django.core import signing
from django.views.decorators.csrf import csrf_exempt

from .auth import api_view, json_response, site_url
from .jira_views import user_json
from .models import Issue, IssueComment, ProjectAgent

WORK_SCOPES = ("read:jira-work",)
# Classic scopes of the servicedeskapi request group.
# Reference: https://developer.atlassian.com/cloud/jira/service-desk/scopes-for-oauth-2-3LO-and-forge-apps/
REQUEST_READ = ("read:servicedesk-request",)
REQUEST_WRITE = ("write:servicedesk-request",)

# The largest page search/jql serves when fields are asked for, and its default.
# Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
SEARCH_DEFAULT = 50
SEARCH_MAX_WITH_FIELDS = 100
SEARCH_MAX_IDS = 5000
# A nextPageToken stays valid for 7 days.
TOKEN_MAX_AGE = 7 * 24 * 3600
_TOKEN_SALT = "sandbox.jira.nextPageToken"


def _errors(status, *messages):
    return json_response({"errorMessages": list(messages), "errors": {}}, status)


# Reference: https://developer.atlassian.com/changelog/#CHANGE-2046 (GET/POST /rest/api/3/search
# removed; callers get 410 Gone and move to /rest/api/3/search/jql).
@csrf_exempt
@api_view("jira")
def search_removed(request, caller):
    return _errors(
        410,
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
    )


_CLAUSE = re.compile(r'^\s*(project|issuetype|statusCategory|status|key)\s*(=|!=)\s*"?([^"]+?)"?\s*$', re.I)
_ORDER = re.compile(r"\s+ORDER\s+BY\s+(created|key)\s*(ASC|DESC)?\s*$", re.I)
_CATEGORIES = {"to do": "new", "new": "new", "in progress": "indeterminate", "done": "done"}


def _apply_jql(issues, jql):
    """The subset of JQL the sandbox reads: clauses joined by AND on project, issuetype,
    status, statusCategory and key (= or !=), then ORDER BY created|key. (issues, None) or
    (None, message)."""
    order = ("-created", "-issue_id")
    match = _ORDER.search(jql)
    if match:
        field, direction = match.group(1).lower(), (match.group(2) or "ASC").upper()
        column = "created" if field == "created" else "issue_id"
        order = (f"-{column}", "-issue_id") if direction == "DESC" else (column, "issue_id")
        jql = jql[: match.start()]
    if jql.strip():
        for clause in re.split(r"\s+AND\s+", jql.strip(), flags=re.I):
            found = _CLAUSE.match(clause)
            if not found:
                return None, f"Error in the JQL Query: the clause '{clause.strip()}' is not supported here."
            field, op, value = found.group(1).lower(), found.group(2), found.group(3).strip()
            if field == "project":
                q = {"project__key__iexact": value} if not value.isdigit() else {"project__project_id": int(value)}
            elif field == "issuetype":
                q = {"issue_type__iexact": value}
            elif field == "status":
                q = {"status__iexact": value}
            elif field == "statuscategory":
                q = {"status_category": _CATEGORIES.get(value.lower(), value.lower())}
            else:
                q = {"key__iexact": value}
            issues = issues.filter(**q) if op == "=" else issues.exclude(**q)
    return issues.order_by(*order), None


def _stamp(when):
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _fields(request, site, issue, wanted, base):
    everything = {
        "summary": issue.summary,
        "issuetype": {"name": issue.issue_type},
        "status": {"name": issue.status, "statusCategory": {"key": issue.status_category}},
        "priority": {"name": issue.priority},
        "assignee": user_json(request, site, issue.assignee, base) if issue.assignee else None,
        "reporter": user_json(request, site, issue.reporter, base) if issue.reporter else None,
        "created": _stamp(issue.created),
        "project": {"id": str(issue.project.project_id), "key": issue.project.key, "name": issue.project.name},
    }
    if "*all" in wanted or "*navigable" in wanted:
        return everything
    return {name: everything[name] for name in wanted if name in everything}


@api_view("jira", *WORK_SCOPES)
def search_jql(request, caller):
    """GET /rest/api/3/search/jql: issues matching a (bounded) JQL query, a page at a time. With
    no `fields` an issue carries only its id; the next page is asked for with nextPageToken,
    and the last page has none (isLast). Reference:
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get"""
    jql = request.GET.get("jql", "")
    if not jql.strip():
        # Unbounded queries are refused by the enhanced search.
        return _errors(
            400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        )
    wanted = [f.strip() for f in request.GET.get("fields", "").split(",") if f.strip()]
    try:
        size = int(request.GET.get("maxResults", SEARCH_DEFAULT))
    except ValueError:
        return _errors(400, "maxResults must be a number")
    size = max(1, min(size, SEARCH_MAX_WITH_FIELDS if wanted else SEARCH_MAX_IDS))
    after = None
    token = request.GET.get("nextPageToken")
    if token:
        try:
            state = signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        except signing.BadSignature:
            return _errors(400, "The provided next page token is invalid or expired.")
        if state.get("jql") != jql:
            return _errors(400, "The provided next page token is invalid or expired.")
        after = int(state["offset"])
    issues, problem = _apply_jql(Issue.objects.filter(site=caller.site).select_related("project", "assignee",
                                                                                      "reporter"), jql)
    if problem:
        return _errors(400, problem)
    offset = after or 0
    rows = list(issues[offset : offset + size + 1])
    more = len(rows) > size
    rows = rows[:size]
    base = site_url(request, caller.site)
    body = {
        "issues": [
            {"id": str(i.issue_id), "key": i.key, "self": f"{base}/rest/api/3/issue/{i.issue_id}",
             **({"fields": _fields(request, caller.site, i, wanted, base)} if wanted else {})}
            for i in rows
        ],
        "isLast": not more,
    }
    if more:
        body["nextPageToken"] = signing.dumps({"jql": jql, "offset": offset + size}, salt=_TOKEN_SALT)
    return json_response(body)


def _issue(caller, key_or_id):
    issues = Issue.objects.filter(site=caller.site).select_related("project")
    if key_or_id.isdigit():
        return issues.filter(issue_id=int(key_or_id)).first()
    return issues.filter(key__iexact=key_or_id).first()


@api_view("jira", *WORK_SCOPES)
def issue_watchers(request, caller, issue_key):
    """GET /rest/api/3/issue/{issueIdOrKey}/watchers. Reference:
    https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-watchers/#api-rest-api-3-issue-issueidorkey-watchers-get"""
    issue = _issue(caller, issue_key)
    if issue is None:
        return _errors(404, "Issue does not exist or you do not have permission to see it.")
    base = site_url(request, caller.site)
    watchers = list(issue.watchers.order_by("account_id"))
    return json_response(
        {
            "self": f"{base}/rest/api/3/issue/{issue.key}/watchers",
            "isWatching": any(w.pk == caller.account.pk for w in watchers),
            "watchCount": len(watchers),
            "watchers": [user_json(request, caller.site, w, base) for w in watchers],
        }
    )


def _jsm_only(caller, issue):
    if "jira-servicedesk" not in caller.site.products or issue.project.project_type_key != "service_desk":
        return _errors(404, "The request does not exist or is not a customer request.")
    return None


@api_view("jira", *REQUEST_READ)
def request_participants(request, caller, issue_key):
    """GET /rest/servicedeskapi/request/{issueIdOrKey}/participant: a page of the request's
    participants. Reference:
    https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-participant-get"""
    issue = _issue(caller, issue_key)
    if issue is None:
        return _errors(404, "The request does not exist.")
    refused = _jsm_only(caller, issue)
    if refused:
        return refused
    try:
        start = max(0, int(request.GET.get("start", 0)))
        limit = max(1, min(int(request.GET.get("limit", 50)), 50))
    except ValueError:
        return _errors(400, "start and limit must be numbers")
    people = list(issue.participants.order_by("account_id")[start : start + limit + 1])
    base = site_url(request, caller.site)
    return json_response(
        {
            "size": min(len(people), limit),
            "start": start,
            "limit": limit,
            "isLastPage": len(people) <= limit,
            "values": [
                {k: v for k, v in user_json(request, caller.site, p, base).items()
                 if k in ("accountId", "displayName", "emailAddress", "active", "timeZone")}
                for p in people[:limit]
            ],
            "_links": {"self": f"{base}/rest/servicedeskapi/request/{issue.issue_id}/participant"},
        }
    )


def _comment_json(request, caller, comment):
    base = site_url(request, caller.site)
    created = comment.created
    return {
        "id": str(comment.comment_id),
        "body": comment.body,
        "public": comment.public,
        "author": {k: v for k, v in user_json(request, caller.site, comment.author, base).items()
                   if k in ("accountId", "displayName", "emailAddress", "active", "timeZone")},
        "created": {
            "iso8601": _stamp(created),
            "jira": _stamp(created),
            "friendly": created.strftime("%d/%b/%y %I:%M %p"),
            "epochMillis": int(created.timestamp() * 1000),
        },
        "_links": {"self": f"{base}/rest/servicedeskapi/request/{comment.issue.issue_id}/comment/{comment.comment_id}"},
    }


@csrf_exempt
@api_view("jira", *REQUEST_WRITE)
def request_comment(request, caller, issue_key):
    """POST /rest/servicedeskapi/request/{issueIdOrKey}/comment {"body", "public"}: 201 with the
    comment. The caller needs the Add Comments permission; customers can only add public
    comments, so an internal one (public: false) needs an agent of the service project.
    Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post"""
    if request.method != "POST":
        return _errors(405, "Method not allowed")
    issue = _issue(caller, issue_key)
    if issue is None:
        return _errors(404, "The request does not exist.")
    refused = _jsm_only(caller, issue)
    if refused:
        return refused
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return _errors(400, "The request body is not valid JSON.")
    body = payload.get("body") if isinstance(payload, dict) else None
    public = payload.get("public", True) if isinstance(payload, dict) else True
    if not isinstance(body, str) or not body.strip():
        return _errors(400, "The comment body must not be empty.")
    if not isinstance(public, bool):
        return _errors(400, "public must be true or false.")
    is_agent = ProjectAgent.objects.filter(project=issue.project, account=caller.account).exists()
    is_customer = caller.account.account_type == "customer"
    if not public and not is_agent:
        return _errors(403, "You do not have permission to create internal comments on this request.")
    if not is_agent and not is_customer:
        return _errors(403, "You do not have permission to comment on this request.")
    last = IssueComment.objects.order_by("-comment_id").values_list("comment_id", flat=True).first() or 10000
    comment = IssueComment.objects.create(
        issue=issue, comment_id=last + 1, author=caller.account, body=body, public=public,
        created=datetime.datetime.now(datetime.UTC),
    )
    return json_response(_comment_json(request, caller, comment), 201)
