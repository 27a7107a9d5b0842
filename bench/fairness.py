"""`manage.py benchmark fairness --tenants 20 --users 5000 --workers 2 --throttled 2`: many tenants
on few workers, and what a throttled tenant costs the others.

Seeds --tenants Microsoft tenants of --users users each (consented), all meeting the accounts of
the Atlassian site `acme`, connects each to `acme` in one organization, starts --workers real
Celery workers (child processes, solo pool, the configured broker) and starts one full user
matching per connection at once, twice:
- unthrottled: every run as fast as the sandbox serves;
- throttled: the first --throttled tenants answer Graph with 429 after --limit requests per
  --window seconds (Retry-After: the rest of the window); their runs give their worker back
  while they wait (SYNC_GIVE_BACK_AFTER) instead of sleeping in it.
Prints JSON: each run's time from the common start to its end, per phase, and for the tenants
that were not throttled the ratio of their times (throttled over unthrottled). Target: the others
finish within 1.2x of their unthrottled time.
"""

import os
import statistics
import subprocess
import time
import uuid

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from connections.models import Connection, MicrosoftUserKey, SyncRun, UserMatch
from connections.sync.services import sync_run_start
from sandbox import db as sandbox_db
from sandbox import faults
from sandbox.microsoft import directory
from sandbox.microsoft.models import DirectoryUser, Domain, Tenant
from sandbox.seeding import seed as sandbox_seed

from . import sync

PREFIX = "Fairness"


def add_arguments(parser) -> None:
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--users", type=int, default=5000, help="users per tenant (and accounts on acme)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (one run at a time each)")
    parser.add_argument("--throttled", type=int, default=2, help="tenants throttled in the second phase")
    parser.add_argument("--limit", type=int, default=2, help="Graph requests a throttled tenant may make per window")
    parser.add_argument("--window", type=float, default=20, help="seconds")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--seed-only", action="store_true", help=None)


def run(command, *, tenants, users, workers, throttled, limit, window, skip_seed, seed_only, **_) -> dict | None:
    if not settings.SANDBOX_ENABLED:
        raise CommandError("The benchmark runs against the sandbox: set DEBUG=true SANDBOX_ENABLED=true.")
    if seed_only:
        seed(tenants, users)
        return None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not skip_seed:
        started = time.monotonic()
        subprocess.run([*sync.MANAGE, "benchmark", "fairness", "--tenants", str(tenants), "--users", str(users),
                        "--seed-only"], env=env, check=True)  # fmt: skip
        command.stderr.write(f"seeded {tenants} x {users} in {time.monotonic() - started:.0f} s")
    port = sync._free_port_pair()
    server = subprocess.Popen(
        [*sync.MANAGE, "sandbox", "serve", "--port", str(port), "--browser-port", str(port - 1)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    origin = f"https://127.0.0.1:{port}"
    sync._wait_for(port)
    pool = []
    try:
        connections = world(origin)
        for n in range(workers):
            pool.append(sync.start_worker(f"fair{n}-{os.getpid()}"))
        time.sleep(3)
        race(connections[:workers], timeout=600)  # warm-up: each worker's first run loads what it needs
        command.stderr.write("unthrottled ...")
        calm = race(connections, timeout=1800)
        slow = connections[:throttled]
        for connection in slow:
            faults.set_fault("rate_limit", faults.tenant_target(connection.tenant.tenant_id), limit=limit,
                             window=window)  # fmt: skip
        command.stderr.write("throttled ...")
        try:
            stormy = race(connections, timeout=1800, wait_for=connections[throttled:])
        finally:
            for connection in slow:
                faults.clear(target=faults.tenant_target(connection.tenant.tenant_id))
    finally:
        for worker in pool:
            sync.stop_worker(worker)
        server.terminate()
        server.wait(timeout=20)
    others = [c.pk for c in connections[throttled:]]
    ratios = [stormy[pk]["s"] / calm[pk]["s"] for pk in others]
    last_calm = max(calm[pk]["s"] for pk in others)
    last_stormy = max(stormy[pk]["s"] for pk in others)
    return {
        "tenants": tenants,
        "users_per_tenant": users,
        "workers": workers,
        "throttled": {"tenants": throttled, "graph_limit": limit, "window_s": window,
                      "give_back_after_s": settings.SYNC_GIVE_BACK_AFTER},  # fmt: skip
        "unthrottled": {"last_finish_s": round(max(r["s"] for r in calm.values()), 1), "runs": list(calm.values())},
        "with_throttled": {
            "others_last_finish_s": round(last_stormy, 1),
            "throttled_runs": [stormy[c.pk] for c in slow],
            "runs": list(stormy.values()),
        },
        "others": {
            "last_finish_ratio": round(last_stormy / last_calm, 2),
            "median_ratio": round(statistics.median(ratios), 2),
            "max_ratio": round(max(ratios), 2),
        },
        "targets": {"others_within_1_2x": last_stormy <= 1.2 * last_calm},
    }


def seed(tenants: int, users: int) -> None:
    if sandbox_db.ALIAS in settings.DATABASES:
        call_command("migrate", database=sandbox_db.ALIAS, verbosity=0)
    sandbox_seed(seed=1, users=5, atlassian_size=users)
    for n in range(tenants):
        add_tenant(n, users)


def add_tenant(n: int, users: int) -> Tenant:
    """Sandbox tenant `Fairness <n>`, its admin consented to the portal, with `users` users
    meeting acme's first accounts."""
    app = directory.ensure_portal_app()
    tenant = Tenant.objects.create(id=uuid.uuid4(), display_name=f"{PREFIX} {n:02d}")
    initial = f"fairness{n:02d}.onmicrosoft.com"
    Domain.objects.create(tenant=tenant, name=initial, is_initial=True, is_verified=True)
    admin = DirectoryUser.objects.create(
        tenant=tenant, user_principal_name=f"admin@{initial}", display_name="Admin", password="x", change_seq=1
    )
    tenant.change_seq = 1
    sync.add_directory_users(tenant, users, prefix=f"t{n}u")
    directory.grant_admin_consent(tenant=tenant, app=app, admin=admin)
    return tenant


def world(origin: str) -> list[Connection]:
    org, site = sync.benchmark_site(origin, "benchmark-fairness")
    tenants = Tenant.objects.filter(display_name__startswith=PREFIX).order_by("display_name")
    return [sync.connect(org, site, tenant) for tenant in tenants]


def race(connections: list[Connection], *, timeout: float, wait_for: list[Connection] | None = None) -> dict:
    """One full run per connection, all started at once; each run's seconds to its end."""
    for connection in connections:
        UserMatch.objects.filter(connection=connection).delete()
        MicrosoftUserKey.objects.filter(connection=connection).delete()
    started, start_time = time.monotonic(), timezone.now()
    runs = {c.pk: sync_run_start(connection=c, kind=SyncRun.Kind.USER_MATCHING) for c in connections}
    awaited = {c.pk for c in (wait_for or connections)}
    while time.monotonic() - started < timeout:
        ended = set(
            SyncRun.objects.filter(pk__in=[runs[pk].pk for pk in awaited])
            .exclude(state__in=SyncRun.ACTIVE_STATES)
            .values_list("connection_id", flat=True)
        )
        if ended >= awaited:
            break
        time.sleep(0.5)
    result = {}
    for pk, run in runs.items():
        run.refresh_from_db()
        if run.is_active:
            SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
            run.refresh_from_db()
        end = run.finished_at or timezone.now()
        result[pk] = {"connection": pk, "tenant": run.connection.tenant.display_name, "state": run.state,
                      "s": round((end - start_time).total_seconds(), 1), "attempts": run.attempts}  # fmt: skip
        if pk in awaited and run.state != SyncRun.State.SUCCEEDED:
            raise CommandError(f"run {run.pk} of {result[pk]['tenant']} {run.state}: {run.error}")
    # Runs still going (a throttled tenant) are cancelled; let the workers drop them.
    time.sleep(2)
    return result
