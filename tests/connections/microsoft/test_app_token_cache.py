"""App-only tokens come from msal's token cache: one token request per tenant while the token
is valid, a new one once the portal forgets it (fresh roles)."""

import pytest

from connections import throttle
from connections.microsoft import graph as graph_module
from connections.microsoft.graph import Graph
from tests.factories import ConnectionFactory, own_consent

TOKEN_PATH = "/oauth2/v2.0/token"


@pytest.fixture
def fabrikam(sandbox):
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph_module.forget_tokens()
    connection = ConnectionFactory(tenant__tenant_id=sandbox.tenants["fabrikam"].id, tenant__display_name="fabrikam")
    own_consent(connection)
    yield connection
    graph_module.forget_tokens()
    throttle.default_store().clear()


def _token_requests(sandbox, since):
    return [r for r in sandbox.requests(path_contains=TOKEN_PATH, since_id=since) if r.method == "POST"]


def _last_id(sandbox):
    rows = sandbox.requests()
    return rows[-1].pk if rows else 0


def test_calls_in_a_row_ask_for_one_token_and_forgetting_asks_again(sandbox, fabrikam):
    since = _last_id(sandbox)
    for _ in range(3):
        assert Graph(fabrikam).get("/v1.0/users", {"$select": "id", "$top": 1})["value"]
    assert len(_token_requests(sandbox, since)) == 1

    graph_module.forget_tokens(fabrikam.tenant.tenant_id)
    assert Graph(fabrikam).get("/v1.0/users", {"$select": "id", "$top": 1})["value"]
    assert len(_token_requests(sandbox, since)) == 2
