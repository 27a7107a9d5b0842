"""The Graph endpoints of incident chats and meetings: one typed function each, its declaration
beside it (connections.endpoints). Writes go through `Graph.send`, which sends once: POST /chats
is not idempotent (every call makes a new group chat), so a retry is the caller's decision.

Delegated calls act as the admin whose sign-in the connection stores (the signed-in user must
be a member of the chats it creates); app-only calls act as the portal's app, for automation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..endpoints import declare
from .graph import Graph

Page = dict[str, Any]
MEMBER_TYPE = "#microsoft.graph.aadUserConversationMember"

# Registered before connections.microsoft.endpoints' users/delta (it imports this module first).
USER = declare(
    "graph.user",
    "GET",
    "/v1.0/users/{user_id}",
    permissions=("User.ReadBasic.All", "User.Read.All"),
    # The basic profile User.ReadBasic.All covers; a guest's user principal name carries #EXT#.
    # Reference: https://learn.microsoft.com/graph/permissions-reference#userreadbasicall
    reads=("id", "displayName", "userPrincipalName"),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/user-get
    reference="https://learn.microsoft.com/graph/api/user-get",
    purpose="Incident chats: that each matched responder is still in the directory, and whether a member "
    "or a guest (the role Graph requires in a chat).",
)


def user(graph: Graph, user_id: str) -> Page:
    """One user of the tenant by object id: id, display name and user principal name."""
    return graph.get(USER.path.format(user_id=user_id), {"$select": ",".join(USER.reads)})


CREATE_CHAT = declare(
    "graph.chat_create",
    "POST",
    "/v1.0/chats",
    permissions=("Chat.Create",),
    reads=("id", "topic", "webUrl", "chatType"),
    keeps=("id", "webUrl"),
    # Reference: https://learn.microsoft.com/graph/api/chat-post
    reference="https://learn.microsoft.com/graph/api/chat-post",
    purpose="Incident chats: a group chat named after the incident, with its responders.",
)

CHAT_MEMBERS = declare(
    "graph.chat_members",
    "GET",
    "/v1.0/chats/{chat_id}/members",
    permissions=("ChatMember.ReadWrite", "ChatMember.ReadWrite.All"),
    reads=("id", "userId", "roles"),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/chat-list-members
    reference="https://learn.microsoft.com/graph/api/chat-list-members",
    purpose="Incident chats: who is in the chat already, before late responders are added.",
)

ADD_CHAT_MEMBER = declare(
    "graph.chat_member_add",
    "POST",
    "/v1.0/chats/{chat_id}/members",
    permissions=("ChatMember.ReadWrite", "ChatMember.ReadWrite.All"),
    reads=("id",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/chat-post-members
    reference="https://learn.microsoft.com/graph/api/chat-post-members",
    purpose="Incident chats: responders who joined the incident after the chat was made.",
)

TEAMS_APP_BY_EXTERNAL_ID = declare(
    "graph.teams_app_catalog",
    "GET",
    "/v1.0/appCatalogs/teamsApps",
    # "Only supported in the user context": a delegated call.
    permissions=("AppCatalog.Read.All",),
    reads=("id", "externalId", "displayName"),
    keeps=("id",),
    # Reference: https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps
    reference="https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps",
    purpose="The catalog id of the portal's Teams app in the tenant (its manifest id is not the catalog id).",
)

CHAT_INSTALL_APP = declare(
    "graph.chat_install_app",
    "POST",
    "/v1.0/chats/{chat_id}/installedApps",
    permissions=("TeamsAppInstallation.ReadWriteSelfForChat", "TeamsAppInstallation.ReadWriteSelfForChat.All"),
    # 201 Created with no body: the portal reads only the status (409: installed already).
    reads=("status",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/chat-post-installedapps
    reference="https://learn.microsoft.com/graph/api/chat-post-installedapps",
    purpose="Incident chats: the portal's Teams app in the chat, so it can post incident updates there.",
)

USER_INSTALL_APP = declare(
    "graph.user_install_app",
    "POST",
    "/v1.0/users/{user_id}/teamwork/installedApps",
    permissions=("TeamsAppInstallation.ReadWriteSelfForUser",),
    # 201 Created with no body: the portal reads only the status (409: installed already).
    reads=("status",),
    keeps=(),
    # Reference: https://learn.microsoft.com/graph/api/userteamwork-post-installedapps
    reference="https://learn.microsoft.com/graph/api/userteamwork-post-installedapps",
    purpose="The portal's Teams app for the signed-in admin personally, so the app's bot can talk with them 1:1.",
)

MY_ONLINE_MEETING = declare(
    "graph.my_online_meeting",
    "POST",
    "/v1.0/me/onlineMeetings",
    permissions=("OnlineMeetings.ReadWrite",),
    reads=("id", "joinWebUrl", "chatInfo", "subject"),
    keeps=("id", "joinWebUrl", "chatInfo.threadId"),
    # Reference: https://learn.microsoft.com/graph/api/application-post-onlinemeetings
    reference="https://learn.microsoft.com/graph/api/application-post-onlinemeetings",
    purpose="Incident meetings: a Teams meeting for the incident, organized by the signed-in admin.",
)


def _bind(graph: Graph, path: str) -> str:
    """An @odata.bind URL: the entity's Graph URL, on the Graph origin the connection uses."""
    return f"{graph.base}{path}"


def user_bind(graph: Graph, user_id: str) -> str:
    return _bind(graph, USER.path.format(user_id=user_id))


def member(graph: Graph, user_id: str, *, guest: bool) -> dict[str, Any]:
    """One aadUserConversationMember with the role Graph requires: "guest" for a guest of the
    tenant, "owner" for everyone else (https://learn.microsoft.com/graph/api/chat-post)."""
    return {"@odata.type": MEMBER_TYPE, "roles": ["guest" if guest else "owner"],
            "user@odata.bind": user_bind(graph, user_id)}


@dataclass(frozen=True)
class CreatedChat:
    id: str
    web_url: str


def create_group_chat(graph: Graph, *, topic: str, members: Sequence[dict[str, Any]], timeout: float) -> CreatedChat:
    """POST /chats for a group chat. Raises GraphError; status 0 (no answer) leaves it unknown
    whether Teams made the chat."""
    _status, _headers, body = graph.send(
        "POST", CREATE_CHAT.path, json={"chatType": "group", "topic": topic, "members": list(members)},
        timeout=timeout,
    )
    return CreatedChat(id=str(body.get("id", "")), web_url=str(body.get("webUrl", "")))


def chat_member_ids(graph: Graph, chat_id: str) -> set[str]:
    """The Microsoft user ids of the chat's members."""
    ids: set[str] = set()
    for page in graph.pages(CHAT_MEMBERS.path.format(chat_id=chat_id)):
        ids |= {str(m.get("userId")) for m in page.get("value", []) if m.get("userId")}
    return ids


def add_chat_member(graph: Graph, chat_id: str, user_id: str, *, guest: bool) -> None:
    """Add one member who sees the chat's whole history (0001-01-01T00:00:00Z, per Graph)."""
    body = member(graph, user_id, guest=guest) | {"visibleHistoryStartDateTime": "0001-01-01T00:00:00Z"}
    graph.send("POST", ADD_CHAT_MEMBER.path.format(chat_id=chat_id), json=body)


def teams_app_catalog_id(graph: Graph, *, external_id: str) -> str | None:
    """The catalog id of the app whose manifest id is `external_id`, or None (not uploaded)."""
    page = graph.get(TEAMS_APP_BY_EXTERNAL_ID.path, {"$filter": f"externalId eq '{external_id}'"})
    found = [a for a in page.get("value", []) if str(a.get("externalId", "")).lower() == external_id.lower()]
    return str(found[0]["id"]) if found else None


def _app_bind(graph: Graph, catalog_id: str) -> dict[str, str]:
    return {"teamsApp@odata.bind": _bind(graph, f"{TEAMS_APP_BY_EXTERNAL_ID.path}/{catalog_id}")}


def install_app_in_chat(graph: Graph, chat_id: str, *, catalog_id: str) -> None:
    """Install the app (by its catalog id) in the chat. A 409 means it is there already."""
    graph.send("POST", CHAT_INSTALL_APP.path.format(chat_id=chat_id), json=_app_bind(graph, catalog_id))


def install_app_for_user(graph: Graph, user_id: str, *, catalog_id: str) -> None:
    """Install the app in the user's personal scope. A 409 means it is there already."""
    graph.send("POST", USER_INSTALL_APP.path.format(user_id=user_id), json=_app_bind(graph, catalog_id))


@dataclass(frozen=True)
class Meeting:
    id: str
    join_url: str
    thread_id: str


def create_my_meeting(
    graph: Graph, *, subject: str, start: str, end: str, attendee_ids: Sequence[str], timeout: float
) -> Meeting:
    """POST /me/onlineMeetings: a standalone meeting (not on a calendar) with the attendees."""
    body = {
        "subject": subject,
        "startDateTime": start,
        "endDateTime": end,
        "participants": {"attendees": [{"identity": {"user": {"id": uid}}} for uid in attendee_ids]},
    }
    _status, _headers, answer = graph.send("POST", MY_ONLINE_MEETING.path, json=body, timeout=timeout)
    return Meeting(
        id=str(answer.get("id", "")),
        join_url=str(answer.get("joinWebUrl", "")),
        thread_id=str((answer.get("chatInfo") or {}).get("threadId", "")),
    )
