"""The Microsoft Search jobs on the sync runner: setup (create the Graph connection, register the
schema, wait for its operation), the crawl (full or incremental) and the permissions crawl.

Every step is idempotent and checkpointed (RunContext.save_checkpoint inside ctx.batch()): a
worker killed anywhere resumes from the last committed page. Graph PUTs are idempotent by item
id, so a page redone after a crash replaces the same items and adds none; the portal's own table
of indexed items (IndexedItem) commits with the checkpoint, so its counts are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from requests import Response

from .. import throttle
from ..microsoft import search_endpoints as api
from ..microsoft.graph import Graph, GraphError
from ..models import (
    IndexedItem,
    ManualMapping,
    MatchOutcome,
    PushedGroup,
    SearchConnection,
    SkippedItem,
    SyncRun,
    UnmappedPrincipal,
    UserMatch,
)
from ..sync import prefetch
from ..sync.errors import JobError, RunWaits
from ..sync.services import sync_run_start
from . import errors, items, source
from .types import Page, Principal, Scope, SourceItem

DELETE_BATCH = 50


def _search(ctx) -> SearchConnection:
    search = SearchConnection.objects.filter(connection=ctx.connection).first()
    if search is None or not search.published:
        raise JobError("Microsoft Search is not set up on this connection.",
                       "Set it up and publish it in the Microsoft Search section first.")
    if search.state == SearchConnection.State.DISCONNECTED:
        raise JobError("Microsoft Search was disconnected on this connection.",
                       "Publish it again from the Microsoft Search section to index again.")
    return search


def _graph(ctx) -> Graph:
    try:
        # Microsoft Search counts a connection's items per second: the bucket keeps under that
        # rate and a 429's Retry-After is honoured, with no window learnt from the 429s.
        # Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits
        return Graph(ctx.connection, throttle=throttle.Throttle(
            rate=settings.SEARCH_INGEST_RATE, burst=settings.SEARCH_INGEST_BURST, learn_pace=False))
    except GraphError as exc:
        raise _job_error(None, exc) from exc


def _record(search: SearchConnection | None, found: errors.Problem) -> None:
    if search is None:
        return
    SearchConnection.objects.filter(pk=search.pk).update(
        error_code=found.code, error=found.message[:2000], remedy=found.remedy, error_at=timezone.now())


def _job_error(search, exc: GraphError) -> JobError:
    found = errors.from_graph(exc)
    _record(search, found)
    return JobError(found.message, found.remedy, transient=found.transient)


def _set(search: SearchConnection, **fields) -> None:
    for name, value in fields.items():
        setattr(search, name, value)
    SearchConnection.objects.filter(pk=search.pk).update(**fields)


# --- setup --------------------------------------------------------------------------------------


def setup(ctx) -> None:
    """Create the Graph connection (idempotent), register the schema, poll its operation until
    completed or failed, then start the first full crawl."""
    search = _search(ctx)
    graph = _graph(ctx)
    checkpoint = dict(ctx.checkpoint)
    try:
        if not checkpoint.get("created"):
            _create_connection(search, graph)
            with ctx.batch():
                ctx.save_checkpoint({**checkpoint, "created": True})
            checkpoint = dict(ctx.checkpoint)
        wanted = items.schema(search.properties, search.registered_properties)
        if not checkpoint.get("location"):
            if {p["name"] for p in wanted} <= set(search.registered_properties):
                location = ""  # nothing new to register
            else:
                _set(search, state=SearchConnection.State.PROVISIONING, schema_status="inprogress")
                location = api.register_schema(graph, search.graph_connection_id, wanted)
            with ctx.batch():
                _set(search, schema_operation_url=location)
                ctx.save_checkpoint({**checkpoint, "location": location or "-"})
            checkpoint = dict(ctx.checkpoint)
        location = checkpoint["location"]
        if location != "-":
            _poll(ctx, search, graph, location)
        _set(search, state=SearchConnection.State.READY if not search.last_full_at else SearchConnection.State.INDEXED,
             schema_status="completed", registered_properties=[p["name"] for p in wanted],
             error_code="", error="", remedy="")
    except GraphError as exc:
        if exc.code == "conflict":
            raise
        raise _job_error(search, exc) from exc
    _start_follow_up(ctx, SyncRun.Kind.SEARCH_CRAWL, SyncRun.Mode.FULL)


def _create_connection(search: SearchConnection, graph: Graph) -> None:
    """POST; a 409 is success when a GET shows the connection is ours (the same name), which is
    what a retry of a creation that answered 503 although it worked gets.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-external-post-connections (known issue)"""
    _set(search, state=SearchConnection.State.CREATING)
    response = api.create_connection(graph, connection_id=search.graph_connection_id, name=search.name,
                                     description=search.description or f"Confluence: {search.connection.site}")
    if response.status_code == 409:
        existing = api.get_connection(graph, search.graph_connection_id)
        if existing.get("name") != search.name:
            found = errors.problem("conflict", f"The connection id {search.graph_connection_id} is taken.")
            _record(search, found)
            raise JobError(found.message, found.remedy)
    _set(search, graph_connection_created=True)


def _poll(ctx, search: SearchConnection, graph: Graph, location: str) -> None:
    """Graph registers a schema asynchronously (5 to 15 minutes): poll the operation.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-connectionoperation-get"""
    started = time.monotonic()
    polls = 0
    while True:
        operation = api.get_operation(graph, location)
        status = operation.get("status")
        polls += 1
        if status == "completed":
            ctx.progress(done=1, total=1)
            return
        if status == "failed":
            message = ((operation.get("error") or {}).get("message")) or "the schema operation failed"
            _set(search, schema_status="failed", state=SearchConnection.State.FAILED)
            found = errors.problem("schema", f"Microsoft Search: {message}")
            _record(search, found)
            raise JobError(found.message, found.remedy)
        _set(search, schema_status="inprogress")
        if time.monotonic() - started > settings.SEARCH_SCHEMA_TIMEOUT:
            raise JobError("Microsoft Search is still registering the schema.",
                           "Retry the setup run later: it polls the same operation again.", transient=True)
        ctx.progress(done=0, total=1)  # also checks for cancel
        _sleep(ctx, settings.SEARCH_SCHEMA_POLL)


def _sleep(ctx, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(end - time.monotonic(), 0)))
        ctx.heartbeat()


def _start_follow_up(ctx, kind, mode) -> None:
    try:
        sync_run_start(connection=ctx.connection, kind=kind, mode=mode, trigger=SyncRun.Trigger.SCHEDULE)
    except Exception:  # noqa: BLE001 - a crawl already queued or running does the work
        ctx.logger.info("follow-up %s not started", kind)


# --- identity -------------------------------------------------------------------------------------


def _users(ctx) -> dict[str, str]:
    """Atlassian account id -> Entra object id, from the connection's user matching (manual
    mappings win). Account ids are the same across Jira and Confluence."""
    mapped = dict(UserMatch.objects.filter(connection=ctx.connection, outcome=MatchOutcome.MATCHED)
                  .exclude(microsoft_user_id="").values_list("account_id", "microsoft_user_id"))
    manual = ManualMapping.objects.filter(connection=ctx.connection)
    mapped.update(manual.values_list("account_id", "microsoft_user_id"))
    return mapped


def _note_unmapped(search, run_id, principals: Iterable[Principal]) -> None:
    users = [p for p in principals if p.kind == "user" and p.id]
    if not users:
        return
    names = dict(UserMatch.objects.filter(connection=search.connection, account_id__in=[p.id for p in users])
                 .values_list("account_id", "display_name"))
    UnmappedPrincipal.objects.bulk_create(
        [UnmappedPrincipal(search=search, account_id=p.id, display_name=names.get(p.id, p.name), run_id=run_id)
         for p in {p.id: p for p in users}.values()],
        ignore_conflicts=True,
    )


# --- groups -------------------------------------------------------------------------------------


def _push_groups(ctx, search, graph, src, users, generation) -> set[str]:
    """External groups for the Confluence groups, members as Entra ids; only differences are
    sent (PushedGroup keeps what was pushed). Groups gone from Confluence are deleted.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalgroup-post-members"""
    pushed = {g.group_id: g for g in PushedGroup.objects.filter(search=search)}
    groups: set[str] = set()
    connection_id = search.graph_connection_id
    for group in src.groups():
        gid = items.group_id(group.id)
        groups.add(gid)
        row = pushed.get(gid)
        if row is None:
            api.create_group(graph, connection_id, group_id=gid, display_name=group.name)
            row = PushedGroup.objects.create(search=search, group_id=gid, name=group.name, members=[])
            pushed[gid] = row
        wanted = sorted({users[a] for a in group.member_account_ids if a in users})
        unmapped = [Principal("user", a) for a in group.member_account_ids if a not in users]
        have = set(row.members)
        for member in wanted:
            if member not in have:
                api.add_member(graph, connection_id, gid, member_id=member)
        for member in sorted(have - set(wanted)):
            api.remove_member(graph, connection_id, gid, member)
        with ctx.batch():
            PushedGroup.objects.filter(pk=row.pk).update(members=wanted, seen_by_run=generation, name=group.name)
            _note_unmapped(search, ctx.run.pk, unmapped)
            ctx.check()
    for gid, row in pushed.items():
        if gid not in groups:
            api.delete_group(graph, connection_id, gid)
            row.delete()
    return groups


# --- items --------------------------------------------------------------------------------------


def _scope(search) -> Scope:
    return Scope(space_keys=tuple(search.space_keys or ()), cql=search.cql or "")


def _skip(search, run_id, item: SourceItem, reason, detail="") -> None:
    SkippedItem.objects.update_or_create(
        search=search, item_id=items.item_id(item.kind, item.id),
        defaults={"title": item.title[:255], "reason": reason, "detail": detail[:500], "run_id": run_id,
                  "at": timezone.now()},
    )


class _Prepared:
    """One page decided in the run's thread: the Graph requests to send and what their answers
    are recorded against (see _record_page)."""

    def __init__(self, graph: Graph, search: SearchConnection, generation: int) -> None:
        self.graph, self.search, self.generation = graph, search, generation
        self.counts = {"fetched": 0, "created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        self.seen: list[str] = []
        self.unmapped: list[Principal] = []
        self.gone: list[str] = []  # indexed, but nobody mapped may read it now
        self.puts: list[tuple[SourceItem, str, dict, bool, items.Acl, IndexedItem | None]] = []

    @property
    def requests(self) -> list[Callable[[], Response]]:
        connection_id = self.search.graph_connection_id
        sends: list[Callable[[], Response]] = [partial(api.put_item, self.graph, connection_id, iid, body)
                                               for _, iid, body, *_ in self.puts]
        sends.extend(partial(api.delete_item, self.graph, connection_id, iid) for iid in self.gone)
        return sends


def _known_rows(search, page_items) -> dict[str, IndexedItem]:
    """The index's rows of a page's items, by item id."""
    ids = [items.item_id(s.kind, s.id) for s in page_items]
    return {i.item_id: i for i in IndexedItem.objects.filter(search=search, item_id__in=ids)}


def _prepare_page(ctx, search, graph, page_items, mapping, generation, *, reuse_acl: bool,
                  only_acl_changes: bool = False, known: dict[str, IndexedItem] | None = None) -> _Prepared:
    """What one page needs sent: a PUT for each changed item, a delete for each indexed item
    nobody mapped may read now (skipped, fail closed). `known`: the page's rows, if read already."""
    names = [n for n in items.chosen(search.properties) if n in set(search.registered_properties) | {"title", "url"}]
    if known is None:
        known = _known_rows(search, page_items)
    prepared = _Prepared(graph, search, generation)
    counts = prepared.counts
    for source_item in page_items:
        counts["fetched"] += 1
        iid = items.item_id(source_item.kind, source_item.id)
        row = known.get(iid)
        if reuse_acl and row is not None and row.acl:
            acl = items.Acl(list(row.acl), [])
        else:
            acl = items.acl_of(source_item, search, mapping)
            prepared.unmapped.extend(acl.unmapped)
        if not acl.entries:
            # Fail closed: nobody with a Microsoft match may read it, so nobody finds it.
            _skip(search, ctx.run.pk, source_item, SkippedItem.Reason.NO_MAPPED_READER,
                  f"{len(acl.unmapped)} reader(s) without a Microsoft match")
            if row is not None:
                prepared.gone.append(iid)
            continue
        unchanged = row is not None and row.acl_digest == acl.digest and (
            only_acl_changes or row.version == source_item.version)
        if unchanged:
            counts["unchanged"] += 1
            prepared.seen.append(iid)
            continue
        body, truncated = items.external_item(source_item, names, acl)
        prepared.puts.append((source_item, iid, body, truncated, acl, row))
    return prepared


def _record_page(ctx, search, prepared: _Prepared, answers: list[Response]) -> tuple[dict[str, int], tuple]:
    """The page's answers, in the run's thread: the counts and what to commit with the
    checkpoint (see _commit_page)."""
    counts = prepared.counts
    writes: list[tuple[str, int, str, list, str]] = []
    indexed_whole: list[str] = []
    for (source_item, iid, _body, truncated, acl, row), response in zip(prepared.puts, answers, strict=False):
        if response.status_code >= 400:
            reason = SkippedItem.Reason.TOO_LARGE if response.status_code == 413 else SkippedItem.Reason.REFUSED
            try:
                detail = response.json().get("error", {}).get("message", "")
            except ValueError:
                detail = response.reason
            _skip(search, ctx.run.pk, source_item, reason, detail)
            continue
        if truncated:
            _skip(search, ctx.run.pk, source_item, SkippedItem.Reason.TRUNCATED, "indexed with its text cut")
        else:
            indexed_whole.append(iid)
        counts["created" if row is None else "updated"] += 1
        writes.append((iid, source_item.version, acl.digest, acl.entries, source_item.title[:255]))
    if indexed_whole:  # no longer skipped: one statement for the page
        SkippedItem.objects.filter(search=search, item_id__in=indexed_whole).delete()
    counts["deleted"] += len(prepared.gone)
    return counts, (writes, prepared.seen, prepared.unmapped, prepared.generation, prepared.gone)


def _index_pages(ctx, search, listing, checkpoint: dict, prepare: Callable[[Page], _Prepared], *, phase: str,
                 last_phase: str) -> dict:
    """Each listed page decided (`prepare`), sent, and committed with the checkpoint that resumes
    after it; returns the last checkpoint.

    A page's requests are handed to the Sender as soon as it is decided, before the page ahead of
    it is settled: the workers free during that page's slowest answers start on this one. Pages
    still commit one by one, in order, each once all its answers are in. A worker killed with a
    page sent but not committed redoes that page from the checkpoint: PUTs and deletes are
    idempotent by item id, and its counts were never committed."""
    done = int(checkpoint.get("done", 0))

    def settle(page: Page, prepared: _Prepared, batch: prefetch.Batch) -> None:
        nonlocal done, checkpoint
        counts, pending = _record_page(ctx, search, prepared, batch.results())
        done += len(page.items)
        checkpoint = {**checkpoint, "cursor": page.cursor, "done": done,
                      "phase": phase if page.cursor else last_phase}
        with ctx.batch():
            _commit_page(ctx, search, pending)
            ctx.save_checkpoint(checkpoint, **counts)
            ctx.progress(done=done)

    pages = iter(listing)
    with prefetch.Sender(settings.SEARCH_INGEST_CONCURRENCY) as sender:
        held: tuple[Page, _Prepared, prefetch.Batch] | None = None
        while True:
            try:
                _cursor, page = next(pages)
                prepared = prepare(page)
            except StopIteration:
                break
            except Exception:
                # The next page could not be read or decided: the page already sent is kept.
                if held is not None:
                    settle(*held)
                raise
            batch = sender.submit(prepared.requests)
            if held is not None:
                settle(*held)
            held = (page, prepared, batch)
        if held is not None:
            settle(*held)
    return checkpoint


def _send(requests: Sequence[Callable[[], Response]]) -> list[Response]:
    """Graph writes of one page, SEARCH_INGEST_CONCURRENCY at a time, each through the
    connection's shared throttle (its token bucket, Retry-After for every worker); the answers in
    order. Microsoft Search takes up to 25 concurrent operations per connection and app.
    Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits"""
    return prefetch.gather(requests, max(1, int(settings.SEARCH_INGEST_CONCURRENCY)))


def _commit_page(ctx, search, pending) -> None:
    """The page's rows, written in the batch that saves the checkpoint."""
    writes, seen, unmapped, generation, gone = pending
    now = timezone.now()
    if gone:
        IndexedItem.objects.filter(search=search, item_id__in=gone).delete()
    # One upsert for the page (unique on search and item id): the run's thread is back to sending sooner.
    IndexedItem.objects.bulk_create(
        [IndexedItem(search=search, item_id=iid, version=version, acl_digest=digest, acl=acl, title=title,
                     seen_by_run=generation or 0, indexed_at=now)
         for iid, version, digest, acl, title in writes],
        update_conflicts=True, unique_fields=["search", "item_id"],
        update_fields=["version", "acl_digest", "acl", "title", "seen_by_run", "indexed_at"],
    )
    if generation and seen:
        IndexedItem.objects.filter(search=search, item_id__in=seen).update(seen_by_run=generation)
    _note_unmapped(search, ctx.run.pk, unmapped)


def _mapping(ctx, search, groups: set[str]) -> items.IdentityMap:
    return items.IdentityMap(tenant_id=str(ctx.connection.tenant.tenant_id), users=_users(ctx), groups=groups,
                             everyone_except_guests=search.anonymous_except_guests)


def crawl(ctx) -> None:
    """Full: groups, every item in scope, then delete what was not seen. Incremental: what
    changed since the last crawl (content and properties; ACLs as last sent), and trashed items
    removed. Reference: https://learn.microsoft.com/graph/custom-connector-sdk-best-practices"""
    search = _search(ctx)
    _wait_for_setup(ctx, search)
    graph = _graph(ctx)
    src = source.source_for(ctx.connection)
    started = timezone.now()
    try:
        if ctx.mode == SyncRun.Mode.INCREMENTAL and search.changes_since:
            _incremental(ctx, search, graph, src)
            _finish(search, started, last_incremental_at=started)
            return
        _full(ctx, search, graph, src, sweep=True)
    except GraphError as exc:
        raise _job_error(search, exc) from exc
    _finish(search, started, last_full_at=started, last_permissions_at=started)


def permissions(ctx) -> None:
    """Groups and ACLs only: items are sent again only where who may read them changed; nothing
    is deleted for being unseen (the full crawl does that)."""
    search = _search(ctx)
    _wait_for_setup(ctx, search)
    active = SyncRun.objects.filter(connection=ctx.connection, kind=SyncRun.Kind.SEARCH_CRAWL,
                                    state__in=SyncRun.ACTIVE_STATES).values_list("pk", flat=True).first()
    if active:
        raise RunWaits(active, "a crawl of this connection is running")
    graph = _graph(ctx)
    src = source.source_for(ctx.connection)
    started = timezone.now()
    try:
        _full(ctx, search, graph, src, sweep=False)
    except GraphError as exc:
        raise _job_error(search, exc) from exc
    _finish(search, started, last_permissions_at=started)


def _wait_for_setup(ctx, search) -> None:
    setup_run = SyncRun.objects.filter(connection=ctx.connection, kind=SyncRun.Kind.SEARCH_SETUP,
                                       state__in=SyncRun.ACTIVE_STATES).values_list("pk", flat=True).first()
    if setup_run:
        raise RunWaits(setup_run, "the Microsoft Search setup is still running")
    if search.schema_status != "completed":
        raise JobError("Microsoft Search has no registered schema yet.",
                       "Publish the setup again (step 6); the crawl starts once the schema is registered.")


def _full(ctx, search, graph, src, *, sweep: bool) -> None:
    checkpoint = dict(ctx.checkpoint)
    generation = checkpoint.get("generation") or ctx.run.pk
    if not checkpoint.get("phase"):
        with ctx.batch():
            SkippedItem.objects.filter(search=search).delete()
            UnmappedPrincipal.objects.filter(search=search).delete()
            ctx.save_checkpoint({"phase": "groups", "generation": generation})
        checkpoint = dict(ctx.checkpoint)
    groups: set[str] = set()
    if search.permission_mode == SearchConnection.PermissionMode.ACCESS:
        # Cheap and idempotent (differences only): done again on a resume, for the group map.
        groups = _push_groups(ctx, search, graph, src, _users(ctx), generation)
    mapping = _mapping(ctx, search, groups)
    scope = _scope(search)
    if checkpoint["phase"] == "groups":
        checkpoint = {**checkpoint, "phase": "items", "cursor": ""}
    if checkpoint["phase"] == "items":
        listing = _ahead(src, partial(src.items, scope, with_acl=True), checkpoint.get("cursor", ""))
        checkpoint = _index_pages(
            ctx, search, listing, checkpoint,
            lambda page: _prepare_page(ctx, search, graph, page.items, mapping, generation, reuse_acl=False,
                                       only_acl_changes=not sweep),
            phase="items", last_phase="sweep" if sweep else "done")
    if checkpoint["phase"] == "sweep":
        _sweep(ctx, search, graph, generation)


def _ahead(src, read: Callable[[str], Page], first: str) -> prefetch.Pages[str, Page]:
    """`read(cursor)` page by page, the next page read while this one is indexed (in a helper
    thread, see connections.sync.prefetch): a crawl takes about as long as the slower of its
    Confluence reads and its Graph writes, not their sum. The source's client is made ready in
    the run's own thread first (its credential lives in the database)."""

    def start(cursor: str) -> Callable[[], Page]:
        src.connect()
        return partial(read, cursor)

    return prefetch.Pages(start, lambda page, _cursor: page.cursor or None, first)


def _sweep(ctx, search, graph, generation) -> None:
    """Delete every indexed item this crawl did not see (deleted, moved out of scope, purged)."""
    while True:
        gone = list(IndexedItem.objects.filter(search=search).filter(~Q(seen_by_run=generation))
                    .values_list("item_id", flat=True)[:DELETE_BATCH])
        if not gone:
            break
        _send([partial(api.delete_item, graph, search.graph_connection_id, iid) for iid in gone])
        with ctx.batch():
            IndexedItem.objects.filter(search=search, item_id__in=gone).delete()
            SkippedItem.objects.filter(search=search, item_id__in=gone).delete()
            ctx.save_checkpoint({**ctx.checkpoint, "phase": "sweep"}, deleted=len(gone))
    with ctx.batch():
        ctx.save_checkpoint({**ctx.checkpoint, "phase": "done"})


def _incremental(ctx, search, graph, src) -> None:
    checkpoint = dict(ctx.checkpoint)
    since = (parse_datetime(checkpoint["since"]) if checkpoint.get("since") else None) or search.changes_since
    assert since is not None  # the caller runs a full crawl first
    # Known items keep the ACL last sent; new ones may name the groups the last full crawl pushed.
    mapping = _mapping(ctx, search, set(PushedGroup.objects.filter(search=search).values_list("group_id", flat=True)))
    scope = _scope(search)
    checkpoint.setdefault("since", since.isoformat())
    checkpoint.setdefault("phase", "changed")
    if checkpoint["phase"] == "changed":
        listing = _ahead(src, partial(src.changed_since, scope, since, with_acl=False), checkpoint.get("cursor", ""))
        checkpoint = _index_pages(
            ctx, search, listing, checkpoint,
            lambda page: _prepare_changed(ctx, search, graph, src, page.items, mapping),
            phase="changed", last_phase="trashed")
    if checkpoint["phase"] == "trashed":
        trashed = [items.item_id(kind, cid) for kind, cid in src.trashed_ids(scope)]
        indexed = list(IndexedItem.objects.filter(search=search, item_id__in=trashed).values_list("item_id", flat=True))
        for offset in range(0, len(indexed), DELETE_BATCH):
            _send([partial(api.delete_item, graph, search.graph_connection_id, iid)
                   for iid in indexed[offset:offset + DELETE_BATCH]])
        with ctx.batch():
            IndexedItem.objects.filter(search=search, item_id__in=indexed).delete()
            ctx.save_checkpoint({**checkpoint, "phase": "done"}, deleted=len(indexed))


def _prepare_changed(ctx, search, graph, src, page_items, mapping) -> _Prepared:
    """A page of an incremental crawl: its rows in the index are read once, both for the ACLs
    to reuse and for what changed."""
    known = _known_rows(search, page_items)
    return _prepare_page(ctx, search, graph, _acls_for_new(src, page_items, known), mapping, 0, reuse_acl=True,
                         known=known)


def _acls_for_new(src, page_items, known) -> list[SourceItem]:
    """An incremental crawl sends known items with the ACL last sent (the permissions crawl
    updates ACLs): only the items not indexed yet (or indexed without one) need theirs read
    from Confluence."""
    fresh = [i for i in page_items if not getattr(known.get(items.item_id(i.kind, i.id)), "acl", None)]
    filled = {(i.kind, i.id): i for i in src.with_acl(fresh)} if fresh else {}
    return [filled.get((i.kind, i.id), i) for i in page_items]


def _finish(search, started, **stamps) -> None:
    indexed = IndexedItem.objects.filter(search=search).count()
    fields: dict[str, Any] = {
        "items_indexed": indexed,
        "items_skipped": SkippedItem.objects.filter(search=search).exclude(reason=SkippedItem.Reason.TRUNCATED).count(),
        "unmapped_principals": UnmappedPrincipal.objects.filter(search=search).count(),
        "changes_since": started, "state": SearchConnection.State.INDEXED,
        "error_code": "", "error": "", "remedy": "", **stamps,
    }
    SearchConnection.objects.filter(pk=search.pk).update(**fields)
