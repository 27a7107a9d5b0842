"""`benchmark pages`: every list and summary page on a big organization against an empty one.

Builds (or reuses) two organizations in the current database: "empty" (one site, one tenant,
one connection between them, ten audit events: the least every page can show) and "big"
(--connections connections between about sqrt(N) sites and sqrt(N) tenants, in every status,
and --audit-events audit events from 50 actors). Rows go in with bulk inserts (COPY on
PostgreSQL), so 10,000 connections and 1,000,000 events take a minute or two. Then it opens
each page as a signed-in admin (support pages as support staff with their second factor)
through the whole Django stack, --repeat times after one warm-up, and prints JSON: per page
the queries, the median time and the size on each organization, and `ratio` (big / empty).

The data stays (audit events cannot be deleted): a later run with the same sizes reuses it;
--fresh builds anew. The events are bulk data written past the audit trail's hash chain, so
`audit verify` reports them: use a database of its own.
"""

import math
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.app_settings import TOTP_PERIOD
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.core.cache import cache
from django.db import connection as db
from django.db import reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from tenants.middleware import SESSION_KEY
from tenants.models import AtlassianSite, AuditEvent, Membership, MicrosoftTenant, Organization, Role, User
from tenants.services import support_access_open

TARGET_RATIO = 2.0
ACTORS = 50
BIG_NAME, EMPTY_NAME = "Benchmark big", "Benchmark empty"
PASSWORD = "benchmark-pages-" + "x" * 8

# How the big organization's connections are spread over the statuses (every 100).
STATUS_MIX = (
    [Connection.Status.ACTIVE] * 90
    + [Connection.Status.DEGRADED] * 4
    + [Connection.Status.PENDING_CONSENT] * 3
    + [Connection.Status.NEEDS_REAUTH] * 2
    + [Connection.Status.DISCONNECTED]
)


def _status(n: int, connections: int) -> str:
    """The n-th connection's status: every status among the first five (so a small run shows
    each page with rows in it), then spread as in STATUS_MIX; a lone connection is active."""
    if connections == 1:
        return Connection.Status.ACTIVE
    if n < len(Connection.Status.values):
        return Connection.Status.values[n]
    return STATUS_MIX[n * 37 % len(STATUS_MIX)]


def add_arguments(parser: Any) -> None:
    parser.add_argument("--connections", type=int, default=10_000, help="connections of the big organization")
    parser.add_argument("--audit-events", type=int, default=1_000_000, help="audit events of the big organization")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page and organization")
    parser.add_argument("--fresh", action="store_true", help="build new organizations even if matching ones exist")


@dataclass
class World:
    """One benchmark organization and what its pages are opened with."""

    organization: Organization
    site: AtlassianSite
    tenant: MicrosoftTenant
    connection: Connection
    deep_event_id: int  # an event about halfway down the trail: the audit trail's deep page


# --- building -----------------------------------------------------------------------------------


def _find(name: str, connections: int, events: int) -> Organization | None:
    for org in Organization.objects.filter(name=name).order_by("-pk")[:5]:
        if (Connection.objects.filter(organization=org).count() == connections
                and AuditEvent.objects.filter(organization=org).count() >= events):
            return org
    return None


def _build(name: str, connections: int, events: int, admin: User) -> Organization:
    tag = uuid.uuid4().hex[:8]
    with transaction.atomic():
        org = Organization.objects.create(name=name, slug=f"benchmark-{tag}")
        Membership.objects.create(organization=org, user=admin, role=Role.ADMIN)
        side = max(1, math.ceil(math.sqrt(connections)))
        tenants_needed = max(1, math.ceil(connections / side))
        AtlassianSite.objects.bulk_create(
            AtlassianSite(organization=org, url=f"https://b{tag}-site-{i:04d}.atlassian.net", name=f"site-{i:04d}",
                          products=["jira"])
            for i in range(side)
        )
        MicrosoftTenant.objects.bulk_create(
            MicrosoftTenant(organization=org, tenant_id=uuid.uuid4(), display_name=f"Tenant {j:04d}",
                            domains=[{"name": f"t{j}.example", "verified": False}])
            for j in range(tenants_needed)
        )
        site_ids = list(AtlassianSite.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
        tenant_ids = list(MicrosoftTenant.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
        Connection.objects.bulk_create(
            (
                Connection(organization=org, site_id=site_ids[n // tenants_needed],
                           tenant_id=tenant_ids[n % tenants_needed], features=["user_mapping"],
                           status=_status(n, connections))
                for n in range(connections)
            ),
            batch_size=2000,
        )
    first = Connection.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
    _insert_events(org, events, list(first[:1000]))
    return org


def _event_rows(org: Organization, count: int, connection_ids: list[int]):
    now = timezone.now()
    actions = ["connection.verified", "sync.run_started", "sync.run_finished", "health.checks_ran",
               "consent.granted", "connection.features_changed"]
    for n in range(count):
        target = connection_ids[n % len(connection_ids)] if connection_ids else 0
        actor = n % ACTORS
        yield (
            org.pk, "user", None, f"person{actor:02d}@bench.example", actions[n % len(actions)],
            "connection", str(target), f"connection {target}", "{}", "192.0.2.1", "benchmark",
            now - timedelta(seconds=30 * n + 1),
        )


COLUMNS = ("organization_id", "actor_type", "actor_user_id", "actor_label", "action", "target_type", "target_id",
           "target_label", "details", "ip_address", "user_agent", "created_at")


def _insert_events(org: Organization, count: int, connection_ids: list[int]) -> None:
    """`count` events, newest first every 30 s back from now: COPY on PostgreSQL, executemany
    in one transaction elsewhere (the append-only trigger allows INSERT)."""
    table = AuditEvent._meta.db_table
    rows = _event_rows(org, count, connection_ids)
    with transaction.atomic(), db.cursor() as cursor:
        if db.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
            batch: list[tuple] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 5000:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            # What autovacuum does soon after a bulk load: statistics, and the visibility map that
            # lets counts read the indexes alone. VACUUM cannot run inside a transaction (tests).
            verb = "ANALYZE" if db.in_atomic_block else "VACUUM ANALYZE"
            for model in (AuditEvent, Connection, AtlassianSite, MicrosoftTenant):
                cursor.execute(f"{verb} {model._meta.db_table}")


def _world(org: Organization) -> World:
    connection = Connection.objects.filter(organization=org).select_related("site", "tenant").order_by("pk").first()
    assert connection is not None
    events = AuditEvent.objects.filter(organization=org).order_by("-created_at", "-pk")
    total = events.count()
    deep = events.values_list("pk", flat=True)[total // 2] if total else 0
    return World(org, connection.site, connection.tenant, connection, deep)


def _people(tag: str) -> tuple[User, User, str]:
    """An admin of both organizations, and support staff with an authenticator (and its secret)."""
    admin = User.objects.create_user(f"bench-admin-{tag}", f"bench-admin-{tag}@bench.example", PASSWORD)
    staff = User.objects.create_user(f"bench-staff-{tag}", f"bench-staff-{tag}@bench.example", PASSWORD,
                                     is_staff=True)
    for user in (admin, staff):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    return admin, staff, secret


# --- measuring ----------------------------------------------------------------------------------


def _client(user: User, secret: str | None = None) -> Client:
    """Signed in through the portal's own sign-in (the password, then a code when they have one)."""
    client = Client(SERVER_NAME="localhost")
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, secure=True)
    if secret is not None:
        cache.clear()  # a code works once: the record of used codes lives in the cache
        if TOTP_PERIOD - time.time() % TOTP_PERIOD < 1:
            time.sleep(1)
        code = format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD))
        client.post(reverse("mfa_authenticate"), {"code": code}, secure=True)
    return client


def pages(world: World) -> dict[str, tuple[str, str]]:
    """Each page: (who opens it, its address) for one organization."""
    org, site, tenant, conn = world.organization, world.site, world.tenant, world.connection
    return {
        "dashboard": ("admin", reverse("tenants:dashboard")),
        "connection_list": ("admin", reverse("connections:connection_list")),
        "connection_list_degraded": ("admin", reverse("connections:connection_list") + "?status=degraded"),
        "connection_list_search": ("admin", reverse("connections:connection_list") + f"?q={tenant.display_name}"),
        "site_list": ("admin", reverse("tenants:site_list")),
        "site_list_search": ("admin", reverse("tenants:site_list") + f"?q={site.name}"),
        "tenant_list": ("admin", reverse("tenants:tenant_list")),
        "site_detail": ("admin", reverse("tenants:site_detail", args=[site.pk])),
        "tenant_detail": ("admin", reverse("tenants:tenant_detail", args=[tenant.pk])),
        "connection_detail": ("admin", reverse("connections:connection_detail", args=[conn.pk])),
        "audit": ("admin", reverse("tenants:audit_list")),
        "audit_deep_page": ("admin", reverse("tenants:audit_list") + f"?after={world.deep_event_id}"),
        "audit_actor_filter": ("admin", reverse("tenants:audit_list") + "?actor=person07"),
        "support_organization_list": ("staff", reverse("support:organization_list")),
        "support_organization_detail": ("staff", reverse("support:organization_detail", args=[org.pk])),
        "support_connection_detail": ("staff", reverse("support:connection_detail", args=[conn.pk])),
        "support_audit": ("staff", reverse("support:audit_list") + f"?organization={org.pk}"),
    }


def _first(client: Client, url: str) -> tuple[int, int]:
    """One request (also the warm-up): its number of queries and its size."""
    reset_queries()  # the log keeps at most 9,000 queries: a full one would count none
    with CaptureQueriesContext(db) as queries:
        response = client.get(url, secure=True)
    count = len(queries)  # now: the captured slice is read from the log, which the next request clears
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return count, len(response.content)


def _timed(client: Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url, secure=True)
    return time.perf_counter() - started


def _measure(sides: dict[str, tuple[Client, str]], repeat: int) -> dict[str, Any]:
    """Each side's page, timed in turns (empty, big, empty, ...) so that a change in the
    machine's load falls on both alike."""
    firsts = {key: _first(client, url) for key, (client, url) in sides.items()}
    times: dict[str, list[float]] = {key: [] for key in sides}
    for _ in range(repeat):
        for key, (client, url) in sides.items():
            times[key].append(_timed(client, url))
    return {
        key: {"queries": firsts[key][0], "median_ms": round(statistics.median(times[key]) * 1000, 2),
              "bytes": firsts[key][1]}
        for key in sides
    }


def run(command: Any, *, connections: int, audit_events: int, repeat: int, fresh: bool = False,
        log: Callable[[str], None] | None = None, **_: Any) -> dict[str, Any]:
    say = log or (lambda text: command.stderr.write(text))
    tag = uuid.uuid4().hex[:8]
    admin, staff, secret = _people(tag)
    started = time.monotonic()
    built = {}
    for key, name, size, events in (("empty", EMPTY_NAME, 1, 10), ("big", BIG_NAME, connections, audit_events)):
        org = None if fresh else _find(name, size, events)
        if org is None:
            say(f"building {key}: {size} connections, {events} audit events")
            org = _build(name, size, events, admin)
        else:
            Membership.objects.get_or_create(organization=org, user=admin, defaults={"role": Role.ADMIN})
        built[key] = _world(org)
    build_seconds = round(time.monotonic() - started, 1)
    say(f"data ready in {build_seconds} s; measuring")

    for world in built.values():
        # Support opens an organization's pages under an access with a ticket and a reason.
        support_access_open(organization=world.organization, ticket="BENCH-1",
                            reason="Measuring how fast the support pages answer.", acting_user=staff)
    staff_client = _client(staff, secret)
    clients: dict[str, dict[str, Client]] = {}
    for key, world in built.items():
        admin_client = _client(admin)
        session = admin_client.session
        session[SESSION_KEY] = world.organization.pk
        session.save()
        clients[key] = {"admin": admin_client, "staff": staff_client}
    addresses = {key: pages(world) for key, world in built.items()}
    result: dict[str, Any] = {}
    for page in addresses["empty"]:
        sides = {}
        for key in built:
            who, url = addresses[key][page]
            sides[key] = (clients[key][who], url)
        result[page] = _measure(sides, repeat)
    for page in result.values():
        page["ratio"] = round(page["big"]["median_ms"] / max(page["empty"]["median_ms"], 0.01), 2)
    return {
        "benchmark": "pages",
        "database": db.vendor,
        "connections": connections,
        "audit_events": audit_events,
        "repeat": repeat,
        "build_seconds": build_seconds,
        "target_ratio": TARGET_RATIO,
        "worst_ratio": max(p["ratio"] for p in result.values()),
        "pages": result,
    }

