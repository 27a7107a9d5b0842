"""Every request the portal made to Microsoft Graph and Atlassian Cloud during real flows matches a
declared endpoint and asks only for declared fields (the sandbox's request log against
connections/endpoints.py). A new call without a declaration fails here."""

from connections import statement
from connections.health.services import health_checks_run
from tests.connected import connect_acme

from .declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph


def test_every_graph_request_of_a_connect_and_health_check_is_declared(sandbox, settings):
    world = connect_acme(sandbox, settings)
    health_checks_run(connection=world.jira)
    health_checks_run(connection=world.jsm)
    calls = list(graph_calls())
    assert calls, "the flows called Microsoft Graph"
    assert statement._product_endpoints(statement.GRAPH_PROVIDERS)
    undeclared, extra_fields = undeclared_graph(calls)
    assert not undeclared, f"requests no endpoint declares: {undeclared}"
    assert not extra_fields, f"fields asked for but not declared: {extra_fields}"


def test_every_atlassian_request_of_an_oauth_connect_and_health_check_is_declared(sandbox, settings):
    world = connect_acme(sandbox, settings)
    health_checks_run(connection=world.jira)
    health_checks_run(connection=world.jsm)
    calls = list(atlassian_calls())
    paths = {path for _, path, _ in calls}
    assert "/oauth/token" in paths and "/oauth/token/accessible-resources" in paths, sorted(paths)
    assert any(path.startswith("/rest/") for path in paths), sorted(paths)
    undeclared, extra_fields = undeclared_atlassian(calls)
    assert not undeclared, f"requests no endpoint declares: {undeclared}"
    assert not extra_fields, f"fields asked for but not declared: {extra_fields}"
