"""`manage.py benchmark sync --users 100000`: user matching at scale, against the floor.

1. Seeds the sandbox (in a child process, so this process's peak memory is the worker's):
   N Atlassian accounts on the site `acme` and N Microsoft users in Northwind whose addresses
   meet them by mail, UPN or proxy address, or not at all (and every 10th Atlassian email hidden).
2. Starts the sandbox server (a child process on free ports) unless --origin points at one.
3. Runs a full user matching through the real job code and runner, in this process.
4. Makes --changes changes in the directory and runs an incremental match.
5. Measures the floor: the same pages fetched with a bare requests loop (same URLs, params,
   token) and the same rows written with one bulk insert per table, in this process.
Prints JSON. Replaces the sandbox's data (it is a sandbox): do not point it at a demo you
care about. Needs SANDBOX_ENABLED (DEBUG=true SANDBOX_ENABLED=true).
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

ROOT = Path(__file__).resolve().parents[3]


def _rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _free_port_pair():
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


def _last_request_id():
    from sandbox.models import RequestLog

    return RequestLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def seed(users, changes_room=0):
    """Sandbox data for the benchmark (see the module doc)."""
    from sandbox.atlassian.models import Account
    from sandbox.microsoft.models import DirectoryUser, Tenant
    from sandbox.seeding import seed as sandbox_seed

    sandbox_seed(seed=1, users=5, atlassian_size=users)
    tenant = Tenant.objects.get(display_name="Northwind Traders")
    seq = tenant.change_seq
    emails = Account.objects.filter(sites__name="acme").order_by("pk").values_list("email", flat=True)
    batch = []
    for n, email in enumerate(emails.iterator(chunk_size=5000)):
        if n >= users:
            break
        seq += 1
        case = n % 10
        local = f"user{n}@northwind.example"
        fields = {"user_principal_name": local, "mail": local, "proxy_addresses": [f"SMTP:{local}"]}
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


def change_directory(count):
    """`count` changes in Northwind: a third new users, a third changed addresses, a third deleted."""
    from sandbox.microsoft import directory
    from sandbox.microsoft.models import DirectoryUser, Tenant

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


class Command(BaseCommand):
    help = "Benchmarks: `benchmark sync --users 100000` (user matching, full and incremental, against the floor)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        sync = sub.add_parser("sync", help="user matching at scale")
        sync.add_argument("--users", type=int, default=100_000, help="accounts on each side")
        sync.add_argument("--changes", type=int, default=100, help="directory changes before the incremental run")
        sync.add_argument("--origin", default="", help="a running sandbox (https origin); default: start one")
        sync.add_argument("--skip-seed", action="store_true", help="keep the sandbox data of the last benchmark")
        sync.add_argument("--seed-only", action="store_true", help=None)

    def handle(self, *args, what, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The benchmark runs against the sandbox: set DEBUG=true SANDBOX_ENABLED=true.")
        if options["seed_only"]:
            seed(options["users"])
            return
        result = self.sync(**options)
        self.stdout.write(json.dumps(result, indent=2))

    # -- the run ---------------------------------------------------------------------------

    def sync(self, users, changes, origin, skip_seed, **_):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        manage = [sys.executable, str(ROOT / "manage.py")]
        if not skip_seed:
            started = time.monotonic()
            subprocess.run([*manage, "benchmark", "sync", "--users", str(users), "--seed-only"], env=env, check=True)
            self.stderr.write(f"seeded {users} + {users} in {time.monotonic() - started:.0f} s")
        server = None
        if not origin:
            port = _free_port_pair()
            server = subprocess.Popen(
                [*manage, "sandbox", "serve", "--port", str(port), "--browser-port", str(port - 1)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            origin = f"https://127.0.0.1:{port}"
            self._wait_for(port)
        try:
            return self._measure(users, changes, origin)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)

    def _wait_for(self, port):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise CommandError("The sandbox server did not start.")

    def _world(self, origin):
        from sandbox.atlassian.models import ApiToken
        from sandbox.microsoft.models import Tenant
        from sandbox.testing import point_settings
        from tenants.models import AtlassianSite, MicrosoftTenant, Organization
        from tenants.models.directory import SiteAuthMode, SiteAuthStatus

        from ...models import Connection, Credential

        point_settings(settings, origin, str(settings.SANDBOX_DIR / "ca.pem"))
        # The organization stays (its audit trail is append-only); what it connected is replaced.
        org, _ = Organization.objects.get_or_create(slug="benchmark", defaults={"name": "Benchmark"})
        Connection.objects.filter(organization=org).delete()
        AtlassianSite.objects.filter(organization=org).delete()
        MicrosoftTenant.objects.filter(organization=org).delete()
        token = ApiToken.objects.select_related("account").filter(account__admin_of__name="acme").first()
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
        northwind = Tenant.objects.get(display_name="Northwind Traders")
        tenant = MicrosoftTenant.objects.create(organization=org, tenant_id=northwind.pk, display_name="Northwind")
        return Connection.objects.create(
            organization=org, site=site, tenant=tenant, status=Connection.Status.ACTIVE, features=["user_mapping"]
        )

    def _run(self, connection, mode):
        from ...models import SyncRun
        from ...sync.runner import run_execute

        run = SyncRun.objects.create(
            organization=connection.organization, connection=connection, kind=SyncRun.Kind.USER_MATCHING, mode=mode
        )
        first = _last_request_id()
        started = time.perf_counter()
        run_execute(run.pk)
        wall = time.perf_counter() - started
        run.refresh_from_db()
        if run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"The {mode} run {run.state}: {run.error} {run.remedy}")
        return run, wall, _last_request_id() - first

    def _measure(self, users, changes, origin):
        from ...models import MicrosoftUserKey, UserMatch

        connection = self._world(origin)
        rss_before = _rss_mb()
        full, full_wall, full_requests = self._run(connection, "full")
        matches = UserMatch.objects.filter(connection=connection)
        keys = MicrosoftUserKey.objects.filter(connection=connection)
        full_rows = matches.count() + keys.count()
        outcomes = {o: matches.filter(outcome=o).count() for o in ("matched", "unmatched", "ambiguous", "hidden")}

        change_directory(changes)
        incremental, inc_wall, inc_requests = self._run(connection, "incremental")
        keys_after_changes = keys.filter(user_id__in=self._changed_ids(connection, changes)).count()
        peak = _rss_mb()

        floor = self._floor(connection)
        return {
            "users": {"microsoft": full.checkpoint.get("ms_users"), "atlassian": matches.count()},
            "full": {
                "wall_s": round(full_wall, 2),
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
            "floor": floor,
            "peak_rss_mb": {"before_runs": rss_before, "after_runs": peak},
            "ratios": {
                "full_vs_floor": round(full_wall / floor["wall_s"], 2),
                "incremental_vs_full": round(inc_wall / full_wall, 4),
            },
            "targets": {
                "full_within_1_5x_floor": full_wall <= 1.5 * floor["wall_s"],
                "incremental_under_2pct_of_full": inc_wall < 0.02 * full_wall,
                "incremental_under_10_requests": inc_requests < 10,
                "peak_memory_under_300_mb": peak < 300,
            },
        }

    def _changed_ids(self, connection, changes):
        """The users the last `changes` directory changes touched (one change number each)."""
        from sandbox.microsoft.models import DirectoryUser

        since = DirectoryUser.objects.filter(tenant_id=connection.tenant.tenant_id).order_by("-change_seq")
        return [str(pk) for pk in since.values_list("pk", flat=True)[:changes]]

    def _floor(self, connection):
        """The same pages with a bare loop and the same rows with one bulk insert per table."""
        from ...matching import directory
        from ...microsoft import client
        from ...models import MicrosoftUserKey, UserMatch

        token = client._app(str(connection.tenant.tenant_id), "public").acquire_token_for_client(
            scopes=[client.GRAPH_DEFAULT_SCOPE]
        )["access_token"]
        credential = connection.site.credentials.get()
        session = requests.Session()
        session.verify = settings.HTTP_CA_BUNDLE
        session.trust_env = False
        first = _last_request_id()
        started = time.perf_counter()
        url, params = directory.delta_start_url(), directory.delta_start_params()
        while url:
            body = session.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
            url, params = body.get("@odata.nextLink"), None
        start_at = 0
        while True:
            page = session.get(
                f"{connection.site.url}/rest/api/3/users/search",
                params={"startAt": start_at, "maxResults": directory.JIRA_PAGE_SIZE},
                auth=(credential.principal, credential.access_token),
                timeout=60,
            ).json()
            start_at += len(page)
            if not page:  # pages may be shorter than asked: only an empty one is the end
                break
        fetch = time.perf_counter() - started
        requests_made = _last_request_id() - first

        # The rows the job wrote, copied out (untimed), removed, then written back in one go.
        match_fields = [f.attname for f in UserMatch._meta.concrete_fields if f.attname != "id"]
        key_fields = [f.attname for f in MicrosoftUserKey._meta.concrete_fields if f.attname != "id"]
        match_rows = list(UserMatch.objects.filter(connection=connection).values_list(*match_fields))
        key_rows = list(MicrosoftUserKey.objects.filter(connection=connection).values_list(*key_fields))
        UserMatch.objects.filter(connection=connection).delete()
        MicrosoftUserKey.objects.filter(connection=connection).delete()
        started = time.perf_counter()
        with transaction.atomic():
            UserMatch.objects.bulk_create([UserMatch(**dict(zip(match_fields, r, strict=True))) for r in match_rows])
            MicrosoftUserKey.objects.bulk_create(
                [MicrosoftUserKey(**dict(zip(key_fields, r, strict=True))) for r in key_rows]
            )
        write = time.perf_counter() - started
        return {
            "wall_s": round(fetch + write, 2),
            "fetch_s": round(fetch, 2),
            "write_s": round(write, 2),
            "requests": requests_made,
            "rows_written": len(match_rows) + len(key_rows),
        }
