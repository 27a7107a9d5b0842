"""The sandbox's Graph driven by Microsoft's Graph SDK for Python (request builders, PageIterator)
and azure-identity, as an integrator would write it: 403 bodies as Microsoft sends them, channel
messages under v1.0 and their delta, creating chats, users/delta's own page size."""

import asyncio
import datetime
import threading

import pytest
from msgraph.generated.models.aad_user_conversation_member import AadUserConversationMember
from msgraph.generated.models.chat import Chat
from msgraph.generated.models.chat_type import ChatType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import PageIterator

from tests.sandbox.msgraph_clients import GRAPH_DEFAULT, credential, graph_client

_loop: asyncio.AbstractEventLoop | None = None


def run(coroutine):
    """On one event loop for the module, running in a thread of its own, as an application
    keeps one: the SDK's httpx client pools connections (Graph keeps them alive) and a pooled
    connection belongs to the loop that opened it. (Playwright's sync API, in the browser tests
    of the same session, keeps an event loop running in the main thread.)"""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        threading.Thread(target=_loop.run_forever, daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coroutine, _loop).result()


def test_azure_identity_gets_an_app_only_token(sandbox):
    token = credential(sandbox, "northwind").get_token(GRAPH_DEFAULT)
    assert token.token.count(".") == 2 and token.expires_on > 0


def test_the_page_iterator_reads_every_user(sandbox):
    client = graph_client(sandbox, "northwind")

    async def every_user():
        config = UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=5, select=["id", "mail"])
        )
        first = await client.users.get(request_configuration=config)
        seen = []
        iterator = PageIterator(first, client.request_adapter)
        await iterator.iterate(lambda user: seen.append(user.id) or True)
        return first, seen

    first, seen = run(every_user())
    assert first.odata_next_link and len(seen) == len(set(seen)) == 12


def test_a_directory_endpoint_refuses_with_authorization_request_denied_and_names_no_permission(sandbox):
    sandbox.revoke("northwind", "User.Read.All")
    client = graph_client(sandbox, "northwind")
    with pytest.raises(ODataError) as refused:
        run(client.users.get())
    assert refused.value.response_status_code == 403
    assert refused.value.error.code == "Authorization_RequestDenied"
    assert refused.value.error.message == "Insufficient privileges to complete the operation."


def test_a_teams_endpoint_refuses_with_forbidden_in_its_own_words(sandbox):
    client = graph_client(sandbox, "northwind")
    team = run(client.teams.get()).value[0]
    sandbox.revoke("northwind", "Channel.ReadBasic.All")
    client = graph_client(sandbox, "northwind")  # a new token, without the role
    with pytest.raises(ODataError) as refused:
        run(client.teams.by_team_id(team.id).channels.get())
    assert refused.value.response_status_code == 403 and refused.value.error.code == "Forbidden"
    assert refused.value.error.message.startswith("Missing role permissions on the request.")


def _team_and_channel(client):
    team = run(client.teams.get()).value[0]
    channel = run(client.teams.by_team_id(team.id).channels.get()).value[0]
    return team.id, channel.id


def test_channel_messages_under_v1_0_and_beta(sandbox):
    for version in ("v1.0", "beta"):
        client = graph_client(sandbox, "northwind", version)
        team_id, channel_id = _team_and_channel(client)
        messages = run(client.teams.by_team_id(team_id).channels.by_channel_id(channel_id).messages.get())
        assert messages.value and all(m.id and m.created_date_time for m in messages.value)


def test_channel_message_delta_gives_what_is_new_since_the_last_round(sandbox):
    from sandbox.microsoft.models import ChannelMessage

    client = graph_client(sandbox, "northwind")
    team_id, channel_id = _team_and_channel(client)
    delta = client.teams.by_team_id(team_id).channels.by_channel_id(channel_id).messages.delta

    async def full_round():
        seen, page = [], await delta.get()
        while True:
            seen += [m.id for m in page.value]
            if page.odata_next_link:
                page = await delta.with_url(page.odata_next_link).get()
            else:
                return seen, page.odata_delta_link

    seen, delta_link = run(full_round())
    assert len(seen) == len(set(seen)) == 12 and delta_link
    newest = ChannelMessage.objects.filter(channel_id=channel_id).order_by("-created").first()
    later = newest.created + datetime.timedelta(minutes=1)
    ChannelMessage.objects.create(
        id=str(int(later.timestamp() * 1000)), channel_id=channel_id, created=later, content="<p>new</p>"
    )
    changes = run(delta.with_url(delta_link).get())
    assert [m.id for m in changes.value] == [str(int(later.timestamp() * 1000))] and changes.odata_delta_link
    assert run(delta.with_url(changes.odata_delta_link).get()).value == []


def _member(user_id, roles=("owner",)):
    member = AadUserConversationMember(roles=list(roles))
    member.additional_data = {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{user_id}')"}
    return member


def test_a_repeated_one_on_one_chat_is_the_existing_chat_and_every_member_needs_a_role(sandbox):
    client = graph_client(sandbox, "northwind")
    domain = sandbox.tenants["northwind"].domain
    alice, bob = (str(sandbox.user("northwind", f"{n}@{domain}").pk) for n in ("alice", "bob.case"))
    first = run(client.chats.post(Chat(chat_type=ChatType.OneOnOne, members=[_member(alice), _member(bob)])))
    again = run(client.chats.post(Chat(chat_type=ChatType.OneOnOne, members=[_member(bob), _member(alice)])))
    assert first.id and again.id == first.id
    members = [_member(alice), _member(bob)]
    group = run(client.chats.post(Chat(chat_type=ChatType.Group, topic="Incident", members=members)))
    assert group.id != first.id
    with pytest.raises(ODataError) as refused:
        run(client.chats.post(Chat(chat_type=ChatType.Group, members=[_member(alice), _member(bob, roles=())])))
    assert refused.value.response_status_code == 400
