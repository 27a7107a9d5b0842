"""Confluence to Microsoft Search end to end, through the real flows: the acme site authorized by
OAuth with the feature's scopes, Contoso's admin consent, the real Confluence reader over HTTPS
against the sandbox's Confluence, and the Graph connector against the sandbox's Microsoft Search.
Who finds what is asked of the sandbox's index, person by person: a restricted parent hides its
children, a page narrowed to one person is that person's, an anonymous space is everyone's, and
a page only someone without a Microsoft match may read is nobody's."""

from django.utils import timezone

from connections.models import SearchConnection, SkippedItem, SyncRun
from connections.search import services
from sandbox.atlassian.models import Page
from sandbox.microsoft.search_index import indexed_items, visible_items
from tests.connections.health.conftest import connected  # noqa: F401 (fixture)

from .acme import acme_search  # noqa: F401 (fixture)


def _descendants(root):
    found, frontier = set(), [root]
    while frontier:
        children = list(Page.objects.filter(parent__in=frontier))
        found.update(children)
        frontier = children
    return found


def _item(page):
    return f"{page.type}{page.page_id}"


def test_a_full_crawl_through_the_real_reader_indexes_each_page_for_exactly_its_readers(acme_search):  # noqa: F811
    world, connection, people = acme_search
    steps = {
        "connection": {"name": "Acme wiki", "graph_connection_id": "acmewiki", "description": ""},
        "properties": {"properties": ["title", "url", "authors", "spaceName", "lastModifiedDateTime"]},
        "filter": {"space_keys": ["ENG", "HR", "PUB"], "cql": ""},
        "permissions": {"permission_mode": "access", "identity_type": "entra", "upn_pattern": "",
                        "upn_formula": "", "anonymous_except_guests": False},
        "refresh": {"full_every_minutes": 1440, "incremental_every_minutes": 60, "permissions_every_minutes": 360},
    }
    for step, values in steps.items():
        services.search_save_step(connection=connection, step=step, values=values, acting_user=world.admin)
    services.search_publish(connection=connection, acting_user=world.admin)
    search = SearchConnection.objects.get(connection=connection)
    crawl = SyncRun.objects.filter(connection=connection, kind=SyncRun.Kind.SEARCH_CRAWL).first()
    assert crawl is not None and crawl.state == SyncRun.State.SUCCEEDED, (crawl and crawl.error, search.error)

    pages = {p.page_id: p for p in Page.objects.filter(space__key__in=["ENG", "HR", "PUB"], status="current")}
    eng = sorted((p for p in pages.values() if p.space.key == "ENG"), key=lambda p: p.page_id)
    restricted_parent = eng[4]
    leads_only = {restricted_parent, *_descendants(restricted_parent)}
    ada_only = {eng[13], *_descendants(eng[13])}  # narrowed to Ada, and so is what lies below it
    contractors = eng[30]
    public = {p for p in pages.values() if p.space.key == "PUB"}

    def finds(key):
        return {hit.item_id for hit in visible_items(world.sandbox.tenant("contoso"), str(people[key].pk))}

    ada, bea, hal, sam = finds("admin"), finds("mixed-case"), finds("hidden-email"), finds("shared-email-1")
    # The restricted parent hides its children from everyone outside the engineering leads.
    assert {_item(p) for p in leads_only} <= ada
    assert not {_item(p) for p in leads_only} & bea
    assert {_item(p) for p in leads_only - ada_only} <= hal and not {_item(p) for p in ada_only} & hal
    # One group only.
    assert _item(contractors) in sam and _item(contractors) not in bea
    # An anonymous space: everyone in the tenant, even someone Confluence does not know.
    guest = world.sandbox.tenant("contoso").users.filter(user_type="Guest").first()
    assert {_item(p) for p in public} <= {h.item_id for h in visible_items(world.sandbox.tenant("contoso"),
                                                                            str(guest.pk))}
    # HR: the hr group only.
    hr = {_item(p) for p in pages.values() if p.space.key == "HR"}
    assert not hr & hal and not hr & sam and hr & bea
    search.refresh_from_db()
    assert search.items_indexed >= len(pages) - 1
    assert search.unmapped_principals > 0  # Confluence people without a Microsoft match are counted
    assert not SkippedItem.objects.filter(search=search, reason=SkippedItem.Reason.REFUSED).exists()
    # A page restricted to someone outside its space: nobody may read it, so nobody finds it.
    hr_pages = sorted((p for p in pages.values() if p.space.key == "HR"), key=lambda p: p.page_id)
    assert SkippedItem.objects.get(search=search, item_id=_item(hr_pages[1])).reason == (
        SkippedItem.Reason.NO_MAPPED_READER)

    # Incremental, through the reader's CQL: an edit arrives, a trashed page leaves the index.
    edited, trashed = eng[1], eng[2]
    Page.objects.filter(pk=edited.pk).update(version=edited.version + 1, modified_at=timezone.now(),
                                             body="<p>Edited for the incremental crawl.</p>")
    Page.objects.filter(pk=trashed.pk).update(status="trashed", modified_at=timezone.now())
    incremental = services.search_run_start(connection=connection, what="incremental", acting_user=world.admin)
    incremental.refresh_from_db()
    assert incremental.state == SyncRun.State.SUCCEEDED, incremental.error
    index = indexed_items(world.sandbox.tenant("contoso"), "acmewiki")
    assert "Edited for the incremental crawl." in index[_item(edited)].content["value"]
    assert _item(trashed) not in index
    assert incremental.updated >= 1 and incremental.deleted == 1
