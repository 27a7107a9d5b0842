"""The Graph side of Confluence in Microsoft Search, through the sandbox over real HTTPS: setup
(idempotent creation, schema operation polled), full crawl with ACLs asserted per user, deletions,
incremental and permissions crawls, Graph throttling, disconnect."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.health.services import health_checks_run
from connections.models import IndexedItem, SearchConnection, SkippedItem, SyncRun, UnmappedPrincipal
from connections.search import services
from connections.sync import schedules
from sandbox.microsoft.search_models import ExternalConnection, SearchFaults

from .memory_source import page

WRITERS = "5b0c1e52-6d1f-4a43-9c2e-0d3c7e1a9f10"
WRITERS_EXTERNAL = "g5b0c1e526d1f4a439c2e0d3c7e1a9f10"


def _confluence(world, **changes):
    items = {
        "1": page(1, acl=[("group", WRITERS)]),
        "2": page(2, acl=[("user", "acc-bob")]),
        "3": page(3, acl=[("everyone", "")], space="PUB"),
        "4": page(4, acl=[("user", "acc-nomatch")]),
        "5": page(5, acl=[("everyone", ""), ("deny", "acc-cat")], space="PUB"),
        "6": page(6, kind="blogpost", title="Überblick", acl=[("user", "acc-ann"), ("user", "acc-cat")]),
    }
    items.update(changes.pop("items", {}))
    groups = changes.pop("groups", [{"id": WRITERS, "name": "writers", "members": ["acc-ann", "acc-nomatch"]}])
    world.confluence(items=[v for v in items.values() if v], groups=groups, **changes)


def _published(world, **setup):
    _confluence(world)
    world.setup(**setup)
    world.publish()
    search = world.search
    assert search.state == SearchConnection.State.INDEXED, (search.error, search.remedy)
    return search


def test_publishing_creates_the_connection_registers_the_schema_and_indexes_exactly_who_may_read(search_world):
    world = search_world
    search = _published(world)
    setup = SyncRun.objects.get(connection=world.connection, kind=SyncRun.Kind.SEARCH_SETUP)
    assert setup.state == SyncRun.State.SUCCEEDED
    polls = world.sandbox.requests(path_contains="/external/connections/confluencewiki/operations/", method="GET")
    assert polls and len(world.sandbox.requests(path_contains="/confluencewiki/schema", method="PATCH")) == 1
    graph_connection = ExternalConnection.objects.get(connection_id="confluencewiki")
    assert graph_connection.state == "ready" and graph_connection.name == "Confluence wiki"
    assert {p["name"] for p in graph_connection.schema} == {
        "title", "url", "authors", "lastModifiedDateTime", "spaceKey", "contentType"}

    assert set(world.indexed()) == {"page1", "page2", "page3", "page5", "blogpost6"}
    # Per person: groups become external groups, anonymous spaces everyone, deny beats grant,
    # and a page only an unmatched person may read is in nobody's results.
    assert world.finds("ann") == {"page1", "page3", "page5", "blogpost6"}
    assert world.finds("bob") == {"page2", "page3", "page5"}
    assert world.finds("cat") == {"page3", "blogpost6"}
    assert world.finds("dan") == {"page3", "page5"}

    item = world.indexed()["blogpost6"]
    assert item.properties["title"] == "Überblick" and item.properties["title@odata.type"] == "String"
    assert item.properties["authors"] == ["Åsa Author"]
    assert item.properties["contentType"] == "blogpost" and "createdBy" not in item.properties
    assert item.content == {"type": "text", "value": "Some text"}

    search.refresh_from_db()
    assert (search.items_indexed, search.items_skipped, search.unmapped_principals) == (5, 1, 1)
    skipped = SkippedItem.objects.get(search=search)
    assert (skipped.item_id, skipped.reason) == ("page4", SkippedItem.Reason.NO_MAPPED_READER)
    assert list(UnmappedPrincipal.objects.filter(search=search).values_list("account_id", flat=True)) == [
        "acc-nomatch"]
    assert search.last_full_at and search.last_permissions_at


def test_a_retry_after_the_documented_503_gets_409_and_goes_on_with_our_connection(search_world):
    world = search_world
    SearchFaults.objects.create(tenant=world.ms_tenant, create_503=1)
    _published(world)
    posts = [r.status for r in world.sandbox.requests(path_contains="/v1.0/external/connections", method="POST")
             if r.path.endswith("/external/connections")]
    assert posts == [503, 409]
    assert len(world.indexed()) == 5


def test_a_connection_id_taken_by_another_connection_fails_with_a_remedy(search_world):
    world = search_world
    ExternalConnection.objects.create(tenant=world.ms_tenant, connection_id="confluencewiki", name="Someone else's",
                                      owner_app_id=world.sandbox.client_id)
    _confluence(world)
    world.setup()
    world.publish()
    search = world.search
    assert search.error_code == "conflict" and "another connection id" in search.remedy
    assert SyncRun.objects.get(kind=SyncRun.Kind.SEARCH_SETUP).state == SyncRun.State.FAILED


def test_a_failed_schema_operation_is_shown_with_what_to_do(search_world):
    world = search_world
    SearchFaults.objects.create(tenant=world.ms_tenant, schema_fails=True, schema_seconds=0.5)
    _confluence(world)
    world.setup()
    world.publish()
    search = world.search
    assert search.state == SearchConnection.State.FAILED and search.schema_status == "failed"
    assert "could not be provisioned" in search.error and "step 2" in search.remedy
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.SEARCH_CRAWL).exists()


def test_a_deleted_page_leaves_the_index_on_the_next_full_crawl_and_unchanged_ones_are_not_sent(search_world):
    world = search_world
    _published(world)
    _confluence(world, items={"2": None})
    run = world.crawl("full")
    assert run.state == SyncRun.State.SUCCEEDED and run.deleted == 1 and run.unchanged == 4
    assert set(world.indexed()) == {"page1", "page3", "page5", "blogpost6"}
    assert {i.puts for i in world.indexed().values()} == {1}
    assert not IndexedItem.objects.filter(item_id="page2").exists()
    assert "page2" not in world.finds("bob")


def test_incremental_sends_edits_and_removes_trashed_pages(search_world):
    world = search_world
    _published(world)
    _confluence(world, items={"1": page(1, version=2, body="Edited", acl=[("group", WRITERS)],
                                        modified="2999-01-01T00:00:00+00:00")},
                trashed=[("page", "3")])
    run = world.crawl("incremental")
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    indexed = world.indexed()
    assert indexed["page1"].content["value"] == "Edited" and indexed["page1"].puts == 2
    assert "page3" not in indexed and indexed["page2"].puts == 1
    assert world.finds("ann") == {"page1", "page5", "blogpost6"}
    assert world.search.last_incremental_at


def test_an_incremental_page_reads_its_items_rows_in_the_index_once(search_world):
    world = search_world
    _published(world)
    _confluence(world, items={"1": page(1, version=2, body="Edited", acl=[("group", WRITERS)],
                                        modified="2999-01-01T00:00:00+00:00")})
    table = IndexedItem._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        run = world.crawl("incremental")
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    reads = [q["sql"] for q in queries.captured_queries
             if q["sql"].startswith("SELECT") and table in q["sql"] and ' IN (' in q["sql"]]
    assert len(reads) == 1, reads  # one page changed: its rows give both the ACL to reuse and what changed
    assert world.indexed()["page1"].content["value"] == "Edited"


def test_the_permissions_crawl_changes_who_finds_what_without_resending_the_rest(search_world):
    world = search_world
    _published(world)
    _confluence(world, items={"2": page(2, acl=[("user", "acc-cat")])},
                groups=[{"id": WRITERS, "name": "writers", "members": ["acc-bob"]}])
    run = world.run(SyncRun.Kind.SEARCH_PERMISSIONS)
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert "page1" not in world.finds("ann") and "page1" in world.finds("bob")
    assert "page2" in world.finds("cat") and "page2" not in world.finds("bob")
    indexed = world.indexed()
    assert indexed["page2"].puts == 2 and indexed["page1"].puts == 1  # group membership, not the item, changed


def test_graph_throttling_is_honoured_and_every_item_still_arrives(search_world):
    world = search_world
    SearchFaults.objects.create(tenant=world.ms_tenant, ingest_rate=2)
    _published(world)
    throttled = [r for r in world.sandbox.requests(path_contains="/confluencewiki/", method="PUT") if r.status == 429]
    assert throttled
    assert len(world.indexed()) == 5


def test_disconnect_keeps_the_index_unless_asked_to_remove_it(search_world):
    world = search_world
    _published(world)
    services.search_disconnect(connection=world.connection, remove_index=False, acting_user=world.admin)
    assert world.search.state == SearchConnection.State.DISCONNECTED
    assert len(world.indexed()) == 5 and world.finds("bob") == {"page2", "page3", "page5"}
    assert not world.connection.sync_schedules.filter(enabled=True, kind__startswith="search").exists()
    world.publish()
    assert world.search.state == SearchConnection.State.INDEXED
    services.search_disconnect(connection=world.connection, remove_index=True, acting_user=world.admin)
    assert not ExternalConnection.objects.filter(connection_id="confluencewiki").exists()
    assert world.finds("bob") == set() and not IndexedItem.objects.exists()


def test_the_health_check_says_when_the_index_is_gone(search_world):
    world = search_world
    _published(world)

    def check():
        results = {f"{r.feature}/{r.check_name}": r for r in health_checks_run(connection=world.connection)}
        return results["confluence_search/search_connection"]

    assert check().outcome == "passed"
    ExternalConnection.objects.filter(connection_id="confluencewiki").delete()  # removed in Microsoft 365
    gone = check()
    assert gone.outcome == "failed" and "confluencewiki is gone" in gone.message
    assert gone.remedy == "Publish Microsoft Search again from its page."


def test_a_page_over_four_megabytes_is_indexed_with_its_text_cut_and_says_so(search_world):
    world = search_world
    _confluence(world, items={"7": page(7, acl=[("user", "acc-ann")], body="ä" * 2_500_000)})  # 5 MB of UTF-8
    world.setup()
    world.publish()
    item = world.indexed()["page7"]
    assert 1_000_000 < len(item.content["value"].encode()) < 4_000_000
    skipped = SkippedItem.objects.get(item_id="page7")
    assert skipped.reason == SkippedItem.Reason.TRUNCATED
    assert world.search.items_skipped == 1  # page4 only: a cut page is indexed, and listed
    assert "page7" in world.finds("ann")


def test_a_deny_for_someone_without_a_match_keeps_the_page_out_rather_than_open(search_world):
    world = search_world
    _confluence(world, items={"8": page(8, acl=[("everyone", ""), ("deny", "acc-nomatch")])})
    world.setup()
    world.publish()
    assert "page8" not in world.indexed()
    assert SkippedItem.objects.get(item_id="page8").reason == SkippedItem.Reason.NO_MAPPED_READER


def test_a_property_added_after_publishing_is_registered_and_every_item_sent_again(search_world):
    world = search_world
    _published(world)
    services.search_save_step(connection=world.connection, step="properties", acting_user=world.admin,
                              values={"properties": ["title", "url", "authors", "lastModifiedDateTime", "spaceKey",
                                                     "contentType", "spaceName"]})
    graph_connection = ExternalConnection.objects.get(connection_id="confluencewiki")
    assert "spaceName" in {p["name"] for p in graph_connection.schema}
    indexed = world.indexed()
    assert indexed["page1"].properties["spaceName"] == "ENG space" and indexed["page1"].puts == 2
    assert world.search.state == SearchConnection.State.INDEXED


def test_the_refresh_schedules_start_incremental_full_and_permissions_crawls_when_due(search_world):
    world = search_world
    _published(world)
    by_kind = {s.kind: s for s in world.connection.sync_schedules.all()}
    crawl, permissions = by_kind[SyncRun.Kind.SEARCH_CRAWL], by_kind[SyncRun.Kind.SEARCH_PERMISSIONS]
    assert (crawl.full_every_minutes, crawl.incremental_every_minutes) == (1440, 15)
    assert (permissions.full_every_minutes, permissions.incremental_every_minutes) == (360, 0)
    now = timezone.now()
    assert schedules.start_due(world.connection.pk, now=now) == []  # the first crawl has just run
    started = schedules.start_due(world.connection.pk, now=now + timedelta(minutes=16))
    assert [(r.kind, r.mode) for r in started] == [(SyncRun.Kind.SEARCH_CRAWL, "incremental")]
    later = schedules.start_due(world.connection.pk, now=now + timedelta(hours=7))
    assert {(r.kind, r.mode) for r in later} == {(SyncRun.Kind.SEARCH_CRAWL, "incremental"),
                                                 (SyncRun.Kind.SEARCH_PERMISSIONS, "full")}
    assert all(SyncRun.objects.get(pk=r.pk).state == SyncRun.State.SUCCEEDED for r in [*started, *later])
