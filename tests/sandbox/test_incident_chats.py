"""Graph's chats, chat members, installed apps, the Teams app catalog and online meetings in the
sandbox, against the rules Microsoft documents for them."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from sandbox import defaults
from sandbox.microsoft.models import ApplicationAccessPolicy, Chat, ChatInstalledApp, TeamsApp

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
MEMBER = "#microsoft.graph.aadUserConversationMember"
DELEGATED = ["User.Read", "Chat.Create", "ChatMember.ReadWrite", "OnlineMeetings.ReadWrite",
             "TeamsAppInstallation.ReadWriteSelfForChat", "AppCatalog.Read.All"]


def _session(sandbox, token):
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


@pytest.fixture
def app_only(sandbox):
    """App-only Graph for Northwind (consented in the seed)."""
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    return _session(sandbox, token)


@pytest.fixture
def signed_in(sandbox):
    """Graph as Contoso's admin (delegated), with the incident-chat scopes."""
    contoso = sandbox.tenants["contoso"]
    app = sandbox.msal_app("contoso")
    flow = app.initiate_auth_code_flow(DELEGATED, redirect_uri=settings.SITE_URL + "/connect/microsoft/callback")
    location = sandbox.sign_in(flow["auth_uri"], *contoso.admin, consent="accept", for_organization=True)
    result = app.acquire_token_by_auth_code_flow(flow, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    assert "access_token" in result, result
    return _session(sandbox, result["access_token"])


def _member(user, role="owner"):
    return {"@odata.type": MEMBER, "roles": [role], "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{user.pk}')"}


def _users(sandbox, tenant, *names):
    domain = sandbox.tenants[tenant].domain
    return [sandbox.user(tenant, name if "@" in name else f"{name}@{domain}") for name in names]


def test_group_chat_needs_each_role_graph_requires_and_is_never_deduplicated(sandbox, app_only):
    url = f"{sandbox.graph_url}/v1.0/chats"
    alice, bob = _users(sandbox, "northwind", "alice", "bob.case")
    guest = sandbox.user("northwind", "dave_partner.example#EXT#@northwind.onmicrosoft.com")
    body = {"chatType": "group", "topic": "IT-1: Email delayed", "members": [_member(alice), _member(bob)]}

    wrong_guest = app_only.post(url, json={**body, "members": [_member(alice), _member(guest, "owner")]}, timeout=10)
    assert wrong_guest.status_code == 400 and "'guest'" in wrong_guest.json()["error"]["message"]
    wrong_member = app_only.post(url, json={**body, "members": [_member(alice, "guest"), _member(bob)]}, timeout=10)
    assert wrong_member.status_code == 400
    no_roles = {**_member(alice), "roles": []}
    assert app_only.post(url, json={**body, "members": [no_roles, _member(bob)]}, timeout=10).status_code == 400

    first = app_only.post(url, json={**body, "members": [_member(alice), _member(bob), _member(guest, "guest")]},
                          timeout=10)
    second = app_only.post(url, json=body, timeout=10)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]  # the same request twice: two chats
    assert first.json()["topic"] == "IT-1: Email delayed" and first.json()["chatType"] == "group"
    assert Chat.objects.filter(topic="IT-1: Email delayed").count() == 2


def test_a_delegated_caller_must_be_among_the_members(sandbox, signed_in):
    url = f"{sandbox.graph_url}/v1.0/chats"
    admin, alice, bob = _users(sandbox, "contoso", "admin", "alice", "bob.case")
    without = signed_in.post(url, json={"chatType": "group", "topic": "t", "members": [_member(alice), _member(bob)]},
                             timeout=10)
    assert without.status_code == 403
    with_me = signed_in.post(
        url, json={"chatType": "group", "topic": "t", "members": [_member(admin), _member(alice)]}, timeout=10
    )
    assert with_me.status_code == 201


def test_members_are_added_with_a_location_and_listed(sandbox, app_only):
    alice, bob, carol = _users(sandbox, "northwind", "alice", "bob.case", "c.alias@northwind.onmicrosoft.com")
    chat = app_only.post(f"{sandbox.graph_url}/v1.0/chats",
                         json={"chatType": "group", "topic": "t", "members": [_member(alice), _member(bob)]},
                         timeout=10).json()
    url = f"{sandbox.graph_url}/v1.0/chats/{chat['id']}/members"
    added = app_only.post(url, json={**_member(carol), "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z"},
                          timeout=10)
    assert added.status_code == 201
    assert added.headers["Location"] == f"/chats/{chat['id']}/members/{added.json()['id']}"
    again = app_only.post(url, json=_member(carol), timeout=10)
    assert again.status_code == 409
    listed = app_only.get(url, timeout=10).json()["value"]
    assert {m["userId"] for m in listed} == {str(alice.pk), str(bob.pk), str(carol.pk)}
    assert all(m["roles"] == ["owner"] for m in listed)
    other = app_only.get(f"{sandbox.graph_url}/v1.0/chats/19:nope@thread.v2/members", timeout=10)
    assert other.status_code == 404


def test_app_catalog_lookup_is_user_context_only_and_installs_need_the_catalog_id(sandbox, signed_in, app_only):
    catalog = f"{sandbox.graph_url}/v1.0/appCatalogs/teamsApps"
    query = {"$filter": f"externalId eq '{defaults.TEAMS_APP_MANIFEST_ID}'"}
    assert app_only.get(catalog, params=query, timeout=10).status_code == 400  # user context only
    found = signed_in.get(catalog, params=query, timeout=10).json()["value"]
    assert len(found) == 1 and found[0]["externalId"] == defaults.TEAMS_APP_MANIFEST_ID
    catalog_id = found[0]["id"]
    assert catalog_id != defaults.TEAMS_APP_MANIFEST_ID

    admin, alice = _users(sandbox, "contoso", "admin", "alice")
    chat = signed_in.post(f"{sandbox.graph_url}/v1.0/chats",
                          json={"chatType": "group", "topic": "t", "members": [_member(admin), _member(alice)]},
                          timeout=10).json()
    url = f"{sandbox.graph_url}/v1.0/chats/{chat['id']}/installedApps"

    def bind(app_id):
        return {"teamsApp@odata.bind": f"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{app_id}"}

    assert signed_in.post(url, json=bind(defaults.TEAMS_APP_MANIFEST_ID), timeout=10).status_code == 404
    rsc = TeamsApp.objects.get(tenant=admin.tenant, needs_rsc=True)
    assert signed_in.post(url, json=bind(rsc.pk), timeout=10).status_code == 403  # not "Self", needs RSC
    assert signed_in.post(url, json=bind(catalog_id), timeout=10).status_code == 201
    assert signed_in.post(url, json=bind(catalog_id), timeout=10).status_code == 409
    installed = [str(a) for a in ChatInstalledApp.objects.filter(chat_id=chat["id"]).values_list("app_id", flat=True)]
    assert installed == [catalog_id]
    listed = signed_in.get(url, timeout=10).json()["value"]
    assert [i["teamsApp"]["externalId"] for i in listed] == [defaults.TEAMS_APP_MANIFEST_ID]


def test_meetings_for_the_signed_in_user_and_the_application_access_policy(sandbox, signed_in, app_only):
    admin, alice = _users(sandbox, "contoso", "admin", "alice")
    body = {"subject": "IT-1: Email delayed", "startDateTime": "2026-12-01T10:00:00Z",
            "endDateTime": "2026-12-01T11:00:00Z",
            "participants": {"attendees": [{"identity": {"user": {"id": str(alice.pk)}}, "upn": "alice"}]}}
    mine = signed_in.post(f"{sandbox.graph_url}/v1.0/me/onlineMeetings", json=body, timeout=10)
    assert mine.status_code == 201
    meeting = mine.json()
    assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert meeting["chatInfo"]["threadId"].endswith("@thread.v2")
    assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == str(admin.pk)
    assert [a["identity"]["user"]["id"] for a in meeting["participants"]["attendees"]] == [str(alice.pk)]

    # Application permissions: Northwind's admin grants the portal's app OnlineMeetings.ReadWrite.All.
    sandbox.grant_admin_consent("northwind", application_permissions=["OnlineMeetings.ReadWrite.All"])
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    app = _session(sandbox, token)
    (bob,) = _users(sandbox, "northwind", "bob.case")
    url = f"{sandbox.graph_url}/v1.0/users/{bob.pk}/onlineMeetings"
    refused = app.post(url, json=body, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"App {defaults.MICROSOFT_CLIENT_ID} is not authorized to Create meeting on behalf of user {bob.pk}"
    )
    from sandbox import clock

    ApplicationAccessPolicy.objects.create(tenant=bob.tenant, app_ids=[defaults.MICROSOFT_CLIENT_ID],
                                           user=None, granted_at=clock.now())
    assert app.post(url, json=body, timeout=10).status_code == 403  # up to 30 minutes to apply
    sandbox.advance_clock(31 * 60)
    assert app.post(url, json=body, timeout=10).status_code == 201
