"""Every permission an endpoint declares is one the consent pages ask for, and the other way round."""

from connections import endpoints, permissions
from connections.atlassian import endpoints as atlassian_endpoints  # noqa: F401 - registers the declarations
from connections.atlassian import needs
from connections.microsoft import endpoints as graph_endpoints  # noqa: F401 - registers the declarations

GRAPH_PROVIDERS = {endpoints.GRAPH}
ATLASSIAN_PROVIDERS = {endpoints.JIRA, endpoints.CONFLUENCE, endpoints.JSM, endpoints.ATLASSIAN}


def _product_endpoints(providers):
    # Declarations made by other tests (key "….test_…") are not the product's.
    return [e for e in endpoints.all_endpoints() if e.provider in providers and ".test_" not in e.key]


def _catalog_graph_names():
    return {p.name for f in permissions.FEATURES.values() for p in f.graph}


def _catalog_atlassian_names():
    names = {s.name for f in permissions.FEATURES.values() for s in f.atlassian}
    return names | {needs.READ_ME.name}  # the portal's own need, whatever the features


def test_every_graph_endpoint_declares_only_permissions_of_the_catalog():
    declared = _product_endpoints(GRAPH_PROVIDERS)
    assert declared, "the Graph endpoint functions declare their endpoints"
    unknown = {(e.key, p) for e in declared for p in e.permissions if p not in _catalog_graph_names()}
    assert not unknown


def test_every_graph_endpoint_declares_its_permission_fields_and_reference():
    for endpoint in _product_endpoints(GRAPH_PROVIDERS):
        assert endpoint.permissions, endpoint.key
        assert endpoint.reads, endpoint.key
        assert endpoint.reference.startswith("https://learn.microsoft.com/"), endpoint.key
        assert endpoint.path.startswith(("/v1.0/", "/beta/")), endpoint.key


def test_every_atlassian_endpoint_declares_only_scopes_of_the_catalog():
    declared = _product_endpoints(ATLASSIAN_PROVIDERS)
    assert {e.provider for e in declared} >= {endpoints.JIRA, endpoints.CONFLUENCE, endpoints.ATLASSIAN}
    unknown = {(e.key, s) for e in declared for s in e.permissions if s not in _catalog_atlassian_names()}
    assert not unknown


def test_every_atlassian_endpoint_declares_its_fields_and_reference():
    for endpoint in _product_endpoints(ATLASSIAN_PROVIDERS):
        assert endpoint.reads, endpoint.key
        assert endpoint.reference.startswith(("https://developer.atlassian.com/", "https://support.atlassian.com/"))
        assert endpoint.path.startswith("/"), endpoint.key


def test_catalog_permissions_without_an_endpoint_are_reported(capsys):
    """Features not built yet legitimately lack endpoints: reported, not failed."""
    graph_used = {p for e in _product_endpoints(GRAPH_PROVIDERS) for p in e.permissions}
    atlassian_used = {s for e in _product_endpoints(ATLASSIAN_PROVIDERS) for s in e.permissions}
    graph_unused = sorted(_catalog_graph_names() - graph_used)
    atlassian_unused = sorted(_catalog_atlassian_names() - atlassian_used)
    with capsys.disabled():
        print(f"\nGraph permissions of the catalog no endpoint declares: {', '.join(graph_unused) or 'none'}")
        print(f"Atlassian scopes of the catalog no endpoint declares: {', '.join(atlassian_unused) or 'none'}")
    assert graph_used <= _catalog_graph_names()
    assert atlassian_used <= _catalog_atlassian_names()
