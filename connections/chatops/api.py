"""The API automation rules call (a Jira automation "Send web request" action, say), with an
organization API key: `Authorization: Bearer cpk_…`. A chat made here is made by the portal's
app (application permissions), so the rule's author is not added to every chat.

    POST /api/v1/connections/{id}/projects/{KEY}/incidents/{ISSUE}/chat
    POST /api/v1/connections/{id}/projects/{KEY}/incidents/{ISSUE}/chat/members
    POST /api/v1/connections/{id}/projects/{KEY}/incidents/{ISSUE}/meeting

Answers are JSON: 200 (nothing new) or 201 (made), 401 for a missing, unknown or revoked key,
404 for ids that are not the key's organization's, 409 with the reason when the action is
refused (Teams switched off for the project, an earlier attempt without an answer, ...), 502
when Jira or Microsoft did not answer."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..models import Connection, ConnectionProject, IncidentChat
from . import apikeys, selectors, services


def _error(status, message):
    return JsonResponse({"error": message}, status=status)


def _people(people):
    return [{"accountId": p.account_id, "name": p.name, "role": p.why, **({"reason": p.reason} if p.reason else {})}
            for p in people]


def _chat_json(outcome, status):
    chat = outcome.chat
    return JsonResponse({
        "incident": chat.issue_key, "state": chat.state, "chatId": chat.chat_id, "webUrl": chat.web_url,
        "appInstalled": chat.app_installed, "created": outcome.created, "message": outcome.message,
        "added": _people(outcome.added), "unmapped": _people(outcome.unmapped),
    }, status=status)


def _resolve(request, connection_id, project_key):
    """(key, connection, project, None) or (None, None, None, error response)."""
    key = apikeys.authenticate(request.headers.get("Authorization", ""))
    if key is None:
        return None, None, None, _error(401, "A valid API key of the organization is required (Authorization: Bearer).")
    connection = Connection.objects.filter(pk=connection_id, organization=key.organization).select_related(
        "site", "tenant").first()
    project = connection and ConnectionProject.objects.filter(connection=connection, key=project_key.upper()).first()
    if connection is None or project is None:
        return None, None, None, _error(404, "No such connection or project.")
    return key, connection, project, None


def _refused(exc):
    return _error(502 if isinstance(exc, selectors.JiraUnavailable) else 409, str(exc))


@csrf_exempt
@require_POST
def chat_create(request, connection_id, project_key, issue_key):
    key, connection, project, failure = _resolve(request, connection_id, project_key)
    if failure:
        return failure
    try:
        outcome = services.chat_create(connection=connection, project=project, issue_key=issue_key, api_key=key)
    except selectors.Refused as exc:
        return _refused(exc)
    return _chat_json(outcome, 201 if outcome.created else 200)


@csrf_exempt
@require_POST
def chat_members_sync(request, connection_id, project_key, issue_key):
    key, connection, project, failure = _resolve(request, connection_id, project_key)
    if failure:
        return failure
    chat = IncidentChat.objects.filter(connection=connection, project=project, issue_key=issue_key.upper()).first()
    if chat is None:
        return _error(404, f"{issue_key.upper()} has no chat made by the portal.")
    try:
        outcome = services.members_sync(connection=connection, chat=chat, api_key=key)
    except selectors.Refused as exc:
        return _refused(exc)
    return _chat_json(outcome, 200)


@csrf_exempt
@require_POST
def meeting_start(request, connection_id, project_key, issue_key):
    key, connection, project, failure = _resolve(request, connection_id, project_key)
    if failure:
        return failure
    try:
        outcome = services.meeting_start(connection=connection, project=project, issue_key=issue_key, api_key=key)
    except selectors.Refused as exc:
        return _refused(exc)
    meeting = outcome.meeting
    return JsonResponse({
        "incident": meeting.issue_key, "state": meeting.state, "joinUrl": meeting.join_url,
        "organizer": meeting.organizer, "linkPostedAsInternalNote": bool(meeting.comment_id),
        "created": outcome.created, "message": outcome.message, "unmapped": _people(outcome.unmapped),
    }, status=201 if outcome.created else 200)
