"""Graph Teams endpoints: joined teams, channels and channel messages (chats: graph/chats.py)."""

import re
import uuid

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from ..models import Channel, ChannelMessage, DirectoryUser, Team
from .common import TEAMS, context_url, error, graph_endpoint, link, ok, pack, parse_top, unpack

TEAMS_APP = ("Team.ReadBasic.All", "TeamSettings.Read.All", "Directory.Read.All", "Group.Read.All")
TEAMS_DELEGATED = (
    "Team.ReadBasic.All",
    "TeamSettings.Read.All",
    "Directory.Read.All",
    "Group.Read.All",
    "User.Read.All",
)
CHANNELS = ("Channel.ReadBasic.All", "ChannelSettings.Read.All", "Directory.Read.All", "Group.Read.All")
MESSAGES = ("ChannelMessage.Read.All", "Group.Read.All")


def _not_found(request, what="Team"):
    return error(404, "NotFound", f"{what} not found or the caller has no access.", request=request)


def _team_json(team):
    return {
        "id": str(team.id),
        "displayName": team.display_name,
        "description": team.description,
        "isArchived": False,
        "tenantId": str(team.tenant_id),
    }


def _joined(request, caller, version, user):
    teams = Team.objects.filter(tenant=caller.tenant, members=user).order_by("display_name")
    return ok(
        {
            "@odata.context": context_url(request, version, "teams"),
            "@odata.count": teams.count(),
            "value": [_team_json(t) for t in teams],
        }
    )


@require_GET
@graph_endpoint(delegated=TEAMS_DELEGATED, delegated_only=True, workload=TEAMS)
def my_joined_teams(request, caller, version):
    return _joined(request, caller, version, caller.user)


@require_GET
@graph_endpoint(application=TEAMS_APP, delegated=TEAMS_DELEGATED, workload=TEAMS)
def user_joined_teams(request, caller, version, user_id):
    user = _find_user(caller.tenant, user_id)
    if user is None:
        return error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist.", request=request)
    if not caller.is_app and user.pk != caller.user.pk:
        return error(403, "accessDenied", "Delegated calls may list only the signed-in user's teams.", request=request)
    return _joined(request, caller, version, user)


_TEAM_FIELDS = ("id", "displayName", "description", "visibility", "isArchived", "tenantId")


@require_GET
@graph_endpoint(application=TEAMS_APP, delegated=TEAMS_DELEGATED, workload=TEAMS)
def list_teams(request, caller, version):
    """GET /teams: app-only lists every team of the tenant, a user the teams they belong to."""
    # Reference: https://learn.microsoft.com/graph/api/teams-list
    if request.GET.get("$skiptoken"):
        state = unpack(request.GET["$skiptoken"])
        top, after, select = state["top"], state["after"], state["sel"]
    else:
        top, failure = parse_top(request, 999, 100)
        if failure:
            return failure
        after = None
        raw = request.GET.get("$select")
        select = [f.strip() for f in raw.split(",") if f.strip()] if raw else list(_TEAM_FIELDS)
        unknown = [f for f in select if f not in _TEAM_FIELDS]
        if unknown:
            return error(
                400,
                "BadRequest",
                f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.team'.",
                request=request,
            )
    rows = Team.objects.filter(tenant=caller.tenant)
    if not caller.is_app:
        rows = rows.filter(members=caller.user)
    if after:
        rows = rows.filter(id__gt=uuid.UUID(after))
    page = list(rows.order_by("id")[: top + 1])
    body = {"@odata.context": context_url(request, version, "teams")}
    if len(page) > top:
        page = page[:top]
        body["@odata.nextLink"] = link(
            request, f"/{version}/teams", **{"$skiptoken": pack({"top": top, "after": str(page[-1].id), "sel": select})}
        )
    # The sandbox's teams are all public (it has no private teams yet).
    body["value"] = [
        {k: v for k, v in {**_team_json(t), "visibility": "public"}.items() if k in select or k == "id"} for t in page
    ]
    return ok(body)


def _team_for(caller, team_id):
    """The team, if the caller may see it: app-only sees all, a user sees teams they belong to."""
    try:
        team = Team.objects.filter(pk=uuid.UUID(team_id), tenant=caller.tenant).first()
    except ValueError:
        return None
    if team and not caller.is_app and not team.members.filter(pk=caller.user.pk).exists():
        return None
    return team


@require_GET
@graph_endpoint(application=CHANNELS, delegated=CHANNELS, workload=TEAMS)
def channels(request, caller, version, team_id):
    team = _team_for(caller, team_id)
    if team is None:
        return _not_found(request)
    rows = team.channels.order_by("created")
    return ok(
        {
            "@odata.context": context_url(request, version, f"teams('{team_id}')/channels"),
            "@odata.count": rows.count(),
            "value": [
                {
                    "id": c.id,
                    "createdDateTime": c.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
                    "displayName": c.display_name,
                    "description": c.description or None,
                    "membershipType": c.membership_type,
                    "email": "",
                    "tenantId": str(team.tenant_id),
                    "webUrl": f"https://teams.microsoft.com/l/channel/{c.id}/{c.display_name}",
                }
                for c in rows
            ],
        }
    )


def _message_json(message, tenant_id):
    user = message.from_user
    return {
        "id": message.id,
        "replyToId": message.reply_to_id,
        "etag": message.id,
        "messageType": "message",
        "createdDateTime": message.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
        "lastModifiedDateTime": message.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
        "deletedDateTime": None,
        "subject": None,
        "importance": "normal",
        "locale": "en-us",
        "from": {
            "application": None,
            "device": None,
            "user": {
                "id": str(user.pk),
                "displayName": user.display_name,
                "userIdentityType": "aadUser",
                "tenantId": str(tenant_id),
            }
            if user
            else None,
        },
        "body": {"contentType": "html", "content": message.content},
        "mentions": [
            {"id": i, "mentionText": "", "mentioned": {"user": {"id": uid, "userIdentityType": "aadUser"}}}
            for i, uid in enumerate(message.mentions)
        ],
        "attachments": [],
        "reactions": [],
    }


@require_GET
@graph_endpoint(application=MESSAGES, delegated=MESSAGES, workload=TEAMS)
def channel_messages(request, caller, version, team_id, channel_id):
    team = _team_for(caller, team_id)
    channel = Channel.objects.filter(pk=channel_id, team=team).first() if team else None
    if channel is None:
        return _not_found(request, "Channel")
    if request.GET.get("$skiptoken"):
        state = unpack(request.GET["$skiptoken"])
        top, after = state["top"], state["after"]
    else:
        top, failure = parse_top(request, 50, 20)
        if failure:
            return failure
        after = None
    # Newest first, replies excluded, as Teams lists them.
    rows = ChannelMessage.objects.filter(channel=channel, reply_to_id=None).select_related("from_user")
    if after:
        rows = rows.filter(id__lt=after)
    page = list(rows.order_by("-id")[: top + 1])
    body = {"@odata.context": context_url(request, version, f"teams('{team_id}')/channels('{channel_id}')/messages")}
    if len(page) > top:
        page = page[:top]
        body["@odata.nextLink"] = link(
            request,
            f"/{version}/teams/{team_id}/channels/{channel_id}/messages",
            **{"$skiptoken": pack({"top": top, "after": page[-1].id})},
        )
    body["value"] = [_message_json(m, caller.tenant.pk) for m in page]
    return ok(body)


_DELTA_FILTER = re.compile(r"^\s*lastModifiedDateTime\s+gt\s+(\S+)\s*$")


def _stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@require_GET
@graph_endpoint(application=MESSAGES, delegated=MESSAGES, workload=TEAMS)
def channel_messages_delta(request, caller, version, team_id, channel_id):
    """GET .../messages/delta: a channel's root messages (no replies) added or changed since the
    last round. The first round reads them all (oldest change first), paged by nextLink, and its
    last page gives a deltaLink; a deltaLink round returns what changed since. `$top` (1..50) and
    `$filter=lastModifiedDateTime gt {time}` are taken on the first request only: the links keep them.
    Reference: https://learn.microsoft.com/graph/api/chatmessage-delta"""
    team = _team_for(caller, team_id)
    channel = Channel.objects.filter(pk=channel_id, team=team).first() if team else None
    if channel is None:
        return _not_found(request, "Channel")
    token = request.GET.get("$deltatoken") or request.GET.get("$skiptoken")
    if token:
        try:
            state = unpack(token, max_age=7 * 24 * 3600)
        except Exception:  # noqa: BLE001 - expired or tampered: the sync state is gone either way
            return error(410, "syncStateNotFound", "The delta token is not valid or has expired.", request=request)
        if state.get("c") != channel.pk:
            return error(400, "BadRequest", "The delta token belongs to another channel.", request=request)
    else:
        top, failure = parse_top(request, 50, 50)
        if failure:
            return failure
        since = None
        if request.GET.get("$filter"):
            match = _DELTA_FILTER.match(request.GET["$filter"])
            since = parse_datetime(match.group(1)) if match else None
            if since is None:
                return error(
                    400,
                    "BadRequest",
                    "Only '$filter=lastModifiedDateTime gt {dateTime}' is supported.",
                    request=request,
                )
        state = {"c": channel.pk, "top": top, "after": None, "since": _stamp(since) if since else None}
    rows = ChannelMessage.objects.filter(channel=channel, reply_to_id=None).select_related("from_user")
    if state["since"]:
        rows = rows.filter(created__gt=parse_datetime(state["since"]))
    if state["after"]:
        at, last_id = parse_datetime(state["after"][0]), state["after"][1]
        rows = rows.filter(Q(created__gt=at) | Q(created=at, id__gt=last_id))
    page = list(rows.order_by("created", "id")[: state["top"] + 1])
    more = len(page) > state["top"]
    page = page[: state["top"]]
    if page:
        state = {**state, "after": [_stamp(page[-1].created), page[-1].id]}
    path = f"/{version}/teams/{team_id}/channels/{channel_id}/messages/delta"
    body = {"@odata.context": context_url(request, version, "Collection(chatMessage)")}
    if more:
        body["@odata.nextLink"] = link(request, path, **{"$skiptoken": pack(state)})
    else:
        body["@odata.deltaLink"] = link(request, path, **{"$deltatoken": pack(state)})
    body["value"] = [_message_json(m, caller.tenant.pk) for m in page]
    return ok(body)


def _find_user(tenant, ref):
    """A live user of the tenant by object id or user principal name."""
    users = DirectoryUser.objects.filter(tenant=tenant, deleted=False)
    try:
        return users.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        return users.filter(user_principal_name__iexact=ref).first()
