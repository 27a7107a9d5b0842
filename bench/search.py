"""`manage.py benchmark search --pages 100000 --spaces 200`: Confluence in Microsoft Search at scale.

1. Seeds the sandbox (in a child process, so this process's peak memory stays its own): the
   usual sandbox, plus a Confluence site `wiki-bench` with --pages pages in --spaces spaces
   (bulk inserts): each space a tree (page n under page (n-1)//10), every 100th page
   read-restricted to a group (its subtree inherits), a 1 KB storage body each.
2. Starts the sandbox server (a child process) unless --origin points at one.
3. Publishes the search connection (Ada Admin's API token on `wiki-bench`, Microsoft side
   Northwind) through the real services: the setup run registers the schema, then the real
   full crawl (connections.search.crawl on connections.search.confluence) runs in this process.
   The portal sends at --ingest-rate minus one item/s with bursts of one: a token bucket sends
   up to rate + burst items in a second, and the sandbox, like Graph, throttles past the rate.
4. Edits --edits pages and runs an incremental crawl.
5. The floor: the same Confluence reads (spaces, each space's permissions and anonymous access,
   its page and blog post lists at 250 a page with bodies, one view-restriction read per item)
   sent with bare requests sessions and no processing, each listing page in turn and its items'
   restrictions SEARCH_CONFLUENCE_CONCURRENCY at a time (a session per thread), as the crawl
   reads them; and the same Graph PUTs sent again SEARCH_INGEST_CONCURRENCY at a time at the rate
   the sandbox's Microsoft Search allows a connection (`--ingest-rate`, Graph documents 25
   items/s). The PUT part of the floor is their count divided by that rate (nothing sends them
   sooner); with --replay the PUTs are sent again at that rate and the replay, which can only be
   longer, is reported beside it (it takes as long as the crawl's PUTs). The crawl reads the
   next Confluence page while it sends the current page's PUTs, so floor = the longer of the
   two (`floor.confluence_seconds`, `floor.graph_seconds`).
Prints JSON: items/s, requests per item on each side, peak RSS, ratios.full_vs_floor and
ratios.incremental_vs_full. Replaces the sandbox's data. Needs DEBUG=true SANDBOX_ENABLED=true.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from bench.sync import MANAGE, _free_port_pair, _last_request_id, _rss_mb, _wait_for, benchmark_site
from connections.models import Connection, SearchConnection, SyncRun, UserMatch
from connections.search import confluence as reader_module
from connections.search import services
from connections.search.confluence import ConfluenceReader
from connections.sync.runner import run_execute
from connections.sync.services import sync_run_start
from sandbox import db as sandbox_db
from sandbox.atlassian.models import Account, ApiToken, Group, Page, PageRestriction, Site, Space, SpacePermission
from sandbox.atlassian.seed import group_uuid
from sandbox.microsoft.models import DirectoryUser, Tenant
from sandbox.microsoft.search_models import SearchFaults
from sandbox.seeding import seed as sandbox_seed
from tenants.models import AtlassianSite, Membership, Role

SITE = "wiki-bench"
BATCH = 5000
REPLAY_CHUNK = 500
TARGETS = {"full_vs_floor": 1.3, "incremental_vs_full": 0.02, "peak_rss_mb": 300}


def add_arguments(parser) -> None:
    parser.add_argument("--pages", type=int, default=100_000, help="pages in the Confluence site")
    parser.add_argument("--spaces", type=int, default=200, help="spaces they are spread over")
    parser.add_argument("--edits", type=int, default=100, help="pages edited before the incremental crawl")
    parser.add_argument("--ingest-rate", type=int, default=25, help="items/s the sandbox's Graph allows a connection")
    parser.add_argument("--origin", default="", help="a running sandbox (https origin); default: start one")
    parser.add_argument("--skip-seed", action="store_true", help="keep the sandbox data of the last benchmark")
    parser.add_argument("--replay", action="store_true",
                        help="also send the PUTs again at the allowed rate (as long as the crawl's PUTs take)")
    parser.add_argument("--seed-only", action="store_true", help=None)


def run(command, *, pages, spaces, edits, ingest_rate, origin, skip_seed, seed_only, replay=False,
        **_) -> dict | None:
    if not settings.SANDBOX_ENABLED:
        raise CommandError("The benchmark runs against the sandbox: set DEBUG=true SANDBOX_ENABLED=true.")
    if seed_only:
        seed(pages, spaces)
        return None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not skip_seed:
        started = time.monotonic()
        subprocess.run([*MANAGE, "benchmark", "search", "--pages", str(pages), "--spaces", str(spaces),
                        "--seed-only"], env=env, check=True)
        command.stderr.write(f"seeded {pages} pages in {spaces} spaces in {time.monotonic() - started:.0f} s")
    server = None
    if not origin:
        port = _free_port_pair()
        server = subprocess.Popen([*MANAGE, "sandbox", "serve", "--port", str(port), "--browser-port", str(port - 1)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        origin = f"https://127.0.0.1:{port}"
        _wait_for(port)
    try:
        return Benchmark(command, origin, ingest_rate).measure(edits=edits, replay=replay)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)


# ------------------------------------------------------------------------------------ seeding


def seed(pages: int, spaces: int) -> None:
    if sandbox_db.ALIAS in settings.DATABASES:
        call_command("migrate", database=sandbox_db.ALIAS, verbosity=0)
    sandbox_seed(seed=1, users=5, atlassian_size=50)
    site = Site.objects.create(name=SITE, cloud_id=str(uuid.uuid4()), products=["confluence"])
    ada = Account.objects.get(email="ada.admin@acme.example")
    ada.sites.add(site)
    ada.admin_of.add(site)
    members = list(Account.objects.filter(sites__name="acme", account_type="atlassian")[:40])
    for account in members:
        account.sites.add(site)
    readers = Group.objects.create(site=site, group_id=group_uuid(SITE, "confluence-users"), name="confluence-users")
    readers.members.set([ada, *members])
    leads = Group.objects.create(site=site, group_id=group_uuid(SITE, "leads"), name="leads")
    leads.members.set([ada, *members[:5]])
    first_space = (Space.objects.order_by("-space_id").values_list("space_id", flat=True).first() or 0) + 1
    rows = [Space(site=site, space_id=first_space + n, key=f"B{n:03d}", name=f"Bench space {n}") for n in range(spaces)]
    Space.objects.bulk_create(rows)
    made = list(Space.objects.filter(site=site).order_by("space_id"))
    perm_id = (SpacePermission.objects.order_by("-perm_id").values_list("perm_id", flat=True).first() or 0) + 1
    perms = []
    for space in made:
        perms.append(SpacePermission(perm_id=perm_id, space=space, principal_type="group",
                                     principal_id=readers.group_id, operation="read"))
        perms.append(SpacePermission(perm_id=perm_id + 1, space=space, principal_type="user",
                                     principal_id=ada.account_id, operation="read"))
        perm_id += 2
    SpacePermission.objects.bulk_create(perms)
    # Explicit primary keys, so each page can name its parent in the same insert.
    pk = (Page.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    content_id = (Page.objects.order_by("-page_id").values_list("page_id", flat=True).first() or 0) + 1
    body = "<p>" + ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 18) + "</p>"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    per_space, extra = divmod(pages, spaces)
    batch: list[Page] = []
    restricted: list[PageRestriction] = []
    for s, space in enumerate(made):
        first_pk = pk
        for n in range(per_space + (1 if s < extra else 0)):
            when = start + timedelta(minutes=pk)
            batch.append(Page(
                pk=pk, site=site, space=space, page_id=content_id, type="page", title=f"{space.name} page {n + 1}",
                body=body, author_id=ada.account_id, created_at=when, modified_at=when, version=1,
                parent_id=first_pk + (n - 1) // 10 if n else None,
            ))
            if n % 100 == 50:
                restricted.append(PageRestriction(page_id=pk, operation="read", group="leads"))
            pk += 1
            content_id += 1
            if len(batch) >= BATCH:
                Page.objects.bulk_create(batch)
                batch = []
    Page.objects.bulk_create(batch)
    PageRestriction.objects.bulk_create(restricted, batch_size=BATCH)


# --------------------------------------------------------------------------------- measuring


_readers: list[ConfluenceReader] = []


def counting_source_for(connection: Connection) -> ConfluenceReader:
    """The real reader, remembered so the benchmark can add up its requests."""
    reader = reader_module.source_for(connection)
    _readers.append(reader)
    return reader


class Benchmark:
    def __init__(self, command, origin: str, ingest_rate: int):
        self.command = command
        self.origin = origin
        self.ingest_rate = ingest_rate
        org, _acme = benchmark_site(origin, "benchmark-search")
        site = AtlassianSite.objects.filter(organization=org, name="acme").first()
        assert site is not None
        site.name, site.url, site.products = SITE, settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + SITE, ["confluence"]
        site.save()
        self.site = site
        from bench.sync import connect

        northwind = Tenant.objects.get(display_name="Northwind Traders")
        self.connection = connect(org, site, northwind)
        self.connection.features = ["confluence_search"]
        self.connection.save()
        SearchFaults.objects.update_or_create(tenant=northwind, defaults={"ingest_rate": ingest_rate})
        ada = Account.objects.get(email="ada.admin@acme.example")
        someone = DirectoryUser.objects.filter(tenant=northwind, deleted=False).order_by("user_principal_name").first()
        assert someone is not None
        UserMatch.objects.create(connection=self.connection, account_id=ada.account_id, display_name="Ada",
                                 outcome="matched", microsoft_user_id=str(someone.pk))
        consent = self.connection.consent_requests.first()
        assert consent is not None
        self.operator = consent.created_by
        Membership.objects.get_or_create(organization=org, user=self.operator, defaults={"role": Role.ADMIN})
        token = ApiToken.objects.get(account=ada)
        self.auth = (ada.email, token.token)

    def say(self, text: str) -> None:
        self.command.stderr.write(text)

    def _crawl(self, mode: str) -> tuple[SyncRun, float, int, int]:
        _readers.clear()
        first = _last_request_id()
        started = time.perf_counter()
        run = sync_run_start(connection=self.connection, kind=SyncRun.Kind.SEARCH_CRAWL, mode=mode,
                             acting_user=self.operator)
        run.refresh_from_db()
        wall = time.perf_counter() - started
        if run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"The {mode} crawl {run.state}: {run.error} {run.remedy}")
        confluence = sum(r.stats.requests for r in _readers)
        return run, wall, confluence, _last_request_id() - first - confluence

    def measure(self, *, edits: int, replay: bool = False) -> dict:
        from portal.celery import app

        app.conf.update(task_always_eager=True)  # the runs execute here, one after the other
        settings.SEARCH_SOURCE = "bench.search.counting_source_for"
        settings.SEARCH_SCHEMA_POLL = 0.2
        # As close to the allowed rate as a token bucket gets without being throttled: rate + burst
        # items may go out in one second, and the sandbox, like Graph, allows ingest_rate.
        settings.SEARCH_INGEST_RATE = float(self.ingest_rate - 1)
        settings.SEARCH_INGEST_BURST = 1
        settings.SYNC_TENANT_RATE, settings.SYNC_TENANT_BURST = 1000.0, 1000
        steps: dict[str, dict[str, Any]] = {
            "connection": {"name": "Bench wiki", "graph_connection_id": "benchwiki", "description": ""},
            "properties": {"properties": ["title", "url", "authors", "lastModifiedDateTime", "spaceKey"]},
            "filter": {"space_keys": [], "cql": ""},
            "permissions": {"permission_mode": "access", "identity_type": "entra", "upn_pattern": "",
                            "upn_formula": "", "anonymous_except_guests": False},
            "refresh": {"full_every_minutes": 0, "incremental_every_minutes": 0, "permissions_every_minutes": 0},
        }
        for step, values in steps.items():
            services.search_save_step(connection=self.connection, step=step, values=values, acting_user=self.operator)
        rss_before = _rss_mb()
        # Publishing runs the setup, which starts the first full crawl: that is the one measured.
        first = _last_request_id()
        _readers.clear()
        started = time.perf_counter()
        services.search_publish(connection=self.connection, acting_user=self.operator)
        search = SearchConnection.objects.get(connection=self.connection)
        crawls = SyncRun.objects.filter(connection=self.connection, kind=SyncRun.Kind.SEARCH_CRAWL)
        crawl = crawls.order_by("-pk").first()
        if crawl is not None and crawl.state == SyncRun.State.QUEUED:
            # Started by the setup while the setup was still active, so it waited: the beat
            # would run it next; here it runs now.
            run_execute(crawl.pk)
            crawl.refresh_from_db()
        if crawl is None or crawl.state != SyncRun.State.SUCCEEDED or not crawl.started_at or not crawl.finished_at:
            raise CommandError(f"The full crawl did not succeed: {search.error} {search.remedy}")
        full_wall = (crawl.finished_at - crawl.started_at).total_seconds()
        publish_wall = time.perf_counter() - started
        full_confluence = sum(r.stats.requests for r in _readers)
        full_graph = _last_request_id() - first - full_confluence
        self.say(f"full crawl: {full_wall:.1f} s ({publish_wall:.1f} s with the setup)")
        indexed = search.indexed_items.count()
        total_items = Page.objects.filter(site__name=SITE).count()

        changed = list(Page.objects.filter(site__name=SITE).order_by("?").values_list("pk", flat=True)[:edits])
        now = timezone.now()
        for pk in changed:
            Page.objects.filter(pk=pk).update(modified_at=now, version=2, title=f"Edited {pk}")
        _run, incr_wall, incr_confluence, incr_graph = self._crawl("incremental")
        self.say(f"incremental crawl: {incr_wall:.1f} s")

        crawls_peak = _rss_mb()
        floor = self.floor(indexed, replay=replay)
        peak = _rss_mb()
        items_count = indexed
        return {
            "pages": total_items,
            "spaces": Space.objects.filter(site__name=SITE).count(),
            "items_indexed": items_count,
            "full": {
                "seconds": round(full_wall, 1),
                "items_per_second": round(total_items / full_wall, 1),
                "confluence_requests": full_confluence,
                "graph_requests": full_graph,
                "confluence_requests_per_item": round(full_confluence / total_items, 3),
                "graph_requests_per_item": round(full_graph / total_items, 3),
            },
            "incremental": {
                "edits": edits,
                "seconds": round(incr_wall, 1),
                "confluence_requests": incr_confluence,
                "graph_requests": incr_graph,
            },
            "floor": floor,
            "graph_ingest_rate_items_per_second": self.ingest_rate,
            "peak_rss_mb": {"before_runs": rss_before, "after_crawls": crawls_peak, "after_runs": peak},
            "ratios": {
                "full_vs_floor": round(full_wall / floor["seconds"], 2),
                "incremental_vs_full": round(incr_wall / full_wall, 4),
            },
            "targets": {
                "full_within_1_3x_floor": full_wall / floor["seconds"] <= TARGETS["full_vs_floor"],
                "incremental_under_2_percent": incr_wall / full_wall <= TARGETS["incremental_vs_full"],
                "peak_under_300_mb": peak <= TARGETS["peak_rss_mb"],
            },
        }

    def floor(self, puts: int, *, replay: bool = False) -> dict:
        """The same Confluence reads with bare sessions, and the same PUTs at the allowed rate.

        Reads: each listing page in turn (its cursor comes from the one before), and its items'
        view restrictions SEARCH_CONFLUENCE_CONCURRENCY at a time, one bare session per thread, as
        the crawl reads them. PUTs: puts / rate; with `replay`, also sent again
        SEARCH_INGEST_CONCURRENCY at a time at the allowed rate, for the record. The crawl reads
        the next page while it sends the current one's PUTs, so floor = the longer of the two."""
        workers = max(1, int(settings.SEARCH_CONFLUENCE_CONCURRENCY))
        sessions = threading.local()
        base = f"{settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0]}{SITE}/wiki"
        count = itertools.count()

        def get(url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            session = getattr(sessions, "session", None)
            if session is None:
                session = sessions.session = self._session()
                session.auth = self.auth
            next(count)
            response = session.get(url, params=params, timeout=60)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        def pages(path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
            url, query = f"{base}{path}", dict(params)
            while True:
                body = get(url, query)
                yield body.get("results") or []
                nxt = (body.get("_links") or {}).get("next")
                if not nxt or not body.get("results"):
                    return
                url, query = f"{base}{nxt.removeprefix('/wiki')}", {}

        def restriction(row: dict[str, Any]) -> None:
            get(f"{base}/rest/api/content/{row['id']}/restriction/byOperation/read")

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for spaces in pages("/api/v2/spaces", {"limit": 250}):
                for space in spaces:
                    for _rows in pages(f"/api/v2/spaces/{space['id']}/permissions", {"limit": 250}):
                        pass
                    get(f"{base}/rest/api/space/{space['key']}", {"expand": "permissions"})
                    for kind in ("pages", "blogposts"):
                        for rows in pages(f"/api/v2/spaces/{space['id']}/{kind}",
                                          {"limit": 250, "body-format": "storage", "status": "current"}):
                            list(pool.map(restriction, rows))
        confluence_seconds = time.perf_counter() - started
        at_rate = puts / self.ingest_rate
        replayed = self._put_floor() if replay else None
        # The PUT part is their count at the allowed rate: nothing sends them sooner. The replay
        # shows the sandbox takes them at that rate; it can only be longer (sent at exactly the
        # rate, some land in a second already full and wait out a Retry-After).
        graph_seconds = at_rate
        return {
            "seconds": round(max(confluence_seconds, graph_seconds), 1),
            "combined": "max: the crawl reads the next Confluence page while it sends the current page's PUTs",
            "confluence_seconds": round(confluence_seconds, 1),
            "confluence_requests": next(count),
            "confluence_concurrency": workers,
            "graph_puts": puts,
            "graph_seconds": round(graph_seconds, 1),
            "graph_seconds_replayed_at_allowed_rate": None if replayed is None else round(max(replayed, at_rate), 1),
            "graph_concurrency": max(1, int(settings.SEARCH_INGEST_CONCURRENCY)),
        }

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.verify = settings.HTTP_CA_BUNDLE
        session.trust_env = False
        return session

    def _put_floor(self) -> float:
        """The same items PUT again (the bodies the sandbox's Graph holds), SEARCH_INGEST_CONCURRENCY
        at a time with a bare session per thread, the n-th never sent before n / rate seconds."""
        from sandbox.microsoft.search_models import ExternalItem

        client_module = __import__("connections.microsoft.client", fromlist=["_app"])
        token = client_module._app(str(self.connection.tenant.tenant_id), "public").acquire_token_for_client(
            scopes=[client_module.GRAPH_DEFAULT_SCOPE])["access_token"]
        base = f"{settings.MICROSOFT_GRAPH_URL}/v1.0/external/connections/benchwiki/items"
        rows = ExternalItem.objects.filter(connection__connection_id="benchwiki").order_by("pk")
        interval = 1.0 / self.ingest_rate
        sessions = threading.local()
        started = time.perf_counter()

        def put(numbered: tuple[int, tuple[str, dict[str, Any]]]) -> None:
            n, (item_id, body) = numbered
            session = getattr(sessions, "session", None)
            if session is None:
                session = sessions.session = self._session()
                session.headers["Authorization"] = f"Bearer {token}"
            wait = started + n * interval - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            while True:
                response = session.put(f"{base}/{item_id}", json=body, timeout=60)
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))
            response.raise_for_status()

        def bodies() -> Iterator[tuple[str, dict[str, Any]]]:
            for item in rows.iterator(chunk_size=REPLAY_CHUNK):
                body = {"acl": item.acl, "properties": item.properties}
                if item.content:
                    body["content"] = item.content
                yield item.item_id, body

        # A chunk at a time: Executor.map takes its whole input at once, and every body of a
        # large index held together would be this process's peak memory, not the crawl's.
        numbered = enumerate(bodies())
        with ThreadPoolExecutor(max_workers=max(1, int(settings.SEARCH_INGEST_CONCURRENCY))) as pool:
            while chunk := list(itertools.islice(numbered, REPLAY_CHUNK)):
                list(pool.map(put, chunk))
        return time.perf_counter() - started
