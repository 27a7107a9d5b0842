"""The sandbox's side of Teams notifications, against what Atlassian and Microsoft document: Jira's
dynamic webhooks for OAuth 2.0 apps (register, list, refresh, delete, the 30-day expiry on the
sandbox's clock, the JQL subset, signed delivery), the Bot Framework connector (its token,
posting into a channel only where the app is installed, 429 with Retry-After), and adding an
app to a team by its catalog id."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import msal
import pytest
from atlassian import Jira

from sandbox import defaults, faults
from sandbox.atlassian import webhook_views
from sandbox.atlassian.models import DynamicWebhook, Project, Site
from sandbox.microsoft.bot_models import BotActivity, TeamAppInstallation
from sandbox.microsoft.models import Team, TeamsApp
from tests.sandbox.test_atlassian_helpers import SCOPES, site, token_for

WEBHOOK_SCOPES = [*SCOPES, "manage:jira-webhook"]
DAY = 24 * 3600


def _jira(sandbox, token, name="acme"):
    url = f"{sandbox.atlassian_api_url}/ex/jira/{site(sandbox, name)['id']}"
    oauth2 = {"client_id": defaults.ATLASSIAN_CLIENT_ID, "token": {"access_token": token, "token_type": "Bearer"}}
    return Jira(url=url, oauth2=oauth2, cloud=True, api_version="3", verify_ssl=sandbox.ca_bundle)


def _fresh(sandbox):
    return _jira(sandbox, token_for(sandbox, sites=["acme"], scopes=WEBHOOK_SCOPES)["access_token"])


@pytest.fixture
def jira(sandbox):
    return _fresh(sandbox)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.received
    server.shutdown()


def _register(jira, url, jql="project = ENG", events=("jira:issue_updated",)):
    return jira.post("rest/api/3/webhook", data={"url": url, "webhooks": [{"events": list(events), "jqlFilter": jql}]})


def test_register_list_refresh_and_delete_with_a_30_day_expiry(sandbox, jira, receiver):
    url, _ = receiver
    answer = _register(jira, url, jql="project = ENG")
    webhook_id = answer["webhookRegistrationResult"][0]["createdWebhookId"]
    listed = jira.get("rest/api/3/webhook")
    assert [w["id"] for w in listed["values"]] == [webhook_id] and listed["values"][0]["jqlFilter"] == "project = ENG"
    first_expiry = listed["values"][0]["expirationDate"]

    sandbox.advance_clock(29 * DAY)
    jira = _fresh(sandbox)  # access tokens live an hour
    refreshed = jira.put("rest/api/3/webhook/refresh", data={"webhookIds": [webhook_id]})
    assert refreshed["expirationDate"] > first_expiry  # 30 days from the refresh, not from the registration
    sandbox.advance_clock(29 * DAY)
    jira = _fresh(sandbox)
    assert [w["id"] for w in jira.get("rest/api/3/webhook")["values"]] == [webhook_id]  # alive thanks to it
    sandbox.advance_clock(2 * DAY)
    jira = _fresh(sandbox)
    assert jira.get("rest/api/3/webhook")["values"] == []  # lapsed
    # A lapsed webhook cannot be refreshed back to life, and deleting ignores unknown ids.
    jira.put("rest/api/3/webhook/refresh", data={"webhookIds": [webhook_id]})
    assert jira.get("rest/api/3/webhook")["total"] == 0
    again = _register(jira, url)["webhookRegistrationResult"][0]["createdWebhookId"]
    jira.delete("rest/api/3/webhook", data={"webhookIds": [again, 999999]})
    assert not DynamicWebhook.objects.filter(webhook_id=again).exists()


def test_jql_outside_the_subset_and_unknown_events_fail_per_webhook(sandbox, jira, receiver):
    url, _ = receiver
    answer = jira.post("rest/api/3/webhook", data={"url": url, "webhooks": [
        {"events": ["jira:issue_created"], "jqlFilter": "project is not EMPTY"},
        {"events": ["jira:issue_exploded"], "jqlFilter": "project = ENG"},
        {"events": ["jira:issue_created"], "jqlFilter": "project IN (ENG, OPS) AND status != Done"},
    ]})
    first, second, third = answer["webhookRegistrationResult"]
    assert "errors" in first and "not supported" in first["errors"][0]
    assert "errors" in second and "createdWebhookId" in third


def test_without_the_webhook_scope_or_with_an_api_token_the_api_refuses(sandbox, receiver):
    url, _ = receiver
    narrow = _jira(sandbox, token_for(sandbox, sites=["acme"], scopes=SCOPES)["access_token"])
    with pytest.raises(Exception) as refused:
        _register(narrow, url)
    assert refused.value.response.status_code == 401
    admin = sandbox.atlassian["admin"]
    basic = Jira(url=f"{sandbox.origin}/sites/acme", username=admin["email"], password=admin["api_token"],
                 cloud=True, api_version="3", verify_ssl=sandbox.ca_bundle)
    with pytest.raises(Exception) as refused:
        _register(basic, url)
    assert refused.value.response.status_code == 403


def test_a_matching_event_is_delivered_signed_with_the_app_secret(sandbox, jira, receiver):
    url, received = receiver
    eng = Project.objects.get(site__name="acme", key="ENG")
    created = _register(jira, url, jql="project = ENG")["webhookRegistrationResult"][0]["createdWebhookId"]
    acme = Site.objects.get(name="acme")
    other = Project.objects.filter(site=acme).exclude(key="ENG").first()
    webhook_views.deliver(acme, webhook_views.issue_event(acme, event="jira:issue_updated", project=other,
                                                          key=f"{other.key}-1", summary="Not ours"))
    assert received == []  # the JQL filter keeps it out
    sent = webhook_views.deliver(acme, webhook_views.issue_event(
        acme, event="jira:issue_updated", project=eng, key="ENG-7", summary="Printer on fire",
        changes=[{"field": "status", "fromString": "To Do", "toString": "In Progress"}]))
    assert sent == [(created, 202)]
    authorization, body = received[0]
    claims = jwt.decode(authorization.removeprefix("Bearer "), defaults.ATLASSIAN_CLIENT_SECRET, algorithms=["HS256"])
    assert claims["exp"] > claims["iat"]
    assert body["webhookEvent"] == "jira:issue_updated" and body["matchedWebhookIds"] == [created]
    assert body["issue"]["key"] == "ENG-7" and body["issue"]["fields"]["project"]["key"] == "ENG"
    # Not deliverable to an app's events it did not ask for.
    webhook_views.deliver(acme, webhook_views.issue_event(acme, event="jira:issue_created", project=eng,
                                                          key="ENG-8", summary="New"))
    assert len(received) == 1


# --- the Bot Framework connector and team installations ---------------------------------------


def _bot_token(sandbox, tenant="botframework.com"):
    app = msal.ConfidentialClientApplication(
        defaults.MICROSOFT_CLIENT_ID, client_credential=defaults.MICROSOFT_CLIENT_SECRET,
        authority=f"{sandbox.authority_host}/{tenant}", instance_discovery=False, verify=sandbox.ca_bundle)
    return app.acquire_token_for_client(scopes=["https://api.botframework.com/.default"])


def _post(sandbox, token, conversation_id, activity=None):
    http = sandbox.http()
    return http.post(f"{sandbox.origin}/botframework/teams/v3/conversations/{conversation_id}/activities",
                     json=activity or {"type": "message", "text": "Hello"},
                     headers={"Authorization": f"Bearer {token}"})


def test_the_bot_gets_a_token_for_the_connector_only(sandbox):
    result = _bot_token(sandbox)
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://api.botframework.com" and claims["appid"] == defaults.MICROSOFT_CLIENT_ID
    # A Graph token is not a connector token.
    graph = sandbox.msal_app("northwind").acquire_token_for_client(["https://graph.microsoft.com/.default"])
    channel = Team.objects.filter(tenant__display_name__icontains="contoso").first().channels.first()
    assert _post(sandbox, graph["access_token"], channel.id).status_code == 401


def test_the_bot_posts_only_into_teams_its_app_was_added_to_and_is_throttled(sandbox):
    token = _bot_token(sandbox)["access_token"]
    team = Team.objects.filter(tenant__display_name__icontains="contoso").first()
    channel = team.channels.first()
    refused = _post(sandbox, token, channel.id)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "BotNotInConversationRoster"
    app = TeamsApp.objects.get(tenant=team.tenant, external_id=defaults.TEAMS_APP_MANIFEST_ID)
    TeamAppInstallation.objects.create(team=team, teams_app_id=str(app.pk), bot_app_id=app.azure_app_id)
    posted = _post(sandbox, token, channel.id, {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "ENG-7 updated"}]}}]})
    assert posted.status_code == 201 and posted.json()["id"]
    assert BotActivity.objects.get(pk=posted.json()["id"]).text == "ENG-7 updated"
    # Teams allows a bot 7 messages a second per conversation.
    statuses = [_post(sandbox, token, channel.id).status_code for _ in range(8)]
    assert 429 in statuses
    throttled = _post(sandbox, token, channel.id)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # A fault stands in for an outage.
    sandbox.advance_clock(3)
    faults.set_fault("error_rate", "botframework", status=500, share=1, retry_after="")
    assert _post(sandbox, token, channel.id).status_code == 500


def test_an_app_is_added_to_a_team_by_its_catalog_id_with_the_self_permission(sandbox):
    from urllib.parse import parse_qs, urlsplit

    from django.conf import settings

    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("contoso")
    scopes = ["User.Read", "Team.ReadBasic.All", "TeamsAppInstallation.ReadWriteSelfForTeam"]
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=settings.SITE_URL + "/connect/microsoft/callback")
    location = sandbox.sign_in(flow["auth_uri"], *contoso.admin, consent="accept", for_organization=True)
    token = app.acquire_token_by_auth_code_flow(flow, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    team_id = http.get(f"{sandbox.graph_url}/v1.0/me/joinedTeams").json()["value"][0]["id"]
    catalog = TeamsApp.objects.get(tenant_id=contoso.id, external_id=defaults.TEAMS_APP_MANIFEST_ID)
    url = f"{sandbox.graph_url}/v1.0/teams/{team_id}/installedApps"
    by_manifest = http.post(url, json={"teamsApp@odata.bind": f"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/"
                                                            f"{defaults.TEAMS_APP_MANIFEST_ID}"})
    assert by_manifest.status_code == 404  # the manifest id is not the catalog id
    other = TeamsApp.objects.filter(tenant_id=contoso.id).exclude(pk=catalog.pk).first()
    assert http.post(url, json={"teamsApp@odata.bind": f"x/appCatalogs/teamsApps/{other.pk}"}).status_code == 403
    added = http.post(url, json={"teamsApp@odata.bind": f"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/"
                                                       f"{catalog.pk}"})
    assert added.status_code == 200
    assert http.post(url, json={"teamsApp@odata.bind": f"x/appCatalogs/teamsApps/{catalog.pk}"}).status_code == 409
    listed = http.get(url).json()["value"]
    assert [a["teamsApp"]["id"] for a in listed] == [str(catalog.pk)]
