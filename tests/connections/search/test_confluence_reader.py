"""The Confluence reader over real HTTPS against the sandbox: which seeded person may find which
page (restricted parents hide their subtree, group restrictions, anonymous spaces), unmapped
people never widen an ACL, blog posts, groups past 200 members, the preview and Confluence's own
CQL error, incremental reads with the time-zone overlap, dedup and trash, and Atlassian's 429."""

import datetime as dt

import pytest

from connections.search.identity import Identity, can_find, external_group_id, graph_acl
from connections.search.text import MAX_CONTENT_BYTES
from connections.search.types import EVERYONE, Principal, Scope
from sandbox import faults

from .conftest import FakeClock


def _crawl(reader, scope):
    items, cursor, pages = [], "", 0
    while True:
        page = reader.items(scope, cursor)
        items += page.items
        pages += 1
        cursor = page.cursor
        if not cursor:
            return items, pages


def _groups_of(reader):
    groups = {}
    for group in reader.groups():
        for account_id in group.member_account_ids:
            groups.setdefault(account_id, set()).add(group.id)
    return groups


def test_who_finds_what_follows_confluence_not_microsofts_connector(search_world):
    w = search_world
    reader = w.reader()
    items, _pages = _crawl(reader, Scope(space_keys=("ENG", "HR", "PUB")))
    by_title = {i.title: i for i in items}
    # Every page and blog post of the three spaces, once.
    assert len(items) == len(by_title) == 60 + 12 + 6
    assert sum(i.kind == "blogpost" for i in items) == 3
    groups = _groups_of(reader)
    people = {
        "ada": w.account("ada.admin@acme.example"),
        "bea": w.account("Bea.Member@Acme.example"),
        "hal": w.account("hal.hidden@acme.example"),
        "sam": w.account("shared@acme.example") if False else None,
    }
    from sandbox.atlassian.models import Account

    people["sam"] = Account.objects.get(display_name="Sam Shared").account_id

    def who(title):
        return {name for name, account in people.items() if can_find(by_title[title].acl, account, groups)}

    assert who("Engineering page 1") == {"ada", "bea", "hal", "sam"}  # the space's readers
    # The restricted parent (engineering-leads: Ada and Hal) and its children, which list no
    # restriction of their own: Microsoft's connector would show them to the whole space.
    assert who("Engineering page 5") == {"ada", "hal"}
    assert who("Engineering page 15") == who("Engineering page 16") == {"ada", "hal"}
    # A grandchild under a page narrowed to Ada: every level applies.
    assert who("Engineering page 42") == {"ada"}
    assert who("Engineering page 31") == {"sam"}  # a page for the contractors group only
    assert who("People page 1") == {"ada", "bea"}  # HR: restricted to Ada and the hr group
    # Restricted to Hal, who cannot read the HR space: nobody (fail closed), not everybody.
    assert by_title["People page 2"].acl == ()
    assert who("People page 3") == {"ada", "bea"}  # the hr group reads the space
    assert by_title["Public handbook page 1"].acl == (EVERYONE,)
    # With no restriction anywhere the ACL names the space's groups (indexed as external groups).
    unrestricted = by_title["Engineering page 1"].acl
    assert any(p.kind == "group" and p.name == "confluence-users" for p in unrestricted)


def test_items_carry_text_and_properties(search_world):
    w = search_world
    reader = w.reader()
    items, _ = _crawl(reader, Scope(space_keys=("ENG",)))
    post = next(i for i in items if i.kind == "blogpost")
    page = next(i for i in items if i.title == "Engineering page 2")
    assert page.body_text == "Engineering page 2.\nSeeded."  # macro markup gone, its text kept
    assert page.url.endswith(f"/sites/acme/wiki/spaces/ENG/pages/{page.id}")
    assert post.url.endswith(f"/spaces/ENG/blog/{post.id}") and post.title.startswith("Engineering post")
    assert page.created_by.display_name == "Ada Admin" and page.last_modified_by.display_name == "Ada Admin"
    assert page.authors == (page.created_by,)
    assert page.space_key == "ENG" and page.space_name == "Engineering" and page.version >= 1
    assert page.created.tzinfo is not None and page.last_modified >= page.created
    assert page.icon_url.endswith("page_16.svg") and post.icon_url.endswith("blog_post_16.svg")


def test_text_is_capped_at_graphs_item_size(search_world):
    w = search_world
    big = w.page("Engineering page 3")
    big.body = "<p>" + ("é" * 2_100_000) + "</p>"
    big.save()
    item = next(i for i in _crawl(w.reader(), Scope(space_keys=("ENG",)))[0] if i.id == str(big.page_id))
    assert len(item.body_text.encode()) <= MAX_CONTENT_BYTES and item.body_text.startswith("éé")


def test_an_unmapped_person_is_dropped_never_widened(search_world):
    from connections.models import UserMatch

    w = search_world
    reader = w.reader()
    items, _ = _crawl(reader, Scope(space_keys=("ENG", "HR")))
    by_title = {i.title: i for i in items}
    ada, hal = w.account("ada.admin@acme.example"), w.account("hal.hidden@acme.example")
    UserMatch.objects.create(connection=w.connection, account_id=ada, outcome="matched", microsoft_user_id="ms-ada")
    UserMatch.objects.create(connection=w.connection, account_id=hal, outcome="hidden")
    identity = Identity.for_connection(w.connection)
    leads = graph_acl(by_title["Engineering page 15"].acl, identity, "tenant-1")
    assert leads == [{"type": "user", "value": "ms-ada", "accessType": "grant"}]
    assert hal in identity.unmapped
    assert graph_acl(by_title["People page 2"].acl, identity, "tenant-1") == []  # nobody, not everyone
    everyone = graph_acl(by_title["Engineering page 1"].acl, identity, "tenant-1")
    group = next(p for p in by_title["Engineering page 1"].acl if p.kind == "group")
    assert {"type": "externalGroup", "value": external_group_id(group.id), "accessType": "grant"} in everyone
    assert external_group_id(group.id).isalnum() and len(external_group_id(group.id)) <= 128
    anonymous = graph_acl((EVERYONE,), identity, "tenant-1", everyone_except_guests=True)
    assert anonymous == [{"type": "everyoneExceptGuests", "value": "tenant-1", "accessType": "grant"}]
    # Deny wins over grant.
    assert not can_find((Principal("user", ada), Principal("user", ada, access="deny")), ada, {})


def test_strict_mode_maps_only_emails_that_are_upns(search_world):
    from connections.matching import keys
    from connections.models import MicrosoftUserKey

    w = search_world
    reader = w.reader()
    people = list(reader.users())
    hal = next(p for p in people if p.display_name == "Hal Hidden")
    assert hal.email == ""  # the profile hides it
    ada = next(p for p in people if p.display_name == "Ada Admin")
    bea = next(p for p in people if p.display_name == "Bea Member")
    MicrosoftUserKey.objects.create(connection=w.connection, user_id="ms-ada",
                                    digest=keys.digest("ada.admin@acme.example"), kinds=MicrosoftUserKey.UPN)
    # Bea's address is a Microsoft user's mail but not its UPN: Microsoft's rule does not map it.
    MicrosoftUserKey.objects.create(connection=w.connection, user_id="ms-bea",
                                    digest=keys.digest("bea.member@acme.example"), kinds=MicrosoftUserKey.MAIL)
    identity = Identity.for_connection(w.connection, mode="strict", people=people)
    assert identity.entra_id(ada.account_id) == "ms-ada"
    assert identity.entra_id(bea.account_id) is None and identity.entra_id(hal.account_id) is None
    assert {bea.account_id, hal.account_id} <= identity.unmapped


def test_groups_are_read_past_200_members(search_world):
    from sandbox.atlassian.models import Account, Group, Site

    w = search_world
    acme = Site.objects.get(name="acme")
    big = Group.objects.create(site=acme, group_id="0f0f0f0f-0000-4000-8000-000000000450", name="everybody-450")
    made = Account.objects.bulk_create(
        [Account(account_id=f"557058:many-{n:04d}", email=f"many{n}@acme.example", display_name=f"Many {n}")
         for n in range(450)]
    )
    big.members.add(*made)
    reader = w.reader()
    found = {g.name: g for g in reader.groups()}
    assert len(found["everybody-450"].member_account_ids) == 450
    assert set(found["hr"].member_account_ids) == {w.account("ada.admin@acme.example"),
                                                   w.account("Bea.Member@Acme.example")}
    assert external_group_id(found["everybody-450"].id) == "g0f0f0f0f000040008000000000000450"


def test_preview_shows_the_total_and_samples_and_confluences_own_cql_error(search_world):
    w = search_world
    reader = w.reader()
    preview = reader.preview(Scope(space_keys=("ENG",), cql='title ~ "page"'))
    assert preview.error == "" and preview.total == 57 and len(preview.samples) == 5
    assert all(s.space_key == "ENG" and s.kind == "page" and s.body_text for s in preview.samples)
    bad = reader.preview(Scope(space_keys=("ENG",), cql="title ~~ ("))
    assert bad.total == 0 and bad.samples == ()
    assert bad.error.startswith("Could not parse cql : type in (page, blogpost)")


def test_the_cql_filter_narrows_the_full_crawl(search_world):
    w = search_world
    items, _ = _crawl(w.reader(), Scope(space_keys=("ENG",), cql="type = blogpost"))
    assert [i.kind for i in items] == ["blogpost"] * 3


def test_incremental_finds_an_edit_despite_the_time_zone_and_reports_trash(search_world, settings):
    from django.utils import timezone

    from sandbox.atlassian.models import Page

    w = search_world
    scope = Scope(space_keys=("ENG",))
    Page.objects.filter(space__key="ENG").update(modified_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    last_run = timezone.now() - dt.timedelta(hours=1)
    edited = w.page("Engineering page 7")
    edited.title, edited.version, edited.modified_at = "Engineering page 7 (edited)", edited.version + 1, timezone.now()
    edited.save()
    # Without an overlap the edit is lost: Confluence reads the date in Ada's time zone (Los Angeles).
    settings.SEARCH_CQL_OVERLAP_HOURS = 0
    assert w.reader().changed_since(scope, last_run).items == ()
    settings.SEARCH_CQL_OVERLAP_HOURS = 24
    reader = w.reader()
    page = reader.changed_since(scope, last_run)
    assert [(i.title, i.version) for i in page.items] == [("Engineering page 7 (edited)", edited.version)]
    assert page.items[0].acl  # computed fail closed like a full crawl
    # The next run's window overlaps this one: the same (id, version) is not read again.
    again = reader.changed_since(scope, last_run)
    assert again.items == () and reader.stats.duplicates == 1
    fresh = w.reader().changed_since(scope, last_run, indexed_versions={str(edited.page_id): edited.version})
    assert fresh.items == ()
    trashed = w.page("Engineering page 8")
    trashed.status = "trashed"
    trashed.save()
    assert list(reader.trashed_ids(scope)) == [("page", str(trashed.page_id))]
    assert all(i.id != str(trashed.page_id) for i in _crawl(w.reader(), scope)[0])


@pytest.mark.parametrize("retry_after", ["7", ""])
def test_atlassian_429_with_or_without_retry_after(search_world, retry_after):
    w = search_world
    target = faults.site_target("acme")
    if retry_after:
        faults.set_fault("rate_limit", target, limit=0, window=7)
    else:
        faults.set_fault("error_rate", target, share=1, status=429, retry_after="")
    clock = FakeClock(on_sleep=lambda: faults.clear(target=target))
    reader = w.reader(clock=clock)
    spaces = reader.spaces(Scope(space_keys=("ENG",)))
    assert [s["key"] for s in spaces] == ["ENG"]
    if retry_after:
        assert clock.slept and abs(sum(clock.slept) - 7) < 1.01  # exactly what Atlassian asked
    else:
        assert clock.slept and 0 <= clock.slept[0] <= 0.5  # a jittered first backoff


def test_a_very_long_retry_after_gives_the_run_back_instead_of_hanging(search_world):
    from connections.search.confluence import ConfluenceUnavailable

    w = search_world
    faults.set_fault("rate_limit", faults.site_target("acme"), limit=0, window=3600)
    clock = FakeClock()
    with pytest.raises(ConfluenceUnavailable) as raised:
        w.reader(clock=clock).spaces(Scope())
    assert raised.value.transient and sum(clock.slept) == 0


def test_a_reader_resumed_from_its_cursor_continues_without_duplicates_or_looser_acls(search_world, monkeypatch):
    from connections.search import confluence

    w = search_world
    monkeypatch.setattr(confluence, "LIST_LIMIT", 10)  # ENG's tree spans several listing pages
    scope = Scope(space_keys=("ENG", "PUB"))
    whole, _pages = _crawl(w.reader(), scope)
    first = w.reader()
    done, cursor = [], ""
    for _ in range(3):  # a worker that dies after three pages, mid-space
        page = first.items(scope, cursor)
        done += page.items
        cursor = page.cursor
    # A new process: nothing cached, only the checkpoint's cursor.
    rest, _ = _crawl_from(w.reader(), scope, cursor)
    resumed = done + rest
    assert [i.id for i in resumed] == [i.id for i in whole]
    assert {i.id: i.acl for i in resumed} == {i.id: i.acl for i in whole}


def _crawl_from(reader, scope, cursor):
    items = []
    while cursor:
        page = reader.items(scope, cursor)
        items += page.items
        cursor = page.cursor
    return items, None


def test_a_long_crawl_gets_a_new_client_and_token_before_the_old_one_goes_stale(search_world, monkeypatch):
    from connections.atlassian import refresh
    from connections.search import confluence

    built = []
    real = refresh.confluence_for
    monkeypatch.setattr(refresh, "confluence_for", lambda site: built.append(site) or real(site))
    reader = search_world.reader()
    reader.connect()
    first = reader.confluence
    reader.connect()
    assert reader.confluence is first and len(built) == 1  # within CLIENT_MAX_AGE: kept

    # An hour's crawl: each connect() past the age builds the client again from the stored
    # credential (refresh.confluence_for refreshes an OAuth token that is about to go stale).
    monkeypatch.setattr(confluence, "CLIENT_MAX_AGE", -1)
    reader.connect()
    assert reader.confluence is not first and len(built) == 2
    assert [g.name for g in reader.groups()]  # and the new client reads
