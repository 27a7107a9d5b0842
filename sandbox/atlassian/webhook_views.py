"""Jira Cloud's dynamic webhooks for OAuth 2.0 (3LO) apps: register, list, delete, refresh, and
the delivery of issue events to the registered URL.

Reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/
Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-webhooks/

What the sandbox holds to, from those pages:
- Only Connect and OAuth 2.0 apps may use these operations: an API token (Basic) is refused.
- The OAuth scopes are `read:jira-work` and `manage:jira-webhook` (both are listed for every
  operation of the group).
- A webhook lapses 30 days after it was registered or last refreshed; `PUT /webhook/refresh`
  extends the life of the given webhooks and answers the new expiration date.
- Registration answers 200 with one result per webhook asked for: `createdWebhookId`, or
  `errors` (a JQL outside the supported subset, an unknown event): a bad entry does not fail
  the others.
- The JQL filter takes a subset only: the fields issueKey, project, issuetype, status, assignee,
  reporter (and issue.property / cf[id], not simulated) with the operators =, !=, IN and NOT IN.
- A delivery is a POST of the event's JSON to the URL, with `matchedWebhookIds` naming the
  app's webhooks that matched. For OAuth 2.0 apps the request carries a JWT in
  `Authorization: Bearer …`, signed (HS256) with the app's client secret. Atlassian does not
  document the token's claims beyond that; the sandbox puts `iat` and a short `exp` (real time) in it [U].
"""

from __future__ import annotations

import datetime
import json
import re
import time
import zlib
from typing import Any

import jwt
import requests
from django.db.models import Max
from django.views.decorators.csrf import csrf_exempt

from sandbox import clock

from .auth import Caller, api_view, json_response
from .models import App, DynamicWebhook, Site

WEBHOOK_SCOPES = ("read:jira-work", "manage:jira-webhook")
LIFETIME_SECONDS = 30 * 24 * 3600
# Jira's issue events a dynamic webhook may name (the ones the portal can use are the issue ones).
# Reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/#issue-related-events
EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
)
JQL_FIELDS = {"issuekey": "key", "project": "project", "issuetype": "issuetype", "status": "status",
              "assignee": "assignee", "reporter": "reporter"}
JWT_SECONDS = 180


def _bad(message: str, status: int = 400):
    return json_response({"errorMessages": [message], "errors": {}}, status)


def _jira_date(seconds: float) -> str:
    # "2019-06-01T12:42:30.000+0000", as the reference's examples write it.
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _oauth_only(caller: Caller):
    """Only Connect and OAuth 2.0 apps can use this operation: a Basic (API token) caller has no app."""
    if caller.scopes is None or not caller.client_id:
        return json_response({"errorMessages": ["Only Connect and OAuth 2.0 apps can use this operation."],
                              "errors": {}}, 403)
    if not all(s in caller.scopes for s in WEBHOOK_SCOPES):
        return json_response({"code": 401, "message": "Unauthorized; scope does not match"}, 401)
    return None


def _body(request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


# --- the JQL subset ---------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z]+)\s*(?P<op>!=|=|NOT\s+IN|IN)\s*
        (?P<value>\([^)]*\)|"[^"]*"|'[^']*'|[^\s()]+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _values(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("("):
        return [v.strip().strip("\"'").lower() for v in raw[1:-1].split(",") if v.strip()]
    return [raw.strip("\"'").lower()]


def parse_jql(jql: str) -> list[list[tuple[str, str, list[str]]]] | None:
    """The filter as OR-groups of AND-ed clauses, or None when it leaves the supported subset."""
    groups: list[list[tuple[str, str, list[str]]]] = []
    for group_text in re.split(r"\s+OR\s+", jql.strip(), flags=re.IGNORECASE):
        clauses = []
        for clause_text in re.split(r"\s+AND\s+", group_text, flags=re.IGNORECASE):
            match = _CLAUSE.fullmatch(clause_text)
            if not match or match["field"].lower() not in JQL_FIELDS:
                return None
            op = " ".join(match["op"].upper().split())
            values = _values(match["value"])
            if (op in ("IN", "NOT IN")) != match["value"].startswith("("):
                return None
            clauses.append((JQL_FIELDS[match["field"].lower()], op, values))
        groups.append(clauses)
    return groups if groups and all(groups) else None


def _issue_values(issue: dict[str, Any]) -> dict[str, set[str]]:
    fields = issue.get("fields", {})
    project = fields.get("project") or {}
    people = {k: fields.get(k) or {} for k in ("assignee", "reporter")}
    return {
        "key": {str(issue.get("key", "")).lower()},
        "project": {str(project.get("key", "")).lower(), str(project.get("id", "")).lower(),
                    str(project.get("name", "")).lower()},
        "issuetype": {str((fields.get("issuetype") or {}).get("name", "")).lower()},
        "status": {str((fields.get("status") or {}).get("name", "")).lower()},
        "assignee": {str(people["assignee"].get("accountId", "")).lower()},
        "reporter": {str(people["reporter"].get("accountId", "")).lower()},
    }


def jql_matches(jql: str, issue: dict[str, Any]) -> bool:
    groups = parse_jql(jql)
    if groups is None:
        return False
    have = _issue_values(issue)

    def clause_holds(field: str, op: str, values: list[str]) -> bool:
        hit = bool(have[field] & set(values))
        return hit if op in ("=", "IN") else not hit

    return any(all(clause_holds(*c) for c in group) for group in groups)


# --- the REST operations ----------------------------------------------------------------------


def _json(hook: DynamicWebhook) -> dict[str, Any]:
    data: dict[str, Any] = {"id": hook.webhook_id, "jqlFilter": hook.jql_filter, "events": hook.events,
                            "expirationDate": _jira_date(hook.expires_at), "url": hook.url}
    if hook.field_ids_filter:
        data["fieldIdsFilter"] = hook.field_ids_filter
    return data


def _own(caller: Caller):
    return DynamicWebhook.objects.filter(site=caller.site, app__client_id=caller.client_id)


def _register(request, caller: Caller):
    body = _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("webhooks"), list) or not body.get("url"):
        return _bad("The request body must contain 'url' and 'webhooks'.")
    url = str(body["url"])
    if not url.startswith(("https://", "http://")):
        return _bad("The webhook URL is not valid.")
    app = App.objects.get(client_id=caller.client_id)
    results: list[dict[str, Any]] = []
    for entry in body["webhooks"]:
        errors = []
        if not isinstance(entry, dict):
            results.append({"errors": ["A webhook must be an object."]})
            continue
        events = entry.get("events")
        jql = entry.get("jqlFilter")
        if not isinstance(events, list) or not events:
            errors.append("The webhook must name at least one event.")
        else:
            errors += [f"Event '{e}' is not supported." for e in events if e not in EVENTS]
        if not isinstance(jql, str) or not jql.strip():
            errors.append("The JQL filter is required.")
        elif parse_jql(jql) is None:
            errors.append(f"The JQL query '{jql}' is not supported by webhooks: use issueKey, project, issuetype, "
                          "status, assignee or reporter with =, !=, IN or NOT IN.")
        if errors:
            results.append({"errors": errors})
            continue
        next_id = (DynamicWebhook.objects.aggregate(m=Max("webhook_id"))["m"] or 9999) + 1
        hook = DynamicWebhook.objects.create(
            webhook_id=next_id, site=caller.site, app=app, account=caller.account, url=url, jql_filter=str(jql),
            events=events, field_ids_filter=entry.get("fieldIdsFilter") or [],
            expires_at=clock.now() + LIFETIME_SECONDS,
        )
        results.append({"createdWebhookId": hook.webhook_id})
    return json_response({"webhookRegistrationResult": results})


def _list(request, caller: Caller):
    try:
        start = max(0, int(request.GET.get("startAt", 0)))
        size = min(max(1, int(request.GET.get("maxResults", 100))), 100)
    except ValueError:
        return _bad("startAt and maxResults must be numbers")
    # Lapsed webhooks are gone: Jira removes them once they expire.
    hooks = _own(caller).filter(expires_at__gt=clock.now())
    total = hooks.count()
    rows = [_json(h) for h in hooks[start : start + size]]
    return json_response({"maxResults": size, "startAt": start, "total": total, "isLast": start + size >= total,
                          "values": rows})


def _ids(request):
    body = _body(request)
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        return None
    return ids


def _delete(request, caller: Caller):
    ids = _ids(request)
    if ids is None:
        return _bad("webhookIds must be a non-empty list of webhook ids.")
    # Webhooks of other apps are ignored, not refused.
    _own(caller).filter(webhook_id__in=ids).delete()
    return json_response({}, 202)


@csrf_exempt
@api_view("jira")
def webhooks(request, caller):
    refused = _oauth_only(caller)
    if refused:
        return refused
    if request.method == "POST":
        return _register(request, caller)
    if request.method == "GET":
        return _list(request, caller)
    if request.method == "DELETE":
        return _delete(request, caller)
    return json_response({"errorMessages": ["Method not allowed"]}, 405)


@csrf_exempt
@api_view("jira")
def refresh(request, caller):
    refused = _oauth_only(caller)
    if refused:
        return refused
    if request.method != "PUT":
        return json_response({"errorMessages": ["Method not allowed"]}, 405)
    ids = _ids(request)
    if ids is None:
        return _bad("webhookIds must be a non-empty list of webhook ids.")
    expires = clock.now() + LIFETIME_SECONDS
    # A lapsed webhook cannot be brought back: it has to be registered again.
    _own(caller).filter(webhook_id__in=ids, expires_at__gt=clock.now()).update(expires_at=expires)
    return json_response({"expirationDate": _jira_date(expires)})


# --- delivery ---------------------------------------------------------------------------------


def issue_event(site: Site, *, event: str, project, key: str, summary: str, status: str = "To Do",
                issuetype: str = "Task", changes: list[dict[str, str]] | None = None, user=None) -> dict[str, Any]:
    """An issue event's body as Jira sends it (without matchedWebhookIds, added per app).
    Reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/#example-callback-for-an-issue-related-event"""
    base = f"https://{site.name}.atlassian.net"
    issue_id = str(zlib.crc32(f"{site.name}/{key}".encode()) % 10**6 + 10000)
    body: dict[str, Any] = {
        "timestamp": int(clock.now() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": "issue_created" if event == "jira:issue_created" else "issue_generic",
        "issue": {
            "id": issue_id,
            "self": f"{base}/rest/api/3/issue/{issue_id}",
            "key": key,
            "fields": {
                "summary": summary,
                "status": {"name": status},
                "issuetype": {"name": issuetype},
                "project": {"id": str(project.project_id), "key": project.key, "name": project.name},
                "assignee": None,
                "reporter": None,
            },
        },
    }
    if user is not None:
        body["user"] = {"accountId": user.account_id, "displayName": user.display_name, "accountType": "atlassian"}
    if event == "jira:issue_updated":
        body["changelog"] = {"id": str(int(time.time() * 1000) % 10**8), "items": changes or []}
    return body


def _signature(app) -> str:
    # Real time, not the sandbox's clock: the receiver checks `exp` against its own (real) clock,
    # as the sandbox's Microsoft tokens do.
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + JWT_SECONDS}, app.client_secret, algorithm="HS256")


def deliver(site: Site, body: dict[str, Any], *, timeout: float = 10) -> list[tuple[int, int]]:
    """Send an event to every live webhook of the site that it matches, one request per app and
    URL (matchedWebhookIds names that app's matching webhooks). [(first webhook id, HTTP status)];
    status 0: no answer."""
    event = body.get("webhookEvent", "")
    groups: dict[tuple[int, str], list[DynamicWebhook]] = {}
    for hook in DynamicWebhook.objects.filter(site=site, expires_at__gt=clock.now()).select_related("app"):
        if event in hook.events and jql_matches(hook.jql_filter, body.get("issue") or {}):
            groups.setdefault((hook.app_id, hook.url), []).append(hook)
    sent = []
    for (_, url), hooks in groups.items():
        payload = dict(body, matchedWebhookIds=[h.webhook_id for h in hooks])
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {_signature(hooks[0].app)}"}
        try:
            status = requests.post(url, data=json.dumps(payload), headers=headers, timeout=timeout).status_code
        except requests.RequestException as exc:
            status, outcome = 0, f"no answer ({type(exc).__name__})"
        else:
            outcome = f"HTTP {status}"
        DynamicWebhook.objects.filter(pk__in=[h.pk for h in hooks]).update(last_delivery=outcome)
        sent.append((hooks[0].webhook_id, status))
    return sent
