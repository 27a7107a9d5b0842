"""Incident chats and meetings through the portal's pages, against the sandbox over real HTTPS:
what ends up in Teams (the sandbox's state) and on the incident (its comments)."""

import time

from django.urls import reverse

from connections.models import IncidentChat, IncidentMeeting
from connections.projects import project_set_teams
from sandbox import defaults
from sandbox.atlassian.models import IssueComment
from sandbox.microsoft.models import Chat, ChatInstalledApp, ChatMember, TeamsApp, UserInstalledApp


def _url(chatops, name, key="IT-1"):
    return reverse(f"connections:{name}", args=[chatops.connection.pk, chatops.project.pk, key])


def _members(chat_id):
    return {str(m.user_id): m.roles for m in ChatMember.objects.filter(chat_id=chat_id)}


def test_create_chat_adds_exactly_the_mapped_responders_and_installs_the_app(chatops):
    page = chatops.client.get(_url(chatops, "chatops_incident"))
    assert page.status_code == 200
    html = page.content.decode()
    # Ada (assignee) and Bea (watcher) have no Contoso user, Hal hides his email: listed with why.
    assert html.count("not added") == 3 and "hides the email address" in html
    assert "no Microsoft 365 user has this person&#x27;s email address" in html
    assert reverse("connections:user_mapping", args=[chatops.connection.pk]) + "?q=" in html

    response = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    assert response.status_code == 200
    chat = IncidentChat.objects.get(connection=chatops.connection, issue_key="IT-1")
    assert chat.state == IncidentChat.State.CREATED and chat.app_installed, (chat.error, chat.app_error)
    teams_chat = Chat.objects.get(pk=chat.chat_id)
    assert teams_chat.chat_type == "group" and teams_chat.topic == "IT-1: Email delivery delayed for all staff"
    ms = chatops.ms
    # Alice and Bob, and the admin whose sign-in made the chat (Graph requires the caller).
    assert _members(chat.chat_id) == {str(ms["alice"].pk): ["owner"], str(ms["bob.case"].pk): ["owner"],
                                      str(ms["admin"].pk): ["owner"]}
    # The app is in the chat, and in the signed-in admin's personal scope (its bot reaches them 1:1).
    installed = ChatInstalledApp.objects.get(chat_id=chat.chat_id)
    assert UserInstalledApp.objects.filter(user=ms["admin"], app=installed.app).exists()
    assert installed.app.external_id == defaults.TEAMS_APP_MANIFEST_ID
    assert TeamsApp.objects.get(pk=installed.app_id).pk != defaults.TEAMS_APP_MANIFEST_ID
    assert "Not added, no Microsoft user: Ada Admin" in response.content.decode()

    again = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    assert "has its chat already" in again.content.decode()
    assert Chat.objects.filter(topic=teams_chat.topic).count() == 1


def test_a_retry_after_a_timeout_creates_no_second_chat(chatops, settings):
    settings.CHATOPS_GRAPH_TIMEOUT = 1.5
    # Graph answers after 3 s: the portal stops waiting, and the sandbox still makes the chat.
    chatops.sandbox.set_fault("latency", "contoso", ms=3000)
    try:
        first = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    finally:
        chatops.sandbox.clear_faults()
    chat = IncidentChat.objects.get(connection=chatops.connection, issue_key="IT-1")
    assert chat.state == IncidentChat.State.UNKNOWN
    assert "No answer from Microsoft" in first.content.decode()
    topic = "IT-1: Email delivery delayed for all staff"
    for _ in range(50):  # the sandbox finishes the slow request on its own
        if Chat.objects.filter(topic=topic).exists():
            break
        time.sleep(0.2)
    assert Chat.objects.filter(topic=topic).count() == 1

    retry = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    assert "got no answer from Microsoft" in retry.content.decode()
    time.sleep(0.5)
    assert Chat.objects.filter(topic=topic).count() == 1
    chat.refresh_from_db()
    assert chat.state == IncidentChat.State.UNKNOWN and chat.attempts == 1

    # A person who checked Teams may still create it, knowingly.
    anyway = chatops.client.post(_url(chatops, "chatops_chat_create"), {"confirm": "on"}, follow=True)
    assert anyway.status_code == 200
    chat.refresh_from_db()
    assert chat.state == IncidentChat.State.CREATED and chat.attempts == 2
    assert Chat.objects.filter(topic=topic).count() == 2


def test_late_responders_are_added_by_sync_members(chatops):
    from connections.matching.services import manual_mapping_set

    chatops.client.post(_url(chatops, "chatops_chat_create"))
    chat = IncidentChat.objects.get(connection=chatops.connection, issue_key="IT-1")
    assert str(chatops.carol_ms.pk) not in _members(chat.chat_id)
    chatops.issue.watchers.add(chatops.carol)  # joins the incident later
    manual_mapping_set(connection=chatops.connection, account_id=chatops.carol.account_id,
                       microsoft_user=str(chatops.carol_ms.pk), acting_user=chatops.world.admin)
    response = chatops.client.post(_url(chatops, "chatops_chat_members"), follow=True)
    assert "1 responder(s) added" in response.content.decode()
    assert _members(chat.chat_id)[str(chatops.carol_ms.pk)] == ["owner"]
    assert len(_members(chat.chat_id)) == 4


def test_a_meeting_link_lands_on_the_incident_as_an_internal_comment(chatops):
    response = chatops.client.post(_url(chatops, "chatops_meeting_start"), follow=True)
    assert response.status_code == 200
    meeting = IncidentMeeting.objects.get(connection=chatops.connection, issue_key="IT-1")
    assert meeting.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    comment = IssueComment.objects.get(issue=chatops.issue)
    assert comment.public is False and meeting.join_url in comment.body
    assert str(comment.comment_id) == meeting.comment_id
    assert "internal note" in response.content.decode()


def test_a_chat_message_is_added_as_an_internal_note(chatops):
    response = chatops.client.post(_url(chatops, "chatops_note_add"),
                                   {"text": "Root cause: expired relay certificate", "author": "Alice"}, follow=True)
    assert "added to IT-1 as an internal note" in response.content.decode()
    comment = IssueComment.objects.get(issue=chatops.issue)
    assert comment.public is False and "Root cause: expired relay certificate" in comment.body
    empty = chatops.client.post(_url(chatops, "chatops_note_add"), {"text": "  "}, follow=True)
    assert empty.status_code == 200 and IssueComment.objects.filter(issue=chatops.issue).count() == 1


def test_switched_off_project_refuses_with_a_clear_message(chatops):
    project_set_teams(project=chatops.project, enabled=False, acting_user=chatops.world.admin)
    response = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    assert "Microsoft Teams is switched off for IT" in response.content.decode()
    meeting = chatops.client.post(_url(chatops, "chatops_meeting_start"), follow=True)
    assert "Microsoft Teams is switched off for IT" in meeting.content.decode()
    listing = chatops.client.get(reverse("connections:chatops_incidents",
                                         args=[chatops.connection.pk, chatops.project.pk]))
    assert "Microsoft Teams is switched off for IT" in listing.content.decode()
    assert not IncidentChat.objects.exists() and not Chat.objects.exists()
    assert not IssueComment.objects.filter(issue=chatops.issue).exists()


def test_open_incidents_are_listed_page_by_page(chatops, monkeypatch):
    from connections.chatops import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 4)
    url = reverse("connections:chatops_incidents", args=[chatops.connection.pk, chatops.project.pk])
    first = chatops.client.get(url).content.decode()
    assert [k for k in ("IT-7", "IT-5", "IT-4", "IT-3") if f">{k}<" in first] == ["IT-7", "IT-5", "IT-4", "IT-3"]
    assert ">IT-1<" not in first and "Next page" in first
    token = first.split('href="?page=')[1].split('"')[0]
    from urllib.parse import unquote

    second = chatops.client.get(url, {"page": unquote(token)}).content.decode()
    assert ">IT-2<" in second and ">IT-1<" in second and ">IT-6<" not in second  # IT-6 is resolved
    assert "Next page" not in second


def test_a_site_authorized_before_the_comment_scopes_shows_the_drift_and_reauthorizes_for_them(chatops):
    from urllib.parse import parse_qs, urlsplit

    from connections.status import connection_status_evaluate, connection_status_refresh

    site = chatops.connection.site
    assert {"read:servicedesk-request", "write:servicedesk-request"} <= set(site.granted_scopes)
    # As granted before incident chats asked for the Jira Service Management request scopes.
    site.granted_scopes = [s for s in site.granted_scopes if "servicedesk" not in s]
    site.save(update_fields=["granted_scopes"])
    assert connection_status_refresh(connection=chatops.connection) == "degraded"
    reasons = " ".join(connection_status_evaluate(chatops.connection).reasons)
    assert "read:servicedesk-request, write:servicedesk-request" in reasons
    assert "Authorize acme-support again" in reasons
    site_page = chatops.client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "write:servicedesk-request" in site_page
    again = chatops.client.post(reverse("connections:atlassian:reauthorize", args=[site.pk]))
    assert again.status_code == 302
    asked = parse_qs(urlsplit(again.url).query)["scope"][0].split()
    assert {"read:servicedesk-request", "write:servicedesk-request"} <= set(asked)


def test_a_viewer_sees_the_incident_but_cannot_act(chatops, client):
    client.force_login(chatops.world.viewer)
    page = client.get(_url(chatops, "chatops_incident"))
    assert page.status_code == 200 and 'id="create-chat"' not in page.content.decode()
    for name in ("chatops_chat_create", "chatops_meeting_start", "chatops_note_add"):
        assert client.post(_url(chatops, name), {"text": "x"}).status_code == 403
    assert not Chat.objects.exists() and not IssueComment.objects.filter(issue=chatops.issue).exists()


def test_without_the_app_in_the_catalog_the_chat_is_made_and_sync_installs_the_app_later(chatops):
    portal_app = TeamsApp.objects.get(tenant_id=chatops.sandbox.tenants["contoso"].id,
                                      external_id=defaults.TEAMS_APP_MANIFEST_ID)
    fields = {f.name: getattr(portal_app, f.name) for f in TeamsApp._meta.fields if f.name != "tenant"}
    portal_app.delete()  # not uploaded to Contoso's catalog yet
    response = chatops.client.post(_url(chatops, "chatops_chat_create"), follow=True)
    chat = IncidentChat.objects.get(connection=chatops.connection, issue_key="IT-1")
    assert chat.state == IncidentChat.State.CREATED and not chat.app_installed
    assert "is not in Contoso&#x27;s app catalog" in response.content.decode()
    assert not ChatInstalledApp.objects.filter(chat_id=chat.chat_id).exists()

    TeamsApp.objects.create(tenant_id=chatops.sandbox.tenants["contoso"].id, **fields)  # a Teams admin uploads it
    chatops.client.post(_url(chatops, "chatops_chat_members"), follow=True)
    chat.refresh_from_db()
    assert chat.app_installed and ChatInstalledApp.objects.filter(chat_id=chat.chat_id).count() == 1


def test_the_health_checks_say_when_the_teams_app_is_not_in_the_catalog(chatops):
    from connections.health.services import health_checks_run
    from connections.models import HealthCheckResult

    health_checks_run(connection=chatops.connection)
    latest = HealthCheckResult.objects.filter(connection=chatops.connection, is_latest=True)
    assert latest.get(feature="jsm_chatops", check_name="teams_app").outcome == "passed"
    TeamsApp.objects.filter(external_id=defaults.TEAMS_APP_MANIFEST_ID).delete()
    health_checks_run(connection=chatops.connection)
    result = HealthCheckResult.objects.get(connection=chatops.connection, is_latest=True, feature="jsm_chatops",
                                           check_name="teams_app")
    assert result.outcome == "failed" and "not in Contoso's app catalog" in result.message
    assert "uploads the portal's app" in result.remedy
