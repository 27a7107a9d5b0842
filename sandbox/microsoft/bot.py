"""A minimal Bot Framework connector: the token a bot gets for it, and posting an activity into a
Teams conversation (a channel, or a chat).

Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
Reference: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit

What the sandbox holds to:
- The token: client credentials at `{authority}/botframework.com/oauth2/v2.0/token` (a
  multi-tenant bot) or at the bot's own tenant (a single-tenant bot), with the scope
  `https://api.botframework.com/.default`; the token's audience is `https://api.botframework.com`.
- `POST {serviceUrl}/v3/conversations/{conversationId}/activities` with an Activity
  (`type: message`, `text` and/or `attachments`) answers a ResourceResponse `{"id": …}`.
- A bot posts only where its app is installed: in a channel of a team the app was added to (or
  a chat it was added to). Elsewhere Teams answers 403 `BotNotInConversationRoster`.
- Teams limits each bot per conversation (thread): 7 messages a second, 8 in 2 s, 60 in 30 s,
  1800 an hour; over a limit it answers 429. Teams asks bots to back off on 429; the sandbox
  also says how long in `Retry-After` [U: Teams documents the 429, not the header].
- Faults: `faults.set_fault(kind, "botframework", …)` throttles or fails the connector (429, 5xx);
  the token endpoint keeps the identity platform's own faults.
"""

from __future__ import annotations

import json
import math
import secrets
import time

import jwt
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox import clock, faults, requestlog

from . import directory, tokens
from .bot_models import BotActivity, TeamAppInstallation
from .errors import token_error
from .models import Channel, Chat, ChatInstalledApp

BOT_RESOURCE = "https://api.botframework.com"
BOTFRAMEWORK_TENANT = "botframework.com"
# The tenant the Bot Framework's own tokens are issued in (their `tid` and issuer).
BOTFRAMEWORK_TENANT_ID = "d6d49420-f39b-4df7-a1dc-d59a935871db"
FAULT_TARGET = "botframework"
TOKEN_SECONDS = 3600
# (messages, seconds): Teams' per bot, per thread limits.
THREAD_LIMITS = ((7, 1), (8, 2), (60, 30), (1800, 3600))


def is_bot_token_request(request, tenant_segment: str) -> bool:
    scope = request.POST.get("scope", "").strip()
    return tenant_segment == BOTFRAMEWORK_TENANT or scope.rstrip("/").startswith(BOT_RESOURCE)


def token(request, tenant_segment: str, client):
    """The token endpoint's answer for a bot (client credentials only). `client(request, segment)`
    authenticates the app as the identity platform's token endpoint does."""
    if request.POST.get("grant_type") != "client_credentials":
        return token_error("unsupported_grant_type", 70003, "A bot gets its connector token by client credentials.")
    app, error = client(request, tenant_segment)
    if error:
        return error
    scope = request.POST.get("scope", "").strip()
    if scope != f"{BOT_RESOURCE}/.default":
        return token_error(
            "invalid_scope", 1002012,
            f"The provided value for scope {scope} is not valid. The Bot Framework token's scope is "
            f"{BOT_RESOURCE}/.default.",
        )
    if tenant_segment == BOTFRAMEWORK_TENANT:
        tenant_id = BOTFRAMEWORK_TENANT_ID
    else:
        tenant = directory.resolve_tenant(tenant_segment)
        if tenant is None:
            return token_error("invalid_tenant", 90002, f"Tenant '{tenant_segment}' not found.")
        tenant_id = str(tenant.pk)
    now = int(time.time())
    claims = {
        "aud": BOT_RESOURCE,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now, "nbf": now, "exp": now + TOKEN_SECONDS,
        "appid": app.client_id, "azp": app.client_id, "tid": tenant_id,
        "idtyp": "app", "ver": "1.0", "uti": secrets.token_urlsafe(16),
    }
    return JsonResponse({"token_type": "Bearer", "expires_in": TOKEN_SECONDS, "ext_expires_in": TOKEN_SECONDS,
                         "access_token": tokens.sign(claims)})


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps({"error": {"code": code, "message": message}}), status=status,
                            content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _bot_claims(request) -> dict | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    raw = header[7:].strip()
    try:
        key = tokens.public_key(jwt.get_unverified_header(raw).get("kid", ""))
        if key is None:
            return None
        return jwt.decode(raw, key, algorithms=["RS256"], audience=BOT_RESOURCE)
    except jwt.PyJWTError:
        return None


def _in_roster(conversation_id: str, bot_app_id: str) -> tuple[bool, Channel | None, bool]:
    """(the bot may post there, the channel if it is one, the conversation exists)."""
    channel = Channel.objects.select_related("team").filter(id=conversation_id).first()
    if channel is not None:
        installed = TeamAppInstallation.objects.filter(team=channel.team, bot_app_id=bot_app_id).exists()
        return installed, channel, True
    # A chat: the app must have been added to it (Graph's chat installedApps).
    if Chat.objects.filter(id=conversation_id).exists():
        allowed = ChatInstalledApp.objects.filter(chat_id=conversation_id, app__azure_app_id=bot_app_id).exists()
        return allowed, None, True
    return False, None, False


def _throttled(conversation_id: str, bot_app_id: str) -> int:
    """Seconds until the bot may post into the conversation again (0: now)."""
    now = clock.now()
    wait = 0.0
    for limit, window in THREAD_LIMITS:
        rows = BotActivity.objects.filter(conversation_id=conversation_id, bot_app_id=bot_app_id,
                                          created__gt=now - window)
        recent = list(rows.order_by("-created").values_list("created", flat=True)[:limit])
        if len(recent) >= limit:
            wait = max(wait, recent[-1] + window - now)
    return math.ceil(wait) if wait > 0 else 0


@csrf_exempt
@require_POST
def activities(request, region: str, conversation_id: str):
    claims = _bot_claims(request)
    if claims is None:
        return _error(401, "Unauthorized", "Authorization has been denied for this request.")
    bot_app_id = str(claims.get("appid", ""))
    requestlog.note(request, client_id=bot_app_id, target=FAULT_TARGET)
    fault = faults.apply(request, FAULT_TARGET, error=_error)
    if fault is not None:
        return fault
    try:
        activity = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "BadArgument", "The activity is not valid JSON.")
    if not isinstance(activity, dict) or activity.get("type") != "message":
        return _error(400, "BadArgument", "Only activities of type 'message' are simulated.")
    text = activity.get("text") or ""
    attachments = activity.get("attachments") or []
    if not isinstance(text, str) or not isinstance(attachments, list) or not (text or attachments):
        return _error(400, "BadArgument", "A message needs text or attachments.")
    allowed, channel, exists = _in_roster(conversation_id, bot_app_id)
    if not exists:
        return _error(404, "ConversationNotFound", "Conversation not found.")
    if not allowed:
        return _error(403, "BotNotInConversationRoster", "The bot is not part of the conversation roster.")
    wait = _throttled(conversation_id, bot_app_id)
    if wait:
        return _error(429, "Throttled", "Too many requests to this conversation.", {"Retry-After": str(wait)})
    row = BotActivity.objects.create(
        id=f"1:{secrets.token_hex(12)}", conversation_id=conversation_id, channel=channel, bot_app_id=bot_app_id,
        activity=activity, text=text or _card_text(attachments), created=clock.now(),
    )
    return JsonResponse({"id": row.id}, status=201)


def _card_text(attachments: list) -> str:
    """The readable text of Adaptive Card attachments (for the admin page and the tests)."""
    parts: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for attachment in attachments:
        if isinstance(attachment, dict):
            walk(attachment.get("content"))
    return "\n".join(parts)
