"""The API automation rules call with an organization API key: chats made by the portal's app
(the rule's author is not in them), keys refused when bad or revoked, other organizations' ids
not found; and every request these flows make is a declared one."""

from django.urls import reverse

from connections.chatops import apikeys
from connections.models import IncidentChat, OrganizationApiKey
from connections.projects import project_set_teams
from sandbox import defaults
from sandbox.microsoft.models import Chat, ChatInstalledApp, ChatMember
from tenants.models import AuditEvent
from tests.connections.declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph


def _api(chatops, what="chat", connection=None, project_key="IT", issue="IT-1"):
    name = {"chat": "api_chat_create", "members": "api_chat_members", "meeting": "api_meeting_start"}[what]
    return reverse(f"connections:{name}", args=[(connection or chatops.connection).pk, project_key, issue])


def _key(chatops, organization=None, user=None):
    return apikeys.api_key_create(organization=organization or chatops.world.organization, name="Major incidents",
                                  acting_user=user or chatops.world.admin)


def test_an_automation_rule_creates_the_chat_as_the_portal_app_with_exactly_the_responders(chatops, client):
    key = _key(chatops)
    response = client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "created" and body["appInstalled"] is True and body["created"] is True
    assert {p["name"] for p in body["unmapped"]} == {"Ada Admin", "Bea Member", "Hal Hidden"}
    assert all(p["reason"] for p in body["unmapped"])
    teams_chat = Chat.objects.get(pk=body["chatId"])
    assert teams_chat.created_by_app == defaults.MICROSOFT_CLIENT_ID
    members = {str(m.user_id) for m in ChatMember.objects.filter(chat=teams_chat)}
    assert members == {str(chatops.ms["alice"].pk), str(chatops.ms["bob.case"].pk)}  # no admin added
    assert ChatInstalledApp.objects.get(chat=teams_chat).installed_by_app == defaults.MICROSOFT_CLIENT_ID
    assert IncidentChat.objects.get(chat_id=body["chatId"]).acting_as == "application"

    again = client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert again.status_code == 200 and again.json()["chatId"] == body["chatId"]
    assert Chat.objects.count() == 1
    synced = client.post(_api(chatops, "members"), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert synced.status_code == 200 and "in its chat already" in synced.json()["message"]
    meeting = client.post(_api(chatops, "meeting"), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert meeting.status_code == 201 and meeting.json()["linkPostedAsInternalNote"] is True

    event = AuditEvent.objects.filter(action="chatops.chat_created").get()
    assert event.actor_label == f"API key “Major incidents” ({key.key.prefix}…)"
    assert key.secret not in str(event.details) and key.key.prefix == event.details["api_key"]
    assert OrganizationApiKey.objects.get(pk=key.key.pk).last_used_at is not None

    # Every Graph and Atlassian request of these flows (and of the connect before) is declared.
    undeclared, extra = undeclared_graph(list(graph_calls()))
    assert not undeclared and not extra, (undeclared, extra)
    undeclared, extra = undeclared_atlassian(list(atlassian_calls()))
    assert not undeclared and not extra, (undeclared, extra)


def test_a_bad_missing_or_revoked_key_is_refused(chatops, client):
    key = _key(chatops)
    assert client.post(_api(chatops)).status_code == 401
    assert client.post(_api(chatops), HTTP_AUTHORIZATION="Bearer cpk_00000000_nope").status_code == 401
    tampered = key.secret[:-2] + ("AA" if not key.secret.endswith("AA") else "BB")
    assert client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {tampered}").status_code == 401
    apikeys.api_key_revoke(key=key.key, acting_user=chatops.world.admin)
    revoked = client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert revoked.status_code == 401
    assert AuditEvent.objects.filter(action="api_key.refused", target_id=str(key.key.pk)).exists()
    assert not Chat.objects.exists() and not IncidentChat.objects.exists()


def test_switched_off_project_refuses_the_api_too(chatops, client):
    key = _key(chatops)
    project_set_teams(project=chatops.project, enabled=False, acting_user=chatops.world.admin)
    response = client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert response.status_code == 409 and "switched off for IT" in response.json()["error"]
    assert not Chat.objects.exists()


def test_another_organizations_ids_are_not_found(chatops, client, globex):
    # Globex's own key does not reach Acme's connection.
    theirs = apikeys.api_key_create(organization=globex.organization, name="theirs", acting_user=globex.admin)
    response = client.post(_api(chatops), HTTP_AUTHORIZATION=f"Bearer {theirs.secret}")
    assert response.status_code == 404
    mine = _key(chatops)
    assert client.post(_api(chatops, project_key="NOPE"), HTTP_AUTHORIZATION=f"Bearer {mine.secret}").status_code == 404
    # Globex's admin sees none of Acme's incident pages or keys.
    client.force_login(globex.admin)
    for url in (
        reverse("connections:chatops_incidents", args=[chatops.connection.pk, chatops.project.pk]),
        reverse("connections:chatops_incident", args=[chatops.connection.pk, chatops.project.pk, "IT-1"]),
    ):
        assert client.get(url).status_code == 404
    for name in ("chatops_chat_create", "chatops_meeting_start", "chatops_note_add"):
        url = reverse(f"connections:{name}", args=[chatops.connection.pk, chatops.project.pk, "IT-1"])
        assert client.post(url, {"text": "x"}).status_code == 404
    assert client.post(reverse("connections:api_key_revoke", args=[mine.key.pk])).status_code == 404
    assert not Chat.objects.exists()


def test_api_keys_page_shows_a_new_key_once_and_revokes(chatops):
    client = chatops.client
    page = client.post(reverse("connections:api_keys"), {"name": "Major incidents"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    key = OrganizationApiKey.objects.get(organization=chatops.world.organization)
    assert f"cpk_{key.prefix}_" in html and "cannot show it again" in html
    listing = client.get(reverse("connections:api_keys")).content.decode()
    assert "cannot show it again" not in listing and f"cpk_{key.prefix}_…" in listing
    assert client.post(reverse("connections:api_keys"), {"name": " "}).status_code == 400
    client.post(reverse("connections:api_key_revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key.revoked", target_id=str(key.pk)).exists()
