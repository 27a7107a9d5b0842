"""`manage.py benchmark sync --users 100000`: user matching at scale, against the floor and the
script a user would write instead.

1. Seeds the sandbox (in a child process, so this process's peak memory stays its own):
   N Atlassian accounts on the site `acme` and N Microsoft users in Northwind whose addresses
   meet them by mail, UPN or proxy address, or not at all (and every 10th Atlassian email hidden).
   On SQLite the sandbox's own database file is migrated first.
2. Starts the sandbox server (a child process on free ports) unless --origin points at one.
3. --runs times (default 3, the median is reported), each from an empty result table:
   - full: a full user matching through the real job code and runner, in this process;
   - floor: the same pages fetched with a bare requests loop (same URLs, params, token) and the
     same rows written the cheapest honest way: COPY on PostgreSQL, one executemany
     transaction elsewhere;
   - naive: what a user would script: page through Graph's /users and Jira's users/search
     with their default page sizes, match lowercased addresses, one ORM save per account.
4. Makes --changes changes in the directory and runs an incremental match.
5. Runs one more full run in a real Celery worker (a child process, solo pool) and reports
   its peak resident memory (VmHWM).
Prints JSON. Replaces the sandbox's data (it is a sandbox): do not point it at a demo you
care about. Needs SANDBOX_ENABLED (DEBUG=true SANDBOX_ENABLED=true).
"""

import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, router, transaction
from django.utils import timezone

from connections.matching import directory as matching_directory
from connections.matching import writes
from connections.microsoft import client, roles
from connections.models import Connection, ConsentRequest, Credential, MicrosoftUserKey, SyncRun, UserMatch
from connections.sync.runner import run_execute
from connections.sync.services import sync_run_start
from sandbox import db as sandbox_db
from sandbox import defaults, faults
from sandbox.atlassian.models import Account, ApiToken
from sandbox.microsoft import directory
from sandbox.microsoft.models import DirectoryUser, Tenant
from sandbox.models import Fault, RequestLog
from sandbox.seeding import seed as sandbox_seed
from sandbox.testing import point_settings
from tenants.models import AtlassianSite, MicrosoftTenant, Organization, User
from tenants.models.directory import SiteAuthMode, SiteAuthStatus

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=100_000, help="accounts on each side")
    parser.add_argument("--changes", type=int, default=100, help="directory changes before the incremental run")
    parser.add_argument("--runs", type=int, default=3, help="full, floor and naive runs each (the median counts)")
    parser.add_argument("--origin", default="", help="a running sandbox (https origin); default: start one")
    parser.add_argument("--skip-seed", action="store_true", help="keep the sandbox data of the last benchmark")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive script (it is slow)")
    parser.add_argument("--skip-worker", action="store_true", help="leave out the run in a real worker")
    parser.add_argument("--seed-only", action="store_true", help=None)
    parser.add_argument(
        "--storm",
        default="20/2",
        help="LIMIT/WINDOW: one more full run with Graph answering 429 past LIMIT requests per WINDOW "
        "seconds (pages of --storm-page users), for the share of that budget the run used; '' leaves it out",
    )
    parser.add_argument("--storm-page", type=int, default=100, help="users per Graph page in the storm run")


def run(
    command, *, users, changes, runs, origin, skip_seed, skip_naive, skip_worker, seed_only, storm="", storm_page=100,
    **_,
) -> dict | None:
    if not settings.SANDBOX_ENABLED:
        raise CommandError("The benchmark runs against the sandbox: set DEBUG=true SANDBOX_ENABLED=true.")
    if seed_only:
        seed(users)
        return None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not skip_seed:
        started = time.monotonic()
        subprocess.run([*MANAGE, "benchmark", "sync", "--users", str(users), "--seed-only"], env=env, check=True)
        command.stderr.write(f"seeded {users} + {users} in {time.monotonic() - started:.0f} s")
    server = None
    if not origin:
        port = _free_port_pair()
        server = subprocess.Popen(
            [*MANAGE, "sandbox", "serve", "--port", str(port), "--browser-port", str(port - 1)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        origin = f"https://127.0.0.1:{port}"
        _wait_for(port)
    try:
        benchmark = Benchmark(command, origin)
        result = benchmark.measure(changes=changes, runs=max(1, runs), naive=not skip_naive, worker=not skip_worker)
        if storm:
            limit, window = (float(x) for x in storm.split("/", 1))
            result["storm"] = benchmark.storm(int(limit), window, storm_page)
            result["targets"]["storm_budget_at_least_95pct"] = result["storm"]["budget_used"] >= 0.95
        return result
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port - 1))
        except OSError:
            continue
        return port
    raise CommandError("No free pair of ports for the sandbox.")


def _wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise CommandError("The sandbox server did not start.")


def _last_request_id() -> int:
    return RequestLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def seed(users: int) -> None:
    """Sandbox data for the benchmark (see the module doc)."""
    if sandbox_db.ALIAS in settings.DATABASES:
        # SQLite: the sandbox keeps its tables in a file of its own (sandbox/db.py).
        call_command("migrate", database=sandbox_db.ALIAS, verbosity=0)
    sandbox_seed(seed=1, users=5, atlassian_size=users)
    add_directory_users(Tenant.objects.get(display_name="Northwind Traders"), users)


def add_directory_users(tenant: Tenant, users: int, prefix: str = "user") -> None:
    """`users` Microsoft users in `tenant` meeting acme's accounts (in order) by mail, UPN or a
    proxy address, or not at all."""
    seq = tenant.change_seq
    emails = Account.objects.filter(sites__name="acme").order_by("pk").values_list("email", flat=True)
    domain = "northwind.example"
    batch = []
    for n, email in enumerate(emails.iterator(chunk_size=5000)):
        if n >= users:
            break
        seq += 1
        case = n % 10
        local = f"{prefix}{n}@{domain}"
        fields: dict[str, object] = {"user_principal_name": local, "mail": local, "proxy_addresses": [f"SMTP:{local}"]}
        if case <= 5:  # found by mail (5: the Atlassian side hides its email)
            fields.update(mail=email, proxy_addresses=[f"SMTP:{email}"])
        elif case == 6:  # found by UPN (no mailbox)
            fields.update(user_principal_name=email.lower(), mail=None, proxy_addresses=[])
        elif case in (7, 8):  # found by an alias only
            fields["proxy_addresses"] = [f"SMTP:{local}", f"smtp:{email}"]
        # 9: nobody on the Atlassian side
        batch.append(
            DirectoryUser(
                id=uuid.uuid4(), tenant=tenant, display_name=f"User {n}", password="x", change_seq=seq, **fields
            )
        )
        if len(batch) >= 5000:
            DirectoryUser.objects.bulk_create(batch)
            batch = []
    DirectoryUser.objects.bulk_create(batch)
    Tenant.objects.filter(pk=tenant.pk).update(change_seq=seq)
    tenant.change_seq = seq


def change_directory(count: int) -> None:
    """`count` changes in Northwind: a third new users, a third changed addresses, a third deleted."""
    tenant = Tenant.objects.get(display_name="Northwind Traders")
    pool = list(DirectoryUser.objects.filter(tenant=tenant, deleted=False).order_by("change_seq")[: count * 3])
    added = count // 3
    for i in range(added):
        directory.update_user(
            DirectoryUser(
                id=uuid.uuid4(),
                tenant=tenant,
                user_principal_name=f"newcomer{i}@northwind.example",
                mail=f"newcomer{i}@northwind.example",
                display_name=f"Newcomer {i}",
                password="x",
            )
        )
    changed = (count - added) // 2
    for user in pool[:changed]:
        directory.update_user(user, mail=f"renamed.{user.user_principal_name}")
    for user in pool[changed : count - added]:
        directory.delete_user(user)


def world(origin: str) -> Connection:
    """The benchmark organization's connection between `acme` and Northwind (made anew)."""
    org, site = benchmark_site(origin, "benchmark")
    return connect(org, site, Tenant.objects.get(display_name="Northwind Traders"))


def benchmark_site(origin: str, slug: str) -> tuple[Organization, AtlassianSite]:
    """Organization `slug` with nothing connected but the site `acme` (its admin's API token)."""
    point_settings(settings, origin, str(settings.SANDBOX_DIR / "ca.pem"))
    # The organization stays (its audit trail is append-only); what it connected is replaced.
    org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": slug.replace("-", " ").title()})
    Connection.objects.filter(organization=org).delete()
    AtlassianSite.objects.filter(organization=org).delete()
    MicrosoftTenant.objects.filter(organization=org).delete()
    token = ApiToken.objects.select_related("account").filter(account__admin_of__name="acme").first()
    if token is None:
        raise CommandError("The sandbox has no API token of acme's admin: seed it (leave out --skip-seed).")
    site = AtlassianSite.objects.create(
        organization=org,
        name="acme",
        url=settings.ATLASSIAN_EXTRA_SITE_PREFIXES[0] + "acme",
        auth_mode=SiteAuthMode.API_TOKEN,
        auth_status=SiteAuthStatus.AUTHORIZED,
    )
    credential = Credential(
        organization=org, site=site, kind=Credential.Kind.ATLASSIAN_API_TOKEN, principal=token.account.email
    )
    credential.access_token = token.token
    credential.save()
    return org, site


def connect(org: Organization, site: AtlassianSite, sandbox_tenant: Tenant) -> Connection:
    """An active user matching connection of `site` with `sandbox_tenant`, its admin consented."""
    tenant = MicrosoftTenant.objects.create(
        organization=org, tenant_id=sandbox_tenant.pk, display_name=sandbox_tenant.display_name
    )
    connection = Connection.objects.create(
        organization=org, site=site, tenant=tenant, status=Connection.Status.ACTIVE, features=["user_mapping"]
    )
    # What the consent round records when the tenant's admin consents for this organization.
    operator, _ = User.objects.get_or_create(email="benchmark@portal.example", defaults={"username": "benchmark"})
    now = timezone.now()
    ConsentRequest.objects.create(
        organization=org, connection=connection, kind=ConsentRequest.Kind.DIRECT, token_hash=uuid.uuid4().hex,
        created_by=operator, expires_at=now + timedelta(days=7), state=ConsentRequest.State.CONSENTED,
        consented_at=now, admin_consent_at=now, granted_by_name=f"{sandbox_tenant.display_name} admin",
        granted_by_upn=f"admin@{sandbox_tenant.pk}.example", granted_by_oid=str(uuid.uuid4()),
        granted_by_role=roles.GLOBAL_ADMINISTRATOR, granted_in_tenant=str(sandbox_tenant.pk).lower(),
    )  # fmt: skip
    return connection


def _empty(connection: Connection) -> None:
    UserMatch.objects.filter(connection=connection).delete()
    MicrosoftUserKey.objects.filter(connection=connection).delete()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


class Benchmark:
    def __init__(self, command, origin: str):
        self.command = command
        self.origin = origin
        self.connection = world(origin)
        self.session = requests.Session()
        self.session.verify = settings.HTTP_CA_BUNDLE
        self.session.trust_env = False

    def say(self, text: str) -> None:
        self.command.stderr.write(text)

    # -- the portal's runs -------------------------------------------------------------------

    def portal_run(self, mode: str) -> tuple[SyncRun, float, int]:
        connection = self.connection
        run = SyncRun.objects.create(
            organization=connection.organization, connection=connection, kind=SyncRun.Kind.USER_MATCHING, mode=mode
        )
        first = _last_request_id()
        started = time.perf_counter()
        run_execute(run.pk)
        run.refresh_from_db()
        while run.state == SyncRun.State.QUEUED:  # it gave its worker back (throttled): take it when due
            time.sleep(max(0.0, (run.queued_at - timezone.now()).total_seconds()))
            run_execute(run.pk)
            run.refresh_from_db()
        wall = time.perf_counter() - started
        if run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"The {mode} run {run.state}: {run.error} {run.remedy}")
        return run, wall, _last_request_id() - first

    def measure(self, *, changes: int, runs: int, naive: bool, worker: bool) -> dict:
        connection = self.connection
        rss_before = _rss_mb()
        walls: dict[str, list[float]] = {"full": [], "floor": [], "naive": []}
        floors, naives = [], []
        for n in range(runs):
            _empty(connection)
            full, wall, full_requests = self.portal_run("full")
            walls["full"].append(wall)
            self.say(f"run {n + 1}/{runs}: full {wall:.1f} s")
            matches = UserMatch.objects.filter(connection=connection)
            keys = MicrosoftUserKey.objects.filter(connection=connection)
            full_rows = matches.count() + keys.count()
            outcomes = {o: matches.filter(outcome=o).count() for o in ("matched", "unmatched", "ambiguous", "hidden")}
            floor = self.floor()
            floors.append(floor)
            walls["floor"].append(floor["wall_s"])
            self.say(f"run {n + 1}/{runs}: floor {floor['wall_s']:.1f} s")
            if naive:
                result = self.naive()
                naives.append(result)
                walls["naive"].append(result["wall_s"])
                self.say(f"run {n + 1}/{runs}: naive {result['wall_s']:.1f} s")
        # The portal's rows again, for the incremental run to start from.
        _empty(connection)
        self.portal_run("full")
        change_directory(changes)
        incremental, inc_wall, inc_requests = self.portal_run("incremental")
        keys_after_changes = MicrosoftUserKey.objects.filter(
            connection=connection, user_id__in=self._changed_ids(changes)
        ).count()
        peak = _rss_mb()
        in_worker = self.worker_run() if worker else None

        full_wall, floor_wall = _median(walls["full"]), _median(walls["floor"])
        median_floor = sorted(floors, key=lambda f: f["wall_s"])[len(floors) // 2]
        result = {
            "database": connections[router.db_for_write(UserMatch)].vendor,
            "debug": settings.DEBUG,
            "runs": runs,
            "users": {"microsoft": full.checkpoint.get("ms_users"), "atlassian": matches.count()},
            "full": {
                "wall_s": full_wall,
                "walls_s": [round(w, 2) for w in walls["full"]],
                "requests": full_requests,
                "rows_written": full_rows,
                "fetched": full.fetched,
                "outcomes": outcomes,
            },
            "incremental": {
                "changes": changes,
                "wall_s": round(inc_wall, 3),
                "requests": inc_requests,
                "fetched": incremental.fetched,
                # each changed user's key rows replaced, plus the accounts whose match changed
                "rows_written": keys_after_changes + incremental.updated,
                "accounts_updated": incremental.updated,
                "mode": incremental.mode,
            },
            "floor": {**median_floor, "wall_s": floor_wall, "walls_s": walls["floor"]},
            "peak_rss_mb": {"before_runs": rss_before, "after_runs": peak, "worker": in_worker},
            "ratios": {
                "full_vs_floor": round(full_wall / floor_wall, 2),
                "incremental_vs_full": round(inc_wall / full_wall, 4),
            },
            "targets": {
                "full_within_1_2x_floor": full_wall <= 1.2 * floor_wall,
                "incremental_under_2pct_of_full": inc_wall < 0.02 * full_wall,
                "incremental_under_10_requests": inc_requests < 10,
            },
        }
        if naives:
            naive_wall = _median(walls["naive"])
            result["naive"] = {**sorted(naives, key=lambda r: r["wall_s"])[len(naives) // 2], "wall_s": naive_wall,
                               "walls_s": walls["naive"]}  # fmt: skip
            result["ratios"]["naive_vs_full"] = round(naive_wall / full_wall, 2)
            # What naive_vs_full would be were the full run exactly as cheap as the floor.
            result["ratios"]["naive_vs_floor"] = round(naive_wall / floor_wall, 2)
            result["targets"]["naive_at_least_10x_full"] = naive_wall >= 10 * full_wall
        if in_worker:
            result["targets"]["worker_peak_under_200_mb"] = in_worker["peak_rss_mb"] <= 200
        return result

    def storm(self, limit: int, window: float, page: int) -> dict:
        """A full run while Graph allows `limit` requests per `window` seconds and answers 429
        with Retry-After past that (its pages of /users counted). `budget_used`: the fastest the
        budget allows for the pages served (the N-th request no earlier than floor((N-1)/limit)
        windows after the first) over the time the run took for them; 1.0 is every allowed
        request used at once."""
        target = faults.tenant_target(str(self.connection.tenant.tenant_id))
        faults.set_fault(Fault.Kind.PAGE_LIMIT, target, max=page)
        faults.set_fault(Fault.Kind.RATE_LIMIT, target, limit=limit, window=window)
        try:
            _empty(self.connection)
            first = _last_request_id()
            _run, wall, _requests = self.portal_run("full")
        finally:
            faults.clear(Fault.Kind.RATE_LIMIT, target)
            faults.clear(Fault.Kind.PAGE_LIMIT, target)
        listing = RequestLog.objects.filter(pk__gt=first, path=f"{defaults.GRAPH_PATH}/v1.0/users")
        graph = list(listing.values_list("created", "status"))
        served = [when for when, status in graph if status == 200]
        refused = sum(1 for _when, status in graph if status == 429)
        span = (max(served) - min(served)).total_seconds() if len(served) > 1 else 0.0
        fastest = math.floor((len(served) - 1) / limit) * window if served else 0.0
        self.say(f"storm: {len(served)} Graph pages served in {span:.1f} s, {refused} answered 429")
        return {
            "limit": limit,
            "window_s": window,
            "page_users": page,
            "wall_s": round(wall, 2),
            "graph_served": len(served),
            "graph_429": refused,
            "graph_span_s": round(span, 2),
            "fastest_span_s": fastest,
            # Within one window nothing was held back: the budget was never what limited the run.
            "budget_used": round(min(1.0, fastest / span), 3) if span and fastest else 1.0,
        }

    def _changed_ids(self, changes: int) -> list[str]:
        """The users the last `changes` directory changes touched (one change number each)."""
        since = DirectoryUser.objects.filter(tenant_id=self.connection.tenant.tenant_id).order_by("-change_seq")
        return [str(pk) for pk in since.values_list("pk", flat=True)[:changes]]

    # -- the floor ---------------------------------------------------------------------------

    def _graph_token(self) -> str:
        return client._app(str(self.connection.tenant.tenant_id), "public").acquire_token_for_client(
            scopes=[client.GRAPH_DEFAULT_SCOPE]
        )["access_token"]

    def _jira_auth(self) -> tuple[str, str]:
        credential = self.connection.site.credentials.get()
        return credential.principal, credential.access_token

    def floor(self) -> dict:
        """The same pages with a bare loop and the same rows written the cheapest honest way."""
        token, auth = self._graph_token(), self._jira_auth()
        first = _last_request_id()
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"}
        now = matching_directory.delta_now_url()
        self.session.get(now, params=matching_directory.delta_now_params(), headers=headers, timeout=60).json()
        url: str | None = matching_directory.users_start_url()
        params: dict[str, str] | None = matching_directory.users_start_params()
        while url:
            body = self.session.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
            url, params = body.get("@odata.nextLink"), None
        start_at = 0
        while True:
            page = self.session.get(
                f"{self.connection.site.url}/rest/api/3/users/search",
                params={"startAt": start_at, "maxResults": matching_directory.JIRA_PAGE_SIZE},
                auth=auth,
                timeout=60,
            ).json()
            start_at += len(page)
            if not page:  # pages may be shorter than asked: only an empty one is the end
                break
        fetch = time.perf_counter() - started
        requests_made = _last_request_id() - first

        # The rows the job wrote, copied out (untimed), removed, then written back in one go.
        match_rows = list(UserMatch.objects.filter(connection=self.connection).values_list(*writes.MATCH_COLUMNS))
        key_rows = list(MicrosoftUserKey.objects.filter(connection=self.connection).values_list(*writes.KEY_COLUMNS))
        _empty(self.connection)
        started = time.perf_counter()
        write_rows(UserMatch, writes.MATCH_COLUMNS, match_rows)
        write_rows(MicrosoftUserKey, writes.KEY_COLUMNS, key_rows)
        write = time.perf_counter() - started
        return {
            "wall_s": round(fetch + write, 2),
            "fetch_s": round(fetch, 2),
            "write_s": round(write, 2),
            "requests": requests_made,
            "rows_written": len(match_rows) + len(key_rows),
            "write_method": "COPY" if connections[router.db_for_write(UserMatch)].vendor == "postgresql"
            else "executemany in one transaction",
        }  # fmt: skip

    # -- what a user would script ------------------------------------------------------------

    def naive(self) -> dict:
        """Page through Graph's /users and Jira's users/search with their default page sizes,
        match lowercased addresses (mail, UPN, SMTP proxy addresses), one ORM save per account."""
        _empty(self.connection)
        token, auth = self._graph_token(), self._jira_auth()
        first = _last_request_id()
        started = time.perf_counter()
        by_address: dict[str, list[str]] = {}
        url = f"{settings.MICROSOFT_GRAPH_URL}/v1.0/users"
        params: dict | None = {"$select": "id,mail,userPrincipalName,proxyAddresses"}
        while url:
            body = self.session.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
            for user in body.get("value", []):
                addresses = {user.get("mail"), user.get("userPrincipalName")}
                addresses |= {p[5:] for p in user.get("proxyAddresses") or () if p.lower().startswith("smtp:")}
                for address in {a.lower() for a in addresses if a}:
                    by_address.setdefault(address, []).append(user["id"])
            url, params = body.get("@odata.nextLink"), None
        start_at, saved = 0, 0
        while True:
            search = f"{self.connection.site.url}/rest/api/3/users/search"
            page = self.session.get(search, params={"startAt": start_at}, auth=auth, timeout=60).json()
            if not page:
                break
            for account in page:
                email = (account.get("emailAddress") or "").lower()
                found = by_address.get(email, []) if email else []
                UserMatch(
                    connection=self.connection,
                    account_id=account["accountId"],
                    display_name=account.get("displayName") or "",
                    email="",
                    outcome="matched" if len(found) == 1 else ("ambiguous" if found else "unmatched"),
                    microsoft_user_id=found[0] if len(found) == 1 else "",
                ).save()
                saved += 1
            start_at += len(page)
        wall = time.perf_counter() - started
        matched = UserMatch.objects.filter(connection=self.connection, outcome="matched").count()
        _empty(self.connection)
        return {"wall_s": round(wall, 2), "requests": _last_request_id() - first, "rows_written": saved,
                "matched": matched}  # fmt: skip

    # -- in a real worker --------------------------------------------------------------------

    def worker_run(self) -> dict:
        """A full run sent through the broker to `celery worker --pool=solo` (a child process):
        its peak resident memory (VmHWM) is the worker's, from start to the run's end."""
        _empty(self.connection)
        worker = start_worker(f"bench-{os.getpid()}")
        try:
            time.sleep(3)
            idle = _vm_hwm(worker.pid)
            started = time.perf_counter()
            run = sync_run_start(connection=self.connection, kind=SyncRun.Kind.USER_MATCHING)
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline and worker.poll() is None:
                run.refresh_from_db()
                if not run.is_active:
                    break
                time.sleep(0.5)
            wall = time.perf_counter() - started
            peak = _vm_hwm(worker.pid)
        finally:
            stop_worker(worker)
        if run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"The run in the worker {run.state}: {run.error}")
        return {"peak_rss_mb": peak, "idle_rss_mb": idle, "wall_s": round(wall, 2), "pool": "solo"}


def start_worker(name: str) -> subprocess.Popen:
    """`celery worker --pool=solo` in a child process, pointed at this process's sandbox."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MICROSOFT_AUTHORITY_HOST": settings.MICROSOFT_AUTHORITY_HOST,
        "MICROSOFT_GRAPH_URL": settings.MICROSOFT_GRAPH_URL,
        "ATLASSIAN_AUTH_URL": settings.ATLASSIAN_AUTH_URL,
        "ATLASSIAN_API_URL": settings.ATLASSIAN_API_URL,
        "ATLASSIAN_EXTRA_SITE_PREFIXES": ",".join(settings.ATLASSIAN_EXTRA_SITE_PREFIXES),
        "HTTP_CA_BUNDLE": settings.HTTP_CA_BUNDLE,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "--loglevel=WARNING", "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _vm_hwm(pid: int) -> float:
    """Peak resident set size of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def write_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows into `model`'s table the cheapest honest way: COPY on PostgreSQL, one executemany
    in one transaction elsewhere. (A plain write: the floor has no conflicts to settle.)"""
    db = connections[router.db_for_write(model)]
    table = model._meta.db_table
    json_columns = [i for i, name in enumerate(columns) if name == "candidates"]
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        if db.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    values = list(row)
                    for i in json_columns:
                        values[i] = json.dumps(values[i])
                    copy.write_row(values)
        else:
            fields = [model._meta.get_field(name) for name in columns]  # by attname too (connection_id)
            prepared = [[f.get_db_prep_save(v, db) for f, v in zip(fields, row, strict=True)] for row in rows]
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", prepared)  # noqa: S608

