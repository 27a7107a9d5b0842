"""Writes for incident chats and meetings, each with its audit event.

Creating a chat: the incident's responders are read and matched to Microsoft users first (reads
only); then the incident -> chat link is written and committed (state "creating") before Graph
is asked for the chat. Graph does not deduplicate group chats, so:

- a link that is "created" is the incident's chat: asking again changes nothing;
- a link whose attempt got no answer ("unknown": a timeout, a lost connection, a 5xx) may have
  a chat in Teams already; the portal refuses to ask Graph again until a person confirms there
  is none (`confirm_unknown`);
- a link whose attempt Graph refused ("failed": a 4xx) has no chat; trying again is safe.

From the incident page the portal acts as the admin whose Microsoft sign-in the connection
stores (delegated: Graph makes that admin a member of the chat); from an automation rule, with
an organization API key, as the portal's app (application permissions), so no person is added
to every chat. Meetings are always made with the stored sign-in: Graph's application path for
meetings needs OnlineMeetings.ReadWrite.All plus an application access policy the tenant's
admin must set up, which the catalog does not ask for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants.audit import ExternalActor, audit_record
from tenants.models import AuditAction

from .. import permissions
from ..atlassian import incidents as jira_incidents
from ..microsoft import chats as graph_chats
from ..microsoft import client as microsoft_client
from ..microsoft import refresh as microsoft_refresh
from ..microsoft.graph import Graph, GraphError, NotConsented, NotFound
from ..models import ActingAs, ChatopsState, Connection, ConnectionProject, IncidentChat, IncidentMeeting
from . import selectors
from .selectors import Refused, Responder

logger = logging.getLogger(__name__)
State = IncidentChat.State
NOTE_MAX = 5000


# --- Microsoft Graph, as the stored sign-in or as the portal's app -------------------------------


@dataclass(frozen=True)
class SignedIn:
    graph: Graph
    principal: str
    principal_id: str


def _signed_in(connection: Connection) -> SignedIn:
    """Graph with the connection's stored delegated sign-in (renewed when near expiry)."""
    credential = microsoft_refresh.delegated_credential(connection)
    if credential is None or not credential.principal_id:
        raise Refused(
            f"No Microsoft sign-in is stored for {connection.tenant}: an admin of the tenant gives permission "
            "again on the connection's page (“Give permission”), then try again."
        )
    token = credential.access_token
    if credential.is_stale(120) or not token:
        try:
            token = microsoft_refresh.renew_delegated(
                connection, scopes=permissions.delegated_scopes(connection.features)
            ).access_token
        except microsoft_refresh.RenewalRefused as exc:
            raise Refused(
                f"Microsoft refused to renew the sign-in of {exc.principal} ({exc.code}): give permission again "
                "on the connection's page."
            ) from exc
        except (microsoft_refresh.RenewalUnavailable, microsoft_client.Throttled, microsoft_refresh.NoDelegatedSignIn
                ) as exc:
            raise Refused(f"The Microsoft sign-in could not be renewed now ({exc}). Try again shortly.") from exc
    return SignedIn(Graph(connection, access_token=token), credential.principal or "the admin",
                    credential.principal_id)


def _app(connection: Connection) -> Graph:
    try:
        return Graph(connection)
    except NotConsented as exc:
        raise Refused(f"{exc.message} {exc.remedy}") from exc


def _graph_refusal(what: str, exc: GraphError) -> str:
    if exc.status == 403:
        return (f"{what}: Microsoft refused (403 {exc.code}). The tenant may not have granted what incident chats "
                f"need: check the connection's permissions and give permission again. ({exc.message})")
    return f"{what}: {exc}"


# --- responders -> chat members -----------------------------------------------------------------------


@dataclass
class Members:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    added: list[Responder] = field(default_factory=list)
    unmapped: list[Responder] = field(default_factory=list)


def _lookup(graph: Graph, user_id: str) -> dict[str, Any] | None:
    try:
        return graph_chats.user(graph, user_id)
    except NotFound:
        return None


def _members(graph: Graph, people: list[Responder], *, signed_in: SignedIn | None) -> Members:
    """The chat members for the responders with a Microsoft user still in the directory (and
    the signed-in admin, whom Graph requires in the chats they create), each with its role."""
    found = Members()
    wanted: list[tuple[str, Responder | None]] = []
    if signed_in is not None:
        wanted.append((signed_in.principal_id, None))
    for responder in people:
        if responder.mapped:
            wanted.append((responder.microsoft_user_id, responder))
        else:
            found.unmapped.append(responder)
    for user_id, person in wanted:
        if user_id in found.user_ids:
            if person is not None:
                found.added.append(person)
            continue
        profile = _lookup(graph, user_id)
        if profile is None:
            if person is not None:
                found.unmapped.append(Responder(person.account_id, person.name, person.why,
                                                reason="the matched Microsoft user is no longer in the directory"))
            continue
        guest = "#EXT#" in str(profile.get("userPrincipalName", "")).upper()
        found.bodies.append(graph_chats.member(graph, user_id, guest=guest))
        found.user_ids.append(user_id)
        if person is not None:
            found.added.append(person)
    return found


# --- the portal's Teams app ----------------------------------------------------------------------------


def resolve_teams_app_catalog_id(connection: Connection, signed_in: SignedIn | None = None) -> str:
    """The portal's Teams app's catalog id in the tenant: cached, or looked up (Graph serves the
    catalog in a user's context only, so with the stored sign-in)."""
    cached = selectors.teams_app_catalog_id(connection)
    if cached:
        return cached
    if signed_in is None:
        try:
            signed_in = _signed_in(connection)
        except Refused as exc:
            raise Refused(f"The portal's Teams app could not be looked up in the tenant's app catalog: {exc}") from exc
    if not settings.TEAMS_APP_MANIFEST_ID:
        raise Refused("TEAMS_APP_MANIFEST_ID is not configured: the portal does not know its Teams app.")
    try:
        catalog_id = graph_chats.teams_app_catalog_id(signed_in.graph, external_id=settings.TEAMS_APP_MANIFEST_ID)
    except GraphError as exc:
        raise Refused(_graph_refusal("Looking up the portal's Teams app", exc)) from exc
    if not catalog_id:
        raise Refused(f"The portal's Teams app is not in {connection.tenant}'s app catalog: a Teams admin uploads it "
                      "(Teams admin center, Manage apps), then sync the chat's members to install it.")
    ChatopsState.objects.update_or_create(
        connection=connection, defaults={"teams_app_catalog_id": catalog_id, "resolved_at": timezone.now()}
    )
    return catalog_id


def _install(connection: Connection, chat: IncidentChat, graph: Graph, signed_in: SignedIn | None) -> None:
    """Install the portal's app in the chat; records the outcome on the link."""
    try:
        catalog_id = resolve_teams_app_catalog_id(connection, signed_in)
        graph_chats.install_app_in_chat(graph, chat.chat_id, catalog_id=catalog_id)
    except Refused as exc:
        chat.app_installed, chat.app_error = False, str(exc)[:500]
    except GraphError as exc:
        if exc.status == 409:  # there already
            chat.app_installed, chat.app_error = True, ""
        else:
            chat.app_installed, chat.app_error = False, _graph_refusal("Installing the portal's Teams app", exc)[:500]
    else:
        chat.app_installed, chat.app_error = True, ""
    chat.save(update_fields=["app_installed", "app_error", "updated_at"])
    if signed_in is not None and chat.app_installed:
        _install_for_admin(connection, signed_in)


def _install_for_admin(connection: Connection, signed_in: SignedIn) -> None:
    """Best effort: the app in the signed-in admin's personal scope, so its bot can reach them."""
    try:
        graph_chats.install_app_for_user(signed_in.graph, signed_in.principal_id,
                                         catalog_id=selectors.teams_app_catalog_id(connection))
    except GraphError as exc:
        if exc.status != 409:
            logger.info("Personal install of the Teams app for %s: %s", connection.tenant, exc.code)


# --- chats ---------------------------------------------------------------------------------------------


@dataclass
class ChatOutcome:
    chat: IncidentChat
    created: bool  # this call made the chat
    message: str
    added: list[Responder] = field(default_factory=list)
    unmapped: list[Responder] = field(default_factory=list)


def _actor(acting_user: Any, api_key: Any) -> Any:
    """Who acted, for the audit trail: the person, or the automation rule's API key."""
    if acting_user is None and api_key is not None:
        return ExternalActor(f"API key “{api_key.name}” ({api_key.prefix}…)")
    return acting_user


def _who(acting_user: Any, api_key: Any) -> dict[str, Any]:
    return {"api_key": api_key.prefix} if api_key is not None else {}


def _reserve(connection: Connection, project: ConnectionProject, found: selectors.Incident, acting_as: str,
             acting_user: Any, api_key: Any, confirm_unknown: bool) -> tuple[IncidentChat, bool]:
    """The incident's link, committed in state "creating" before Graph is called; (link, go on).
    go on is False when the incident has its chat already."""
    with transaction.atomic():
        chat, made = IncidentChat.objects.select_for_update().get_or_create(
            connection=connection, issue_id=found.id,
            defaults={"organization": connection.organization, "project": project, "issue_key": found.key,
                      "topic": found.topic, "acting_as": acting_as, "created_by": acting_user, "api_key": api_key,
                      "attempts": 1},
        )
        if made:
            return chat, True
        if chat.state == State.CREATED:
            return chat, False
        if chat.state in (State.CREATING, State.UNKNOWN) and not confirm_unknown:
            if chat.state == State.CREATING:
                raise Refused(f"A chat for {found.key} is being created (started {chat.started_at:%H:%M:%S} UTC). "
                              "If that attempt never finished, check Teams for a chat named "
                              f"“{chat.topic}” before creating one anyway.")
            raise Refused(
                f"The last attempt to create the chat for {found.key} got no answer from Microsoft, so Teams may "
                f"have made it. Look in Teams for a chat named “{chat.topic}”; only if there is none, create "
                "the chat anyway (Microsoft does not prevent a second chat)."
            )
        chat.state, chat.error, chat.attempts = State.CREATING, "", chat.attempts + 1
        chat.acting_as, chat.topic, chat.started_at = acting_as, found.topic, timezone.now()
        chat.created_by, chat.api_key = acting_user, api_key
        chat.save()
        return chat, True


def chat_create(*, connection: Connection, project: ConnectionProject, issue_key: str, acting_user: Any = None,
                api_key: Any = None, confirm_unknown: bool = False) -> ChatOutcome:
    """The incident's Teams group chat, with its responders and the portal's app in it. Raises
    Refused (nothing was asked of Microsoft, or the answer said why)."""
    selectors.refuse_unless_usable(connection, project)
    found = selectors.incident(connection, project, issue_key)
    existing = IncidentChat.objects.filter(connection=connection, issue_id=found.id, state=State.CREATED).first()
    if existing is not None:
        return ChatOutcome(existing, False, f"{found.key} has its chat already.")
    people = selectors.responders(connection, found)
    acting_as = ActingAs.APPLICATION if api_key is not None else ActingAs.DELEGATED
    signed_in = _signed_in(connection) if acting_as == ActingAs.DELEGATED else None
    graph = signed_in.graph if signed_in is not None else _app(connection)
    try:
        members = _members(graph, people, signed_in=signed_in)
    except GraphError as exc:
        raise Refused(_graph_refusal("Reading the responders' Microsoft users", exc)) from exc
    if len(members.bodies) < 2:
        raise Refused(
            f"A Teams group chat needs at least two people, and only {len(members.bodies)} of {found.key}'s "
            f"responders{' (with the signed-in admin)' if signed_in else ''} have a Microsoft user. Map the "
            "others in the user mapping, or add watchers to the incident."
        )
    chat, go_on = _reserve(connection, project, found, acting_as, acting_user, api_key, confirm_unknown)
    if not go_on:
        return ChatOutcome(chat, False, f"{found.key} has its chat already.")
    try:
        made = graph_chats.create_group_chat(graph, topic=found.topic, members=members.bodies,
                                             timeout=settings.CHATOPS_GRAPH_TIMEOUT)
    except GraphError as exc:
        ambiguous = exc.status == 0 or exc.status >= 500
        chat.state = State.UNKNOWN if ambiguous else State.FAILED
        chat.error = (_graph_refusal("Creating the chat", exc) if not ambiguous else
                      f"No answer from Microsoft ({exc.code or exc.status}): Teams may have made the chat.")[:500]
        chat.save(update_fields=["state", "error", "updated_at"])
        audit_record(organization=connection.organization, action=AuditAction.INCIDENT_CHAT_FAILED,
                     actor=_actor(acting_user, api_key), target=connection,
                     details={"incident": found.key, "state": chat.state, "error": chat.error,
                              "acting_as": acting_as, **_who(acting_user, api_key)})
        raise Refused(chat.error) from exc
    chat.chat_id, chat.web_url = made.id, made.web_url[:500]
    chat.state, chat.created_at, chat.member_ids = State.CREATED, timezone.now(), members.user_ids
    chat.save()
    audit_record(organization=connection.organization, action=AuditAction.INCIDENT_CHAT_CREATED,
                 actor=_actor(acting_user, api_key), target=connection,
                 details={"incident": found.key, "chat": chat.chat_id, "members": len(members.user_ids),
                          "unmapped": len(members.unmapped), "acting_as": acting_as, **_who(acting_user, api_key)})
    _install(connection, chat, graph, signed_in)
    return ChatOutcome(chat, True, f"Teams chat created for {found.key} with {len(members.added)} responder(s).",
                       added=members.added, unmapped=members.unmapped)


def members_sync(
    *, connection: Connection, chat: IncidentChat, acting_user: Any = None, api_key: Any = None
) -> ChatOutcome:
    """Add the responders who joined the incident since its chat was made (and install the
    portal's app if that failed before). As the chat was made: a delegated chat with the stored
    sign-in (its admin is a member), an automation chat as the portal's app."""
    if chat.connection_id != connection.pk:
        raise Refused("That chat does not belong to this connection.")
    selectors.refuse_unless_usable(connection, chat.project)
    if chat.state != State.CREATED:
        raise Refused(f"{chat.issue_key} has no chat yet: create it first.")
    found = selectors.incident(connection, chat.project, chat.issue_key)
    people = selectors.responders(connection, found)
    signed_in = _signed_in(connection) if chat.acting_as == ActingAs.DELEGATED else None
    graph = signed_in.graph if signed_in is not None else _app(connection)
    try:
        present = graph_chats.chat_member_ids(graph, chat.chat_id)
        members = _members(graph, [p for p in people if p.microsoft_user_id not in present or not p.mapped],
                           signed_in=None)
        for body, user_id in zip(members.bodies, members.user_ids, strict=True):
            try:
                graph_chats.add_chat_member(graph, chat.chat_id, user_id, guest=body["roles"] == ["guest"])
            except GraphError as exc:
                if exc.status != 409:  # 409: a member already
                    raise
    except GraphError as exc:
        raise Refused(_graph_refusal("Adding responders to the chat", exc)) from exc
    chat.member_ids = sorted(set(chat.member_ids) | present | set(members.user_ids))
    chat.save(update_fields=["member_ids", "updated_at"])
    if members.user_ids:
        audit_record(organization=connection.organization, action=AuditAction.INCIDENT_CHAT_MEMBERS_ADDED,
                     actor=_actor(acting_user, api_key), target=connection,
                     details={"incident": chat.issue_key, "chat": chat.chat_id, "added": len(members.user_ids),
                              **_who(acting_user, api_key)})
    if not chat.app_installed:
        _install(connection, chat, graph, signed_in)
    added = len(members.user_ids)
    return ChatOutcome(chat, False, f"{added} responder(s) added to the chat for {chat.issue_key}." if added
                       else f"Every mapped responder of {chat.issue_key} is in its chat already.",
                       added=members.added, unmapped=members.unmapped)


# --- meetings ------------------------------------------------------------------------------------------


@dataclass
class MeetingOutcome:
    meeting: IncidentMeeting
    created: bool
    message: str
    unmapped: list[Responder] = field(default_factory=list)


def _post_link(connection: Connection, meeting: IncidentMeeting) -> None:
    text = f"Microsoft Teams meeting for {meeting.issue_key}: {meeting.join_url}"
    try:
        meeting.comment_id = selectors.jira_call(
            f"Adding the meeting link to {meeting.issue_key}",
            lambda: jira_incidents.add_internal_comment(selectors.jira_client(connection), meeting.issue_key, text),
        )
        meeting.comment_error = ""
    except Refused as exc:
        meeting.comment_error = str(exc)[:500]
    meeting.save(update_fields=["comment_id", "comment_error"])


def meeting_start(*, connection: Connection, project: ConnectionProject, issue_key: str, acting_user: Any = None,
                  api_key: Any = None) -> MeetingOutcome:
    """A Teams meeting for the incident with its responders, organized by the stored sign-in;
    its join link kept with the incident and added to it as an internal note."""
    selectors.refuse_unless_usable(connection, project)
    found = selectors.incident(connection, project, issue_key)
    existing = IncidentMeeting.objects.filter(connection=connection, issue_id=found.id).first()
    if existing is not None and existing.state == State.CREATED:
        if not existing.comment_id:
            _post_link(connection, existing)
        return MeetingOutcome(existing, False, f"{found.key} has its meeting already.")
    people = selectors.responders(connection, found)
    signed_in = _signed_in(connection)
    with transaction.atomic():
        meeting, made = IncidentMeeting.objects.select_for_update().get_or_create(
            connection=connection, issue_id=found.id,
            defaults={"organization": connection.organization, "project": project, "issue_key": found.key,
                      "created_by": acting_user},
        )
        if not made and meeting.state in (State.CREATING, State.UNKNOWN):
            raise Refused(f"The last attempt to start the meeting for {found.key} got no answer from Microsoft; "
                          "check the organizer's Teams meetings before starting another.")
        meeting.state, meeting.error, meeting.started_at = State.CREATING, "", timezone.now()
        meeting.save()
    start = timezone.now().replace(microsecond=0)
    try:
        made_meeting = graph_chats.create_my_meeting(
            signed_in.graph, subject=found.topic, start=start.isoformat().replace("+00:00", "Z"),
            end=(start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            attendee_ids=[p.microsoft_user_id for p in people if p.mapped], timeout=settings.CHATOPS_GRAPH_TIMEOUT,
        )
    except GraphError as exc:
        ambiguous = exc.status == 0 or exc.status >= 500
        meeting.state = State.UNKNOWN if ambiguous else State.FAILED
        meeting.error = _graph_refusal("Starting the meeting", exc)[:500]
        meeting.save(update_fields=["state", "error"])
        audit_record(organization=connection.organization, action=AuditAction.INCIDENT_MEETING_FAILED,
                     actor=_actor(acting_user, api_key), target=connection,
                     details={"incident": found.key, "state": meeting.state, "error": meeting.error,
                              **_who(acting_user, api_key)})
        raise Refused(meeting.error) from exc
    meeting.meeting_id, meeting.join_url, meeting.thread_id = made_meeting.id[:300], made_meeting.join_url[:1000], \
        made_meeting.thread_id[:200]
    meeting.state, meeting.created_at, meeting.organizer = State.CREATED, timezone.now(), signed_in.principal
    meeting.save()
    _post_link(connection, meeting)
    audit_record(organization=connection.organization, action=AuditAction.INCIDENT_MEETING_STARTED,
                 actor=_actor(acting_user, api_key), target=connection,
                 details={"incident": found.key, "organizer": signed_in.principal,
                          "attendees": len([p for p in people if p.mapped]),
                          "link_posted": bool(meeting.comment_id), **_who(acting_user, api_key)})
    message = f"Teams meeting started for {found.key}, organized by {signed_in.principal}."
    if meeting.comment_error:
        message += f" The join link could not be added to the incident: {meeting.comment_error}"
    else:
        message += " Its join link is on the incident as an internal note."
    return MeetingOutcome(meeting, True, message, unmapped=[p for p in people if not p.mapped])


# --- notes ---------------------------------------------------------------------------------------------


def note_add(*, connection: Connection, project: ConnectionProject, issue_key: str, text: str, author: str = "",
             acting_user: Any = None) -> str:
    """A Teams chat message added to the incident as an internal note (the customer does not
    see it); the comment's id."""
    selectors.refuse_unless_usable(connection, project)
    text = (text or "").strip()
    if not text:
        raise Refused("Paste the chat message to add.")
    if len(text) > NOTE_MAX:
        raise Refused(f"A note can be at most {NOTE_MAX} characters.")
    found = selectors.incident(connection, project, issue_key)
    author = (author or "").strip()[:200]
    body = f"From the Teams chat{f' ({author})' if author else ''}:\n\n{text}"
    comment_id = selectors.jira_call(
        f"Adding the note to {found.key}",
        lambda: jira_incidents.add_internal_comment(selectors.jira_client(connection), found.key, body),
    )
    audit_record(organization=connection.organization, action=AuditAction.INCIDENT_NOTE_ADDED, actor=acting_user,
                 target=connection, details={"incident": found.key, "comment": comment_id, "characters": len(text)})
    return str(comment_id)
