"""Every permission an endpoint declares is one the consent pages ask for, and the other way round."""

from connections import endpoints, permissions
from connections.atlassian import endpoints as atlassian_endpoints  # noqa: F401 - registers the declarations
from connections.atlassian import needs
from connections.microsoft import endpoints as graph_endpoints  # noqa: F401 - registers the declarations
from connections.notifications import endpoints as notification_endpoints  # noqa: F401 - registers the declarations

GRAPH_PROVIDERS = {endpoints.GRAPH}
ATLASSIAN_PROVIDERS = {endpoints.JIRA, endpoints.CONFLUENCE, endpoints.JSM, endpoints.ATLASSIAN}


def _product_endpoints(providers):
    # Declarations made by other tests (key "….test_…") are not the product's.
    return [e for e in endpoints.all_endpoints() if e.provider in providers and ".test_" not in e.key]


def _catalog_graph_names():
    return {p.name for f in permissions.FEATURES.values() for p in f.graph}


def _catalog_atlassian_names():
    names = {s.name for f in permissions.FEATURES.values() for s in (*f.atlassian, *f.atlassian_org)}
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


# Permissions of a feature still being built may sit here until the endpoint functions that use
# them are declared (none do now: every feature the catalog offers is built). Once a declaration
# uses an entry, the second test below fails until the entry is removed.
WAITING: set[tuple[str, str, str]] = set()


def _signed_in_only(endpoint):
    # /me acts for the signed-in user: an application permission is never what such a call uses.
    # Reference: https://learn.microsoft.com/graph/call-api
    return endpoint.path.split("/")[2:3] == ["me"]


def _catalog_entries():
    entries = {("graph", p.name, p.kind) for f in permissions.FEATURES.values() for p in f.graph}
    return entries | {("atlassian", name, "") for name in _catalog_atlassian_names()}


def _used(entry):
    service, name, kind = entry
    if service == "graph":
        return any(
            name in e.permissions and not (kind == permissions.APPLICATION and _signed_in_only(e))
            for e in _product_endpoints(GRAPH_PROVIDERS)
        )
    return any(name in e.permissions for e in _product_endpoints(ATLASSIAN_PROVIDERS))


def test_every_catalog_permission_is_used_by_a_declared_endpoint():
    unused = sorted(entry for entry in _catalog_entries() - WAITING if not _used(entry))
    assert not unused, f"permissions the consent pages ask for that no declared endpoint uses: {unused}"


def test_the_waiting_list_only_holds_permissions_still_unused():
    now_used = sorted(entry for entry in WAITING if _used(entry))
    assert not now_used, f"declared endpoints use these now; remove them from WAITING: {now_used}"
    gone = sorted(WAITING - _catalog_entries())
    assert not gone, f"no longer in the catalog; remove them from WAITING: {gone}"
