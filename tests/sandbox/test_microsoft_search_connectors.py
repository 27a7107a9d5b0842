"""Microsoft Search connections in the sandbox, over real HTTPS with msal's app-only tokens:
connection ids, the 503-then-409 creation fault, schema rules and the asynchronous operation,
items (id rules, 4 MB, @odata.type, ACLs), external groups, throttling, OwnedBy, and the
query of who may find what."""

import uuid

import pytest

from sandbox.microsoft.models import App, ServicePrincipal
from sandbox.microsoft.search_index import visible_items
from sandbox.microsoft.search_models import SearchFaults

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
SCHEMA = {"baseType": "microsoft.graph.externalItem", "properties": [
    {"name": "title", "type": "String", "isSearchable": True, "isQueryable": True, "isRetrievable": True,
     "labels": ["title"]},
    {"name": "url", "type": "String", "isRetrievable": True, "labels": ["url"]},
    {"name": "authors", "type": "StringCollection", "isRetrievable": True, "labels": ["authors"]},
    {"name": "lastModifiedDateTime", "type": "DateTime", "isRetrievable": True, "isRefinable": True,
     "labels": ["lastModifiedDateTime"]},
]}


def _session(sandbox, tenant="northwind", msal_app=None):
    app = msal_app or sandbox.msal_app(tenant)
    token = app.acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    http = sandbox.http()
    http.headers["Authorization"] = f"Bearer {token}"
    http.base = f"{sandbox.graph_url}/v1.0/external/connections"
    return http


@pytest.fixture
def graph(sandbox):
    return _session(sandbox)


def _ready_connection(sandbox, graph, connection_id="confluence1"):
    assert graph.post(graph.base, json={"id": connection_id, "name": "Confluence", "description": "Wiki"},
                      timeout=10).status_code == 201
    accepted = graph.patch(f"{graph.base}/{connection_id}/schema", json=SCHEMA, timeout=10)
    assert accepted.status_code == 202
    sandbox.advance_clock(5)
    assert graph.get(accepted.headers["Location"], timeout=10).json()["status"] == "completed"
    return connection_id


def _item(acl, **properties):
    return {"acl": acl, "properties": {"title": "Page", "url": "https://wiki/p", **properties},
            "content": {"type": "text", "value": "hello"}}


def test_connection_ids_follow_graphs_rules(sandbox, graph):
    for bad in ("ab", "x" * 33, "has-dash", "MicrosoftWiki", "SharePoint", "teams"):
        response = graph.post(graph.base, json={"id": bad, "name": "n", "description": "d"}, timeout=10)
        assert response.status_code == 400, bad
    assert graph.post(graph.base, json={"id": "wiki1", "name": "x" * 129, "description": "d"},
                      timeout=10).status_code == 400
    created = graph.post(graph.base, json={"id": "wiki1", "name": "Wiki", "description": "d"}, timeout=10)
    assert created.status_code == 201 and created.json()["state"] == "draft"
    again = graph.post(graph.base, json={"id": "WIKI1", "name": "Wiki", "description": "d"}, timeout=10)
    assert again.status_code == 409
    assert [c["id"] for c in graph.get(graph.base, timeout=10).json()["value"]] == ["wiki1"]
    assert graph.get(f"{graph.base}/nothere", timeout=10).status_code == 404
    assert graph.delete(f"{graph.base}/wiki1", timeout=10).status_code == 204
    assert graph.get(f"{graph.base}/wiki1", timeout=10).status_code == 404


def test_the_documented_503_then_409_on_creation(sandbox, graph):
    SearchFaults.objects.create(tenant=sandbox.tenant("northwind"), create_503=1)
    first = graph.post(graph.base, json={"id": "wiki2", "name": "Wiki", "description": "d"}, timeout=10)
    assert first.status_code == 503
    retry = graph.post(graph.base, json={"id": "wiki2", "name": "Wiki", "description": "d"}, timeout=10)
    assert retry.status_code == 409
    assert graph.get(f"{graph.base}/wiki2", timeout=10).json()["name"] == "Wiki"  # created by the first call


def test_schema_rules_and_the_operation_runs_on_the_sandbox_clock(sandbox, graph):
    graph.post(graph.base, json={"id": "wiki3", "name": "Wiki", "description": "d"}, timeout=10)
    url = f"{graph.base}/wiki3/schema"
    broken = [
        {"name": "count", "type": "Int64", "isSearchable": True},  # only strings are searchable
        {"name": "t", "type": "String", "isSearchable": True, "isRefinable": True},
        {"name": "t", "type": "String", "labels": ["title"]},  # labelled, not retrievable
        {"name": "t", "type": "Int64", "isRetrievable": True, "labels": ["title"]},  # label type
        {"name": "bad-name", "type": "String"},
        {"name": "t", "type": "Text"},
    ]
    for prop in broken:
        response = graph.patch(url, json={"baseType": "microsoft.graph.externalItem", "properties": [prop]},
                               timeout=10)
        assert response.status_code == 400, prop
    assert graph.patch(url, json={"baseType": "microsoft.graph.externalItem", "properties": []},
                       timeout=10).status_code == 400
    # Before the schema is registered, items are refused.
    early = graph.put(f"{graph.base}/wiki3/items/page1", json=_item([{"type": "everyone", "accessType": "grant",
                      "value": str(sandbox.tenant("northwind").pk)}]), timeout=10)
    assert early.status_code == 400
    accepted = graph.patch(url, json=SCHEMA, timeout=10)
    assert accepted.status_code == 202
    location = accepted.headers["Location"]
    assert location.startswith(f"{sandbox.graph_url}/v1.0/external/connections/wiki3/operations/")
    assert graph.get(location, timeout=10).json()["status"] == "inprogress"
    assert graph.get(f"{graph.base}/wiki3", timeout=10).json()["state"] == "draft"
    sandbox.advance_clock(5)
    assert graph.get(location, timeout=10).json() | {"@odata.context": None} == {
        "@odata.context": None, "id": location.rsplit("/", 1)[1], "status": "completed", "error": None}
    assert graph.get(f"{graph.base}/wiki3", timeout=10).json()["state"] == "ready"
    # Later changes may only add properties, and no refiner.
    fewer = {"baseType": "microsoft.graph.externalItem", "properties": SCHEMA["properties"][:2]}
    assert graph.patch(url, json=fewer, timeout=10).status_code == 400
    refiner = {"baseType": "microsoft.graph.externalItem", "properties": [
        *SCHEMA["properties"], {"name": "spaceKey", "type": "String", "isRetrievable": True, "isRefinable": True}]}
    assert graph.patch(url, json=refiner, timeout=10).status_code == 400


def test_a_failed_schema_operation_says_so(sandbox, graph):
    SearchFaults.objects.create(tenant=sandbox.tenant("northwind"), schema_fails=True)
    graph.post(graph.base, json={"id": "wiki4", "name": "Wiki", "description": "d"}, timeout=10)
    location = graph.patch(f"{graph.base}/wiki4/schema", json=SCHEMA, timeout=10).headers["Location"]
    sandbox.advance_clock(5)
    body = graph.get(location, timeout=10).json()
    assert body["status"] == "failed" and body["error"]["message"]


def test_items_rules(sandbox, graph):
    connection = _ready_connection(sandbox, graph)
    tenant_id = str(sandbox.tenant("northwind").pk)
    everyone = [{"type": "everyone", "accessType": "grant", "value": tenant_id}]
    url = f"{graph.base}/{connection}/items"
    assert graph.put(f"{url}/page1", json=_item(everyone), timeout=10).status_code == 200
    assert graph.put(f"{url}/page-1", json=_item(everyone), timeout=10).status_code == 400  # not alphanumeric
    assert graph.put(f"{url}/page1", json=_item([]), timeout=10).status_code == 400
    assert graph.put(f"{url}/page1", json=_item([{"type": "everyone", "accessType": "grant",
                                                  "value": str(uuid.uuid4())}]), timeout=10).status_code == 400
    assert graph.put(f"{url}/page1", json=_item(everyone, unknown="x"), timeout=10).status_code == 400
    # Collections need their @odata.type annotation; non-ASCII strings too.
    assert graph.put(f"{url}/page1", json=_item(everyone, authors=["Ann"]), timeout=10).status_code == 400
    assert graph.put(f"{url}/page1", json=_item(everyone, authors=["Ann"], **{
        "authors@odata.type": "Collection(String)"}), timeout=10).status_code == 200
    assert graph.put(f"{url}/page1", json=_item(everyone, title="Überblick"), timeout=10).status_code == 400
    assert graph.put(f"{url}/page1", json=_item(everyone, title="Überblick", **{"title@odata.type": "String"}),
                     timeout=10).status_code == 200
    assert graph.put(f"{url}/page1", json=_item(everyone, lastModifiedDateTime="yesterday"),
                     timeout=10).status_code == 400
    big = _item(everyone)
    big["content"]["value"] = "x" * 4_000_001
    assert graph.put(f"{url}/page2", json=big, timeout=10).status_code == 413
    assert graph.delete(f"{url}/page1", timeout=10).status_code == 204
    assert graph.delete(f"{url}/page1", timeout=10).status_code == 404


def test_ingestion_is_throttled_per_connection_with_retry_after(sandbox, graph):
    connection = _ready_connection(sandbox, graph)
    other = _ready_connection(sandbox, graph, "confluence2")
    SearchFaults.objects.create(tenant=sandbox.tenant("northwind"), ingest_rate=3)
    everyone = [{"type": "everyone", "accessType": "grant", "value": str(sandbox.tenant("northwind").pk)}]
    statuses = [graph.put(f"{graph.base}/{connection}/items/p{i}", json=_item(everyone), timeout=10)
                for i in range(5)]
    assert [r.status_code for r in statuses][:3] == [200, 200, 200]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled and all(int(r.headers["Retry-After"]) >= 1 for r in throttled)
    # The other connection has a budget of its own.
    assert graph.put(f"{graph.base}/{other}/items/p1", json=_item(everyone), timeout=10).status_code == 200


def test_concurrent_ingestion_is_counted_exactly_against_the_connections_budget(sandbox, graph, monkeypatch):
    """The server serves requests at once, and its per-connection count is shared by them: of 12
    PUTs sent together within one second exactly the budget gets through, every other one is told
    when to come back, and no accepted item is lost."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sandbox.microsoft.graph import connectors
    from sandbox.microsoft.search_models import ExternalItem

    connection = _ready_connection(sandbox, graph)
    SearchFaults.objects.create(tenant=sandbox.tenant("northwind"), ingest_rate=3)
    everyone = [{"type": "everyone", "accessType": "grant", "value": str(sandbox.tenant("northwind").pk)}]
    second = connectors.time.time()
    monkeypatch.setattr(connectors, "time", type("OneSecond", (), {"time": staticmethod(lambda: second)}))
    together = Barrier(12)
    sessions = [_session(sandbox) for _ in range(12)]

    def put(n):
        together.wait(timeout=30)
        return sessions[n].put(f"{graph.base}/{connection}/items/c{n}", json=_item(everyone), timeout=30)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(put, range(12)))
    accepted = [n for n, r in enumerate(answers) if r.status_code == 200]
    assert len(accepted) == 3
    assert all(r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code != 200)
    stored = ExternalItem.objects.filter(connection__connection_id=connection).values_list("item_id", flat=True)
    assert sorted(stored) == sorted(f"c{n}" for n in accepted)


def test_owned_by_reaches_only_the_apps_own_connections(sandbox, graph):
    _ready_connection(sandbox, graph)
    tenant = sandbox.tenant("northwind")
    stranger = App.objects.create(client_id=str(uuid.uuid4()), display_name="Another connector",
                                  client_secret="s3cret-value", application_permissions=[
                                      "ExternalConnection.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.OwnedBy"])
    ServicePrincipal.objects.create(tenant=tenant, app=stranger, application_permissions=[
        "ExternalConnection.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.OwnedBy"])
    import msal

    other_app = msal.ConfidentialClientApplication(
        stranger.client_id, client_credential="s3cret-value", authority=sandbox.authority("northwind"),
        instance_discovery=False, verify=sandbox.ca_bundle)
    theirs = _session(sandbox, msal_app=other_app)
    assert theirs.get(theirs.base, timeout=10).json()["value"] == []
    assert theirs.get(f"{theirs.base}/confluence1", timeout=10).status_code == 403
    everyone = [{"type": "everyone", "accessType": "grant", "value": str(tenant.pk)}]
    assert theirs.put(f"{theirs.base}/confluence1/items/p1", json=_item(everyone), timeout=10).status_code == 403
    assert theirs.delete(f"{theirs.base}/confluence1", timeout=10).status_code == 403
    # Without the permission at all: Graph's 403.
    sandbox.revoke("northwind", "ExternalItem.ReadWrite.OwnedBy", delegated=False)
    mine = _session(sandbox)
    assert mine.put(f"{mine.base}/confluence1/items/p1", json=_item(everyone), timeout=10).status_code == 403


def test_who_finds_what_user_group_external_group_everyone_and_deny(sandbox, graph):
    connection = _ready_connection(sandbox, graph)
    tenant = sandbox.tenant("northwind")
    users = list(tenant.users.filter(deleted=False).order_by("user_principal_name")[:4])
    ann, bob, cat, dan = users
    team = tenant.teams.create(display_name="Writers")
    team.members.add(cat)
    url = f"{graph.base}/{connection}"
    assert graph.post(f"{url}/groups", json={"id": "gwriters", "displayName": "writers"}, timeout=10).status_code == 201
    assert graph.post(f"{url}/groups", json={"id": "gwriters", "displayName": "writers"}, timeout=10).status_code == 409
    assert graph.post(f"{url}/groups/gwriters/members", json={"id": str(bob.pk), "type": "user"},
                      timeout=10).status_code == 201
    assert graph.post(f"{url}/groups/gwriters/members", json={"id": "not-a-guid", "type": "user"},
                      timeout=10).status_code == 400

    def put(item_id, acl):
        assert graph.put(f"{url}/items/{item_id}", json=_item(acl, title=item_id), timeout=10).status_code == 200

    put("justann", [{"type": "user", "accessType": "grant", "value": str(ann.pk)}])
    put("writers", [{"type": "externalGroup", "accessType": "grant", "value": "gwriters"}])
    put("team", [{"type": "group", "accessType": "grant", "value": str(team.pk)}])
    put("allbutbob", [{"type": "everyone", "accessType": "grant", "value": str(tenant.pk)},
                      {"type": "user", "accessType": "deny", "value": str(bob.pk)}])

    def finds(user):
        return {hit.item_id for hit in visible_items(tenant, str(user.pk))}

    assert finds(ann) == {"justann", "allbutbob"}
    assert finds(bob) == {"writers"}
    assert finds(cat) == {"team", "allbutbob"}
    assert finds(dan) == {"allbutbob"}
    assert graph.delete(f"{url}/groups/gwriters/members/{bob.pk}", timeout=10).status_code == 204
    assert finds(bob) == set()
