"""Every sandbox endpoint answers errors as JSON in its provider's shape, never an HTML page and
never a 500, with DEBUG on (the demo) as well as off: an unknown path, a method a path does not
take. Plain requests, as any client would send them."""

import pytest

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def graph(sandbox):
    token = sandbox.msal_app("northwind").acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def _json(response):
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    assert response.status_code < 500
    return response.json()


def test_an_unknown_graph_path_is_graphs_bad_request(sandbox, graph, debug):
    body = _json(graph.get(f"{sandbox.graph_url}/v1.0/usersx", timeout=10))
    assert body["error"]["code"] == "BadRequest"
    assert body["error"]["message"] == "Resource not found for the segment 'usersx'."
    assert {"date", "request-id", "client-request-id"} <= set(body["error"]["innerError"])


def test_a_post_to_a_read_only_graph_path_is_405_json(sandbox, graph, debug):
    response = graph.post(f"{sandbox.graph_url}/v1.0/users", json={"displayName": "x"}, timeout=10)
    body = _json(response)
    assert response.status_code == 405 and "GET" in response.headers["Allow"] and body["error"]["code"]
    delta = graph.post(f"{sandbox.graph_url}/v1.0/users/delta", data="x", timeout=10)
    assert delta.status_code == 405 and _json(delta)["error"]["message"]


def test_atlassian_unknown_paths_and_methods_are_atlassian_json(sandbox, debug):
    http = sandbox.http()
    assert _json(http.get(f"{sandbox.atlassian_api_url}/nothing/here", timeout=10))["code"] == 404
    site = next(s for s in sandbox.atlassian["sites"] if s["name"] == "acme")
    post = http.post(f"{sandbox.atlassian_api_url}/ex/jira/{site['id']}/rest/api/3/users/search", timeout=10)
    assert post.status_code in (401, 405) and _json(post)
    token = http.get(f"{sandbox.atlassian_auth_url}/oauth/token", timeout=10)
    assert token.status_code == 405 and _json(token)["error"] == "invalid_request"


def test_identity_platform_unknown_paths_are_json(sandbox, debug):
    http = sandbox.http()
    tenant = sandbox.tenants["contoso"].id
    assert _json(http.get(f"{sandbox.origin}/{tenant}/oauth2/v2.0/nothing", timeout=10))["error"]
