"""The demo's incident: IT-1 of acme-support has Contoso people as responders, so the demo admin
creates its Teams chat and meeting right away."""

import json
from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from connections.models import ConnectionProject, IncidentChat, IncidentMeeting
from portal.demo_connect import add_demo_responders, connect_demo_pairs, start_incident_matching
from portal.demo_data import DEMO_EMAIL, seed_demo
from portal.management.commands.demo import _sandbox_records
from sandbox.atlassian.models import IssueComment
from sandbox.microsoft.models import ChatInstalledApp, ChatMember
from tenants.models import Organization, User


def test_the_demo_admin_creates_a_chat_and_a_meeting_for_the_demo_incident(sandbox, settings, client):
    from connections.microsoft.graph import forget_tokens
    from sandbox.atlassian.apps_registry import register_redirect_uri

    forget_tokens()
    settings.SITE_URL = "http://testserver"
    sandbox.register_portal(settings.SITE_URL)
    register_redirect_uri(settings.ATLASSIAN_CLIENT_ID, settings.SITE_URL + "/connect/atlassian/callback")
    out = StringIO()
    call_command("sandbox", "info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    seed_demo(**_sandbox_records(info))
    acme, admin = Organization.objects.get(slug="acme"), User.objects.get(email=DEMO_EMAIL)
    assert add_demo_responders() == 2
    made = connect_demo_pairs(organization=acme, admin=admin, atlassian_admin=info["atlassian"]["admin"])
    runs = start_incident_matching(made, admin=admin)
    assert len(runs) == 1
    runs[0].refresh_from_db()
    assert runs[0].state == "succeeded", runs[0].error
    assert add_demo_responders() == 0, "a restarted demo adds nobody twice"

    jsm = next(c for c in made if "jsm_chatops" in c.features)
    project = ConnectionProject.objects.get(connection=jsm, key="IT")
    assert project.teams_enabled  # on by default once connected
    client.force_login(admin)
    args = [jsm.pk, project.pk, "IT-1"]
    client.post(reverse("connections:chatops_chat_create", args=args))
    chat = IncidentChat.objects.get(connection=jsm, issue_key="IT-1")
    assert chat.state == "created" and chat.app_installed
    assert ChatMember.objects.filter(chat_id=chat.chat_id).count() == 3  # Alice, Bob and the signed-in admin
    assert ChatInstalledApp.objects.filter(chat_id=chat.chat_id).exists()
    client.post(reverse("connections:chatops_meeting_start", args=args))
    meeting = IncidentMeeting.objects.get(connection=jsm, issue_key="IT-1")
    assert IssueComment.objects.get(issue__key="IT-1", public=False).body.endswith(meeting.join_url)
