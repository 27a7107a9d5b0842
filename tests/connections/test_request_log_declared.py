"""Every request the portal made to Microsoft Graph during a real flow matches a declared
endpoint and asks only for declared fields (the sandbox's request log against connections/endpoints.py)."""

from urllib.parse import parse_qs

from connections import endpoints, statement
from connections.health.services import health_checks_run
from sandbox import defaults
from sandbox.requestlog import entries
from tests.connected import connect_acme


def _graph_calls():
    for row in entries(path_startswith=defaults.GRAPH_PATH + "/"):
        yield row.method, row.path[len(defaults.GRAPH_PATH):], parse_qs(row.query)


def test_every_graph_request_of_a_connect_and_health_check_is_declared(sandbox, settings):
    world = connect_acme(sandbox, settings)
    health_checks_run(connection=world.jira)
    health_checks_run(connection=world.jsm)
    calls = list(_graph_calls())
    assert calls, "the flows called Microsoft Graph"
    declared = statement._product_endpoints(statement.GRAPH_PROVIDERS)
    assert declared
    undeclared, extra_fields = [], []
    for method, path, query in calls:
        endpoint = endpoints.find(endpoints.GRAPH, method, path)
        if endpoint is None:
            undeclared.append(f"{method} {path}")
            continue
        for select in query.get("$select", []):
            asked = {f.strip() for f in select.split(",") if f.strip()}
            if not asked <= set(endpoint.reads):
                extra_fields.append(f"{method} {path}: {sorted(asked - set(endpoint.reads))}")
    assert not undeclared, f"requests no endpoint declares: {sorted(set(undeclared))}"
    assert not extra_fields, f"fields asked for but not declared: {sorted(set(extra_fields))}"
