"""Every Graph permission the incident chats feature asks a tenant admin for is used: the
incident page's and the API's flows (chat, late responders, meeting, note, through the real
Graph calls) present a token whose permission is the one a declared endpoint of the request
needs, delegated and application alike."""

from django.urls import reverse

from connections import endpoints, permissions
from connections.chatops import apikeys
from connections.matching.services import manual_mapping_set
from sandbox import defaults
from sandbox.microsoft.graph import common


def test_every_graph_permission_of_incident_chats_is_used_by_the_flows(chatops, client, monkeypatch):
    used = set()
    authenticate = common.authenticate

    def recording(request):
        caller, failure = authenticate(request)
        if caller is not None:
            path = request.path.split(defaults.GRAPH_PATH, 1)[-1]
            endpoint = endpoints.find(endpoints.GRAPH, request.method, path)
            kind = permissions.APPLICATION if caller.is_app else permissions.DELEGATED
            for name in set(endpoint.permissions if endpoint else ()) & caller.permissions:
                used.add((name, kind))
        return caller, failure

    monkeypatch.setattr(common, "authenticate", recording)
    used.clear()  # what the connect before did does not count

    args = [chatops.connection.pk, chatops.project.pk, "IT-1"]
    chatops.client.post(reverse("connections:chatops_chat_create", args=args))
    chatops.issue.watchers.add(chatops.carol)  # a late responder
    manual_mapping_set(connection=chatops.connection, account_id=chatops.carol.account_id,
                       microsoft_user=str(chatops.carol_ms.pk), acting_user=chatops.world.admin)
    chatops.client.post(reverse("connections:chatops_chat_members", args=args))
    chatops.client.post(reverse("connections:chatops_meeting_start", args=args))

    # A second incident's chat, made by an automation rule.
    it2 = chatops.issue.__class__.objects.get(key="IT-2", site__name="acme-support")
    it2.watchers.add(chatops.alice, chatops.bob)
    key = apikeys.api_key_create(organization=chatops.world.organization, name="rule",
                                 acting_user=chatops.world.admin)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {key.secret}"}
    made = client.post(reverse("connections:api_chat_create", args=[chatops.connection.pk, "IT", "IT-2"]), **bearer)
    assert made.status_code == 201, made.content
    it2.watchers.add(chatops.carol)
    synced = client.post(reverse("connections:api_chat_members", args=[chatops.connection.pk, "IT", "IT-2"]),
                         **bearer)
    assert synced.status_code == 200 and synced.json()["added"], synced.content

    asked = {(p.name, p.kind) for p in permissions.FEATURES["jsm_chatops"].graph}
    # User.Read signs the admin in, Team.ReadBasic.All proves the delegated sign-in in the health
    # checks (connections/health): neither is an incident flow's.
    elsewhere = {("User.Read", permissions.DELEGATED), ("Team.ReadBasic.All", permissions.DELEGATED)}
    unused = sorted(asked - used - elsewhere)
    assert not unused, f"asked for, used by no incident-chat request: {unused}"
