"""Graph chats for incident work: creating chats, their members and installed apps, the Teams
app catalog, and online meetings (for the signed-in user, or for a user under an application
access policy)."""

import datetime
import json
import re
import secrets
import uuid

from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ... import clock
from ..models import (
    ApplicationAccessPolicy,
    Chat,
    ChatInstalledApp,
    ChatMember,
    DirectoryUser,
    OnlineMeeting,
    TeamsApp,
    UserInstalledApp,
)
from .common import TEAMS, context_url, error, graph_endpoint, ok
from .teams import _find_user

# Least privileged first, as each reference page lists them.
# Reference: https://learn.microsoft.com/graph/api/chat-post (Chat.Create; higher: Chat.ReadWrite)
CHAT_CREATE = ("Chat.Create", "Chat.ReadWrite", "Chat.ReadWrite.All")
# Reference: https://learn.microsoft.com/graph/api/chat-post-members
MEMBERS_WRITE_DELEGATED = ("ChatMember.ReadWrite", "Chat.ReadWrite")
MEMBERS_WRITE_APP = ("ChatMember.ReadWrite.All", "Chat.Manage.Chat", "Chat.ReadWrite.All")
# Reference: https://learn.microsoft.com/graph/api/chat-list-members
MEMBERS_READ_DELEGATED = ("ChatMember.Read", "ChatMember.ReadWrite", "Chat.ReadBasic", "Chat.Read", "Chat.ReadWrite")
MEMBERS_READ_APP = (
    "ChatMember.Read.All", "ChatMember.ReadWrite.All", "Chat.ReadBasic.All", "Chat.Read.All", "Chat.ReadWrite.All",
)
# "Self" permissions install only the calling app itself, and not an app that needs
# resource-specific consent. Reference: https://learn.microsoft.com/graph/api/chat-post-installedapps
SELF_FOR_CHAT = ("TeamsAppInstallation.ReadWriteSelfForChat", "TeamsAppInstallation.ReadWriteSelfForChat.All")
INSTALL_DELEGATED = (
    "TeamsAppInstallation.ReadWriteSelfForChat",
    "TeamsAppInstallation.ReadWriteForChat",
    "TeamsAppInstallation.ReadWriteAndConsentForChat",
)
INSTALL_APP = (
    "TeamsAppInstallation.ReadWriteSelfForChat.All",
    "TeamsAppInstallation.ReadWriteForChat.All",
    "TeamsAppInstallation.ReadWriteAndConsentForChat.All",
)
# Reference: https://learn.microsoft.com/graph/api/chat-list-installedapps
INSTALLED_READ_DELEGATED = (
    "TeamsAppInstallation.ReadSelfForChat", *INSTALL_DELEGATED, "TeamsAppInstallation.ReadForChat",
)
INSTALLED_READ_APP = ("TeamsAppInstallation.ReadSelfForChat.All", *INSTALL_APP, "TeamsAppInstallation.ReadForChat.All")
# Reference: https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps
CATALOG_READ = ("AppCatalog.Read.All", "AppCatalog.ReadWrite.All", "AppCatalog.Submit", "Directory.Read.All")
# Reference: https://learn.microsoft.com/graph/api/application-post-onlinemeetings
MEETINGS_DELEGATED = ("OnlineMeetings.ReadWrite",)
MEETINGS_APP = ("OnlineMeetings.ReadWrite.All",)
# A policy grant "can take up to 30 minutes" to apply.
# Reference: https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy
POLICY_DELAY_SECONDS = 30 * 60

_MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"
_USER_BIND = re.compile(r"/users\('([^']+)'\)$|/users/([^/?']+)$")
_APP_BIND = re.compile(r"/appCatalogs/teamsApps/([^/?]+)$")


def _body(request):
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _bad(request, message):
    return error(400, "BadRequest", message, request=request)


def _stamp(when):
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _chat_json(request, version, chat):
    stamp = _stamp(chat.created)
    return {
        "@odata.context": context_url(request, version, "chats/$entity"),
        "id": chat.id,
        "topic": chat.topic,
        "createdDateTime": stamp,
        "lastUpdatedDateTime": stamp,
        "chatType": chat.chat_type,
        "tenantId": str(chat.tenant_id),
        "webUrl": f"https://teams.microsoft.com/l/chat/{chat.id}/0?tenantId={chat.tenant_id}",
    }


def _member_json(member):
    user = member.user
    return {
        "@odata.type": _MEMBER_TYPE,
        "id": str(member.id),
        "roles": member.roles,
        "displayName": user.display_name,
        "visibleHistoryStartDateTime": member.visible_history_start or "0001-01-01T00:00:00Z",
        "userId": str(user.pk),
        "email": user.mail,
        "tenantId": str(user.tenant_id),
    }


def _member_from(request, caller, member):
    """(user, roles, None) for one aadUserConversationMember of a request body, or (None, None,
    error response). Every member carries the role Graph requires: "owner" for a member of the
    tenant, "guest" for a guest of it.
    Reference: https://learn.microsoft.com/graph/api/chat-post ("roles": owner; guest users: guest)"""
    if not isinstance(member, dict) or member.get("@odata.type") != _MEMBER_TYPE:
        return None, None, _bad(request, "Every member must be a microsoft.graph.aadUserConversationMember.")
    roles = member.get("roles")
    if not isinstance(roles, list) or not roles or not all(r in ("owner", "guest") for r in roles):
        return None, None, _bad(request, "Every member needs its roles: 'owner', or 'guest' for a guest user.")
    match = _USER_BIND.search(str(member.get("user@odata.bind", "")))
    user = _find_user(caller.tenant, match.group(1) or match.group(2)) if match else None
    if user is None:
        return None, None, error(404, "NotFound", "A member of the chat was not found.", request=request)
    wanted = "guest" if user.user_type == "Guest" else "owner"
    if roles != [wanted]:
        return None, None, _bad(
            request,
            f"The member {user.user_principal_name} must have the role '{wanted}'"
            + (" (a guest of the tenant)." if wanted == "guest" else " (a member of the tenant)."),
        )
    return user, roles, None


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(application=CHAT_CREATE, delegated=CHAT_CREATE, workload=TEAMS)
def create_chat(request, caller, version):
    """POST /chats. Every member is listed, with its role; for a delegated call the signed-in
    user is one of them. Only one one-on-one chat can exist between two people (asking again
    returns it); group chats are never deduplicated: each POST makes a new one.
    Reference: https://learn.microsoft.com/graph/api/chat-post"""
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    chat_type = payload.get("chatType")
    if chat_type not in ("oneOnOne", "group"):
        return _bad(request, "chatType must be 'oneOnOne' or 'group'.")
    if chat_type == "oneOnOne" and payload.get("topic"):
        return _bad(request, "A topic can only be set on a group chat.")
    members = []
    for member in payload.get("members") or []:
        user, roles, failure = _member_from(request, caller, member)
        if failure:
            return failure
        if any(u.pk == user.pk for u, _ in members):
            return _bad(request, "Duplicate chat members is specified.")
        members.append((user, roles))
    if (chat_type == "oneOnOne" and len(members) != 2) or (chat_type == "group" and len(members) < 2):
        return _bad(request, "Not enough members for this chat type.")
    member_ids = [str(u.pk) for u, _ in members]
    if not caller.is_app and str(caller.user.pk) not in member_ids:
        return error(403, "Forbidden", "The signed-in user must be a member of the chat.", request=request)
    if chat_type == "oneOnOne":
        for existing in Chat.objects.filter(tenant=caller.tenant, chat_type="oneOnOne").order_by("created"):
            if set(existing.member_ids) == set(member_ids):
                return ok(_chat_json(request, version, existing), status=201)
    chat = Chat.objects.create(
        id=f"19:{secrets.token_hex(16)}@thread.v2",
        tenant=caller.tenant,
        chat_type=chat_type,
        topic=(payload.get("topic") or None) if chat_type == "group" else None,
        member_ids=member_ids,
        created_by_app=caller.app_id,
    )
    ChatMember.objects.bulk_create(
        [ChatMember(chat=chat, user=u, roles=r, added_by_app=caller.app_id) for u, r in members]
    )
    return ok(_chat_json(request, version, chat), status=201)


def _chat_for(request, caller, chat_id):
    """(chat, None) when the caller may reach the chat: app-only, any chat of the tenant; a
    signed-in user, only chats they are a member of. Otherwise (None, 404)."""
    chat = Chat.objects.filter(pk=chat_id, tenant=caller.tenant).first()
    if chat is not None and (caller.is_app or chat.members.filter(user=caller.user).exists()):
        return chat, None
    return None, error(404, "NotFound", "The chat was not found or the caller has no access.", request=request)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def chat_members(request, version, chat_id):
    if request.method == "POST":
        return _add_member(request, version=version, chat_id=chat_id)
    return _list_members(request, version=version, chat_id=chat_id)


@graph_endpoint(application=MEMBERS_READ_APP, delegated=MEMBERS_READ_DELEGATED, workload=TEAMS)
def _list_members(request, caller, version, chat_id):
    """GET /chats/{id}/members. Reference: https://learn.microsoft.com/graph/api/chat-list-members"""
    chat, failure = _chat_for(request, caller, chat_id)
    if failure:
        return failure
    members = chat.members.select_related("user").order_by("created", "id")
    return ok(
        {
            "@odata.context": context_url(request, version, f"chats('{chat.id}')/members"),
            "@odata.count": members.count(),
            "value": [_member_json(m) for m in members],
        }
    )


@graph_endpoint(application=MEMBERS_WRITE_APP, delegated=MEMBERS_WRITE_DELEGATED, workload=TEAMS)
def _add_member(request, caller, version, chat_id):
    """POST /chats/{id}/members: 201 and a Location header naming the new membership. Without
    visibleHistoryStartDateTime the member sees no history; 0001-01-01T00:00:00Z shows all.
    Reference: https://learn.microsoft.com/graph/api/chat-post-members"""
    chat, failure = _chat_for(request, caller, chat_id)
    if failure:
        return failure
    if chat.chat_type != "group":
        return _bad(request, "Members can only be added to a group chat.")
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    user, roles, failure = _member_from(request, caller, payload)
    if failure:
        return failure
    if chat.members.filter(user=user).exists():
        # Graph's answer to re-adding a member is not documented; the sandbox refuses it plainly
        # so a client that re-adds blindly is noticed.
        return error(409, "Conflict", "The user is already a member of the chat.", request=request)
    member = ChatMember.objects.create(
        chat=chat, user=user, roles=roles, added_by_app=caller.app_id,
        visible_history_start=str(payload.get("visibleHistoryStartDateTime") or ""),
    )
    Chat.objects.filter(pk=chat.pk).update(member_ids=[*chat.member_ids, str(user.pk)])
    response = ok(
        {"@odata.context": context_url(request, version, f"chats('{chat.id}')/members/$entity")}
        | _member_json(member),
        status=201,
    )
    response["Location"] = f"/chats/{chat.id}/members/{member.id}"
    return response


def _installation_json(installation):
    app = installation.app
    return {
        "id": installation.id,
        "teamsApp": {"id": str(app.pk), "externalId": app.external_id, "displayName": app.display_name,
                     "distributionMethod": app.distribution_method},
        "teamsAppDefinition": {"id": f"{app.pk}-def", "teamsAppId": str(app.pk), "displayName": app.display_name},
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def chat_installed_apps(request, version, chat_id):
    if request.method == "POST":
        return _install_app(request, version=version, chat_id=chat_id)
    return _list_installed(request, version=version, chat_id=chat_id)


@graph_endpoint(application=INSTALLED_READ_APP, delegated=INSTALLED_READ_DELEGATED, workload=TEAMS)
def _list_installed(request, caller, version, chat_id):
    """GET /chats/{id}/installedApps ("Self" permissions see only the calling app itself).
    Reference: https://learn.microsoft.com/graph/api/chat-list-installedapps"""
    chat, failure = _chat_for(request, caller, chat_id)
    if failure:
        return failure
    rows = chat.installed_apps.select_related("app").order_by("created")
    self_only = {"TeamsAppInstallation.ReadSelfForChat", "TeamsAppInstallation.ReadSelfForChat.All", *SELF_FOR_CHAT}
    if not caller.permissions & ({*INSTALLED_READ_APP, *INSTALLED_READ_DELEGATED} - self_only):
        rows = rows.filter(app__azure_app_id=caller.app_id)
    return ok({"@odata.context": context_url(request, version, f"chats('{chat.id}')/installedApps"),
               "value": [_installation_json(i) for i in rows]})


@graph_endpoint(application=INSTALL_APP, delegated=INSTALL_DELEGATED, workload=TEAMS)
def _install_app(request, caller, version, chat_id):
    """POST /chats/{id}/installedApps with teamsApp@odata.bind naming the app's catalog id (not
    its manifest id, unless it is a store app): 201, no body.
    Reference: https://learn.microsoft.com/graph/api/chat-post-installedapps"""
    chat, failure = _chat_for(request, caller, chat_id)
    if failure:
        return failure
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    match = _APP_BIND.search(str(payload.get("teamsApp@odata.bind", "")))
    if not match:
        return _bad(request, "teamsApp@odata.bind must name an app of the app catalog.")
    try:
        app = TeamsApp.objects.filter(tenant=caller.tenant, pk=uuid.UUID(match.group(1))).first()
    except ValueError:
        app = None
    if app is None:
        # A manifest id given where the catalog id belongs ends here too.
        # Reference: https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps (id vs externalId)
        return error(404, "NotFound", f"The app '{match.group(1)}' is not in the app catalog.", request=request)
    only_self = not (caller.permissions & (set(INSTALL_APP) | set(INSTALL_DELEGATED)) - set(SELF_FOR_CHAT))
    if only_self and (app.azure_app_id != caller.app_id or app.needs_rsc):
        why = ("it needs resource-specific consent" if app.needs_rsc and app.azure_app_id == caller.app_id
               else "it is not the calling app")
        return error(403, "Forbidden", f"The 'Self' permissions cannot install this app: {why}.", request=request)
    if chat.installed_apps.filter(app=app).exists():
        return error(409, "Conflict", "The app is already installed in the chat.", request=request)
    ChatInstalledApp.objects.create(
        id=f"{secrets.token_hex(16)}", chat=chat, app=app, installed_by_app=caller.app_id
    )
    return ok({}, status=201)


_EXTERNAL_ID = re.compile(r"^\s*externalId\s+eq\s+'([^']*)'\s*$")
_DISTRIBUTION = re.compile(r"^\s*distributionMethod\s+eq\s+'([^']*)'\s*$")


@require_http_methods(["GET"])
@graph_endpoint(
    delegated=CATALOG_READ,
    delegated_only=True,
    app_only_message="This API is only supported in the user context.",
    workload=TEAMS,
)
def teams_apps(request, caller, version):
    """GET /appCatalogs/teamsApps, with $filter on externalId (the manifest id) or
    distributionMethod. Supported in the user context only.
    Reference: https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps"""
    apps = TeamsApp.objects.filter(tenant=caller.tenant).order_by("display_name")
    raw = request.GET.get("$filter")
    if raw:
        by_external, by_distribution = _EXTERNAL_ID.match(raw), _DISTRIBUTION.match(raw)
        if by_external:
            apps = apps.filter(external_id__iexact=by_external.group(1))
        elif by_distribution:
            apps = apps.filter(distribution_method=by_distribution.group(1))
        else:
            return _bad(request, f"Invalid filter clause: {raw}")
    return ok(
        {
            "@odata.context": context_url(request, version, "appCatalogs/teamsApps"),
            "value": [
                {"id": str(a.pk), "externalId": a.external_id, "displayName": a.display_name,
                 "distributionMethod": a.distribution_method}
                for a in apps
            ],
        }
    )


def _attendees(caller, participants):
    ids = []
    for attendee in (participants or {}).get("attendees") or []:
        identity = ((attendee or {}).get("identity") or {}).get("user") or {}
        user = _find_user(caller.tenant, str(identity.get("id") or attendee.get("upn") or ""))
        if user is not None:
            ids.append(str(user.pk))
    return ids


def _meeting(request, caller, version, organizer):
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    start = str(payload.get("startDateTime") or "")
    end = str(payload.get("endDateTime") or "")
    thread = f"19:meeting_{secrets.token_urlsafe(24)}@thread.v2"
    meeting = OnlineMeeting.objects.create(
        id=secrets.token_urlsafe(48), tenant=caller.tenant, organizer=organizer,
        subject=str(payload.get("subject") or "")[:300], start=start, end=end,
        attendee_ids=_attendees(caller, payload.get("participants")),
        join_web_url=f"https://teams.microsoft.com/l/meetup-join/{thread}/0?context=%7b%22Tid%22%3a%22"
                     f"{caller.tenant.pk}%22%2c%22Oid%22%3a%22{organizer.pk}%22%7d",
        thread_id=thread, created_by_app=caller.app_id,
    )
    return ok(
        {
            "@odata.context": context_url(request, version, "users/onlineMeetings/$entity"),
            "id": meeting.id,
            "creationDateTime": _stamp(meeting.created),
            "startDateTime": start or None,
            "endDateTime": end or None,
            "subject": meeting.subject,
            "joinWebUrl": meeting.join_web_url,
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
            "joinMeetingIdSettings": {"joinMeetingId": str(secrets.randbelow(10**12)).zfill(12),
                                      "isPasscodeRequired": False},
            "participants": {
                "organizer": {"upn": organizer.user_principal_name, "role": "presenter",
                              "identity": {"user": {"id": str(organizer.pk), "tenantId": str(caller.tenant.pk)}}},
                "attendees": [
                    {"upn": u.user_principal_name, "role": "attendee", "identity": {"user": {"id": str(u.pk)}}}
                    for u in DirectoryUser.objects.filter(pk__in=meeting.attendee_ids)
                ],
            },
        },
        status=201,
    )


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(delegated=MEETINGS_DELEGATED, delegated_only=True, workload=TEAMS)
def my_online_meetings(request, caller, version):
    """POST /me/onlineMeetings: a standalone meeting organized by the signed-in user.
    Reference: https://learn.microsoft.com/graph/api/application-post-onlinemeetings"""
    return _meeting(request, caller, version, caller.user)


def _policy_applies(caller, user):
    """Whether an application access policy lets the caller's app create meetings for `user`,
    a grant counting only once its 30 minutes have passed."""
    ready = clock.now() - POLICY_DELAY_SECONDS
    for policy in ApplicationAccessPolicy.objects.filter(tenant=caller.tenant, granted_at__lte=ready):
        if caller.app_id in policy.app_ids and (policy.user_id is None or policy.user_id == user.pk):
            return True
    return False


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(application=MEETINGS_APP, delegated=MEETINGS_DELEGATED, workload=TEAMS)
def user_online_meetings(request, caller, version, user_id):
    """POST /users/{id}/onlineMeetings. With application permissions the tenant's admin must also
    have granted an application access policy naming the app (for that user, or globally);
    without one Graph answers 403.
    Reference: https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy"""
    user = _find_user(caller.tenant, user_id)
    if user is None:
        return error(404, "NotFound", f"User '{user_id}' was not found.", request=request)
    if not caller.is_app and user.pk != caller.user.pk:
        return error(403, "Forbidden", "A delegated call creates meetings only for the signed-in user.",
                     request=request)
    if caller.is_app and not _policy_applies(caller, user):
        return error(
            403, "Unauthorized",
            f"App {caller.app_id} is not authorized to Create meeting on behalf of user {user.pk}",
            request=request,
        )
    return _meeting(request, caller, version, user)


# Reference: https://learn.microsoft.com/graph/api/userteamwork-post-installedapps
USER_INSTALL_DELEGATED = (
    "TeamsAppInstallation.ReadWriteSelfForUser",
    "TeamsAppInstallation.ReadWriteForUser",
    "TeamsAppInstallation.ReadWriteAndConsentSelfForUser",
    "TeamsAppInstallation.ReadWriteAndConsentForUser",
)
USER_INSTALL_APP = tuple(f"{p}.All" for p in USER_INSTALL_DELEGATED)
USER_SELF = ("TeamsAppInstallation.ReadWriteSelfForUser", "TeamsAppInstallation.ReadWriteSelfForUser.All")


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(application=USER_INSTALL_APP, delegated=USER_INSTALL_DELEGATED, workload=TEAMS)
def user_installed_apps(request, caller, version, user_id):
    """POST /users/{id}/teamwork/installedApps: the app in the user's personal scope (its 1:1
    chat with the user); 201, no body. Same catalog-id and "Self" rules as for chats.
    Reference: https://learn.microsoft.com/graph/api/userteamwork-post-installedapps"""
    user = _find_user(caller.tenant, user_id)
    if user is None:
        return error(404, "NotFound", f"User '{user_id}' was not found.", request=request)
    if not caller.is_app and user.pk != caller.user.pk and not (
        caller.permissions & (set(USER_INSTALL_DELEGATED) - set(USER_SELF))
    ):
        return error(403, "Forbidden", "The 'Self' permission installs only for the signed-in user.", request=request)
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    match = _APP_BIND.search(str(payload.get("teamsApp@odata.bind", "")))
    if not match:
        return _bad(request, "teamsApp@odata.bind must name an app of the app catalog.")
    try:
        app = TeamsApp.objects.filter(tenant=caller.tenant, pk=uuid.UUID(match.group(1))).first()
    except ValueError:
        app = None
    if app is None:
        return error(404, "NotFound", f"The app '{match.group(1)}' is not in the app catalog.", request=request)
    only_self = not (caller.permissions & (set(USER_INSTALL_APP) | set(USER_INSTALL_DELEGATED)) - set(USER_SELF))
    if only_self and (app.azure_app_id != caller.app_id or app.needs_rsc):
        return error(403, "Forbidden", "The 'Self' permissions cannot install this app.", request=request)
    if UserInstalledApp.objects.filter(user=user, app=app).exists():
        return error(409, "Conflict", "The app is already installed for the user.", request=request)
    UserInstalledApp.objects.create(id=secrets.token_hex(16), user=user, app=app, installed_by_app=caller.app_id)
    return ok({}, status=201)
