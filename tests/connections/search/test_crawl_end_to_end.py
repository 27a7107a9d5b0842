"""The whole connector on the real reader: the sandbox's Confluence site acme (API token) read by
connections.search.confluence, indexed by the crawl into the sandbox's Microsoft Search, then
asked per person which pages they find."""

import pytest

from connections import throttle
from connections.microsoft import graph
from connections.models import MatchOutcome, SearchConnection, UnmappedPrincipal, UserMatch
from tests.connections.declared import atlassian_calls, undeclared_atlassian
from tests.connections.search_graph.conftest import SearchWorld as GraphWorld


@pytest.fixture
def e2e(search_world, settings):
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph.forget_tokens()
    settings.SEARCH_SOURCE = "connections.search.confluence.source_for"
    settings.SEARCH_SCHEMA_POLL = 0.2
    settings.SYNC_TENANT_RATE, settings.SYNC_TENANT_BURST = 500.0, 500
    w = search_world
    users = list(w.sandbox.tenant("fabrikam").users.filter(deleted=False, user_type="Member")
                 .order_by("user_principal_name")[:4])
    people = dict(zip(("ada", "bea", "hal", "dan"), users, strict=True))
    for who, email in (("ada", "ada.admin@acme.example"), ("bea", "Bea.Member@Acme.example"),
                       ("hal", "hal.hidden@acme.example")):
        UserMatch.objects.create(connection=w.connection, account_id=w.account(email), display_name=who,
                                 outcome=MatchOutcome.MATCHED, microsoft_user_id=str(people[who].pk))
    world = GraphWorld(w.sandbox, w.organization, w.admin, w.connection, file=None, people=people)
    yield world, w
    throttle.default_store().clear()


def test_a_full_crawl_indexes_exactly_who_may_read_each_page(e2e):
    world, w = e2e
    world.setup(properties=["title", "url", "authors", "lastModifiedDateTime", "spaceKey", "contentType"])
    from connections.search import services

    services.search_save_step(connection=world.connection, step="filter",
                              values={"space_keys": ["ENG", "HR", "PUB"], "cql": ""}, acting_user=world.admin)
    search = world.publish()
    assert search.state == SearchConnection.State.INDEXED, (search.error, search.remedy)

    def gid(title):
        page = w.page(title)
        return f"{page.type}{page.page_id}"

    indexed = world.indexed()
    # Not indexed: "People page 2" (readable by nobody) and "Engineering page 31" (its only reader
    # has no Microsoft account): an item nobody may find is never published to anyone.
    assert len(indexed) == 60 + 12 + 6 - 2 and gid("People page 2") not in indexed
    ada, bea, hal, dan = (world.finds(p) for p in ("ada", "bea", "hal", "dan"))
    top, leads, child, grandchild = (gid(t) for t in ("Engineering page 1", "Engineering page 5",
                                                      "Engineering page 15", "Engineering page 42"))
    assert top in ada & bea & hal and top not in dan
    # The restricted parent hides its children from Bea, though they list no restriction themselves.
    assert {leads, child} <= ada & hal and not {leads, child} & bea
    assert grandchild in ada and grandchild not in hal | bea
    # The contractors' page: its only reader (Sam) has no Microsoft account, so nobody finds it.
    contractors = gid("Engineering page 31")
    assert not any(contractors in found for found in (ada, bea, hal, dan))
    assert UnmappedPrincipal.objects.filter(search=world.search).exists()
    # The anonymous space: everyone in the tenant, matched or not.
    handbook = gid("Public handbook page 1")
    assert handbook in ada & bea & hal & dan
    assert gid("People page 1") in ada & bea and gid("People page 1") not in hal
    assert indexed[gid("Engineering page 2")].properties["spaceKey"] == "ENG"
    # Every Confluence request of the crawl is a declared endpoint (the consent pages and the
    # data-handling statement are generated from those declarations).
    calls = list(atlassian_calls())
    assert {path for _, path, _ in calls} >= {"/wiki/rest/api/group", "/wiki/api/v2/users-bulk"}
    undeclared, extra_fields = undeclared_atlassian(calls)
    assert not undeclared and not extra_fields, (undeclared, extra_fields)


def test_an_incremental_crawl_reads_the_acl_of_new_pages_only_and_keeps_restrictions(e2e):
    """A page edited since the full crawl is sent with the ACL last sent; a page created since is
    sent with its own, its restricted parent's included."""
    from django.utils import timezone

    from sandbox.atlassian.models import Page

    world, w = e2e
    world.setup()
    search = world.publish()
    assert search.state == SearchConnection.State.INDEXED, (search.error, search.remedy)
    parent = w.page("Engineering page 5")  # restricted to the leads: Bea may not read below it
    edited = w.page("Engineering page 42")  # restricted itself; no ancestor of the new page
    now = timezone.now()
    Page.objects.filter(pk=edited.pk).update(version=edited.version + 1, title="Engineering page 42 (edited)",
                                             modified_at=now)
    newest = Page.objects.order_by("-page_id").values_list("page_id", flat=True).first()
    born = Page.objects.create(
        site=parent.site, space=parent.space, page_id=newest + 1, type="page", title="Engineering page new",
        body="<p>New</p>", author_id=parent.author_id, created_at=now, modified_at=now, version=1, parent_id=parent.pk,
    )
    restriction_reads = len(world.sandbox.requests(path_contains="/restriction/byOperation/read"))
    run = world.crawl("incremental")
    assert run.state == "succeeded", (run.error, run.remedy)
    indexed = world.indexed()
    assert indexed[f"page{edited.page_id}"].properties["title"] == "Engineering page 42 (edited)"
    assert f"page{edited.page_id}" in world.finds("ada") and f"page{edited.page_id}" not in world.finds("hal")
    new_id = f"page{born.page_id}"
    assert new_id in world.finds("ada") & world.finds("hal") and new_id not in world.finds("bea")
    # Restrictions were read for the new page and its ancestors, not for the edited one.
    reads = [r.path for r in world.sandbox.requests(path_contains="/restriction/byOperation/read")][restriction_reads:]
    assert any(f"/content/{born.page_id}/" in path for path in reads)
    assert not any(f"/content/{edited.page_id}/" in path for path in reads)
