"""Every request the portal made to Microsoft Graph and Atlassian Cloud during real flows matches a
declared endpoint and asks only for declared fields (the sandbox's request log against
connections/endpoints.py). A new call without a declaration fails here."""

from connections import permissions, statement
from connections.health.services import health_checks_run
from sandbox.microsoft import tokens
from tests.connected import connect_acme

from .declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph
from .test_endpoint_catalog import WAITING


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


# Application permissions the sandbox's registration of the portal's app grants that no feature of
# the catalog asks for. Admin consent grants a registration's static permissions (/.default), so an
# app-only token holds them whatever a connection's features are. They are to leave the
# registration; the test fails if one disappears from the tokens, so this set can only shrink.
# Reference: https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope
REGISTRATION_EXTRAS = {"Organization.Read.All"}


def _allowed(feature_keys, kind):
    """The Graph permissions of these features (of one kind) a declared endpoint uses, or that
    wait for their feature's endpoints (test_endpoint_catalog.WAITING)."""
    used = {
        p
        for e in statement._product_endpoints(statement.GRAPH_PROVIDERS)
        if not (kind == permissions.APPLICATION and statement._signed_in_only(e))
        for p in e.permissions
    }
    waiting = {name for service, name, k in WAITING if service == "graph" and k == kind}
    return {p.name for p in permissions.graph_permissions(feature_keys) if p.kind == kind} & (used | waiting)


def test_every_permission_in_a_graph_token_the_portal_uses_is_declared_by_its_features(
    sandbox, settings, monkeypatch
):
    presented = []
    verify = tokens.verify_graph_token

    def recording(token):
        claims = verify(token)
        presented.append(claims)
        return claims

    monkeypatch.setattr(tokens, "verify_graph_token", recording)
    world = connect_acme(sandbox, settings)
    health_checks_run(connection=world.jira)
    health_checks_run(connection=world.jsm)
    app = [c for c in presented if c.get("idtyp") == "app"]
    user = [c for c in presented if c.get("idtyp") == "user"]
    assert app and user, "the flows used app-only and delegated tokens"
    assert {c["tid"] for c in presented} == {str(world.tenant.tenant_id)}
    features = sorted({k for c in (world.jira, world.jsm) for k in c.features})
    # A delegated token holds what the connections' features asked for (incremental consent).
    delegated = _allowed(features, permissions.DELEGATED)
    beyond = sorted({p for c in user for p in c.get("scp", "").split()} - delegated)
    assert not beyond, f"delegated scopes no declared endpoint of the connections' features uses: {beyond}"
    # An app-only token holds every application permission of the registration (/.default).
    application = _allowed(list(permissions.FEATURES), permissions.APPLICATION)
    roles = {p for c in app for p in c.get("roles", [])}
    assert not roles - application - REGISTRATION_EXTRAS, sorted(roles - application - REGISTRATION_EXTRAS)
    assert REGISTRATION_EXTRAS <= roles, f"no longer granted; remove: {sorted(REGISTRATION_EXTRAS - roles)}"
