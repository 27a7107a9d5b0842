"""Deterministic Atlassian data: three sites (one Jira Service Management), accounts with the
awkward cases real directories have, spaces and pages enough for several pages of cursor
paging, space permissions, page restrictions, Jira projects and API tokens.

`size` scales the generated accounts (100,000 in the benchmark: bulk inserts only)."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections

from sandbox.db import alias, atomic

from . import offsets
from .admin_seed import seed_admin
from .apps_registry import ensure_portal_app
from .models import (
    Account,
    ApiToken,
    Group,
    Issue,
    Page,
    PageRestriction,
    Project,
    ProjectAgent,
    Site,
    Space,
    SpacePermission,
)

BATCH = 5000
ADMIN_PASSWORD = "atlassian-admin-Pw1"  # noqa: S105  sandbox-only credentials, printed by `sandbox info`
USER_PASSWORD = "atlassian-user-Pw1"  # noqa: S105

SITES = [
    ("acme", ["jira-software", "confluence"]),
    ("acme-support", ["jira-servicedesk", "jira-software"]),
    ("globex", ["confluence", "jira-software"]),
]

# (key, display name, email, sites, extra fields); the awkward cases are named for what they are.
NAMED: list[tuple[str, str, str, list[str], dict[str, Any]]] = [
    # Ada's profile says Los Angeles: Confluence reads her CQL dates in that time zone.
    (
        "admin",
        "Ada Admin",
        "ada.admin@acme.example",
        ["acme", "acme-support", "globex"],
        {"admin": True, "time_zone": "America/Los_Angeles"},
    ),
    ("mixed-case", "Bea Member", "Bea.Member@Acme.example", ["acme", "acme-support"], {}),
    ("hidden-email", "Hal Hidden", "hal.hidden@acme.example", ["acme", "acme-support"], {"email_visible": False}),
    ("shared-email-1", "Sam Shared", "shared@acme.example", ["acme"], {}),
    ("shared-email-2", "Sam Shared (second account)", "shared@acme.example", ["acme"], {}),
    ("inactive", "Ian Inactive", "ian.inactive@acme.example", ["acme"], {"active": False}),
    ("customer", "Cora Customer", "cora@customer.example", ["acme-support"], {"account_type": "customer"}),
    (
        "app",
        "Automation for Jira",
        "noreply@automation.example",
        ["acme", "acme-support"],
        {"account_type": "app", "email_visible": False},
    ),
    ("globex-only", "Gil Globex", "gil@globex.example", ["globex"], {"admin_of": ["globex"]}),
]


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _account_id(rng):
    return "557058:" + _uuid(rng)


def _when(rng):
    start = datetime(2017, 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(0, 8 * 365 * 86400))


@atomic()
def seed_atlassian(rng: random.Random, size: int):
    offsets.members.clear()
    Site.objects.all().delete()
    Account.objects.all().delete()
    sites = {name: Site.objects.create(name=name, cloud_id=_uuid(rng), products=products) for name, products in SITES}
    ensure_portal_app()

    named = {}
    for key, name, email, site_names, extra in NAMED:
        account = Account.objects.create(
            account_id=_account_id(rng),
            email=email,
            display_name=name,
            email_visible=extra.get("email_visible", True),
            active=extra.get("active", True),
            account_type=extra.get("account_type", "atlassian"),
            time_zone=extra.get("time_zone", "UTC"),
            password=ADMIN_PASSWORD if key == "admin" else USER_PASSWORD,
        )
        account.sites.set([sites[s] for s in site_names])
        admin_of = site_names if extra.get("admin") else extra.get("admin_of", [])
        account.admin_of.set([sites[s] for s in admin_of])
        if account.account_type == "atlassian" and account.active:
            ApiToken.objects.create(account=account, token=f"ATATT3x{rng.getrandbits(160):040x}")
        named[key] = account

    _generated_users(rng, size, sites)
    _confluence(rng, sites, named)
    _jira(sites)
    _incidents(sites, named)
    _analyze(Account, Account.sites.through)
    # Its own generator: the organization's ids and key never reshuffle the sites.
    seed_admin(random.Random(rng.getrandbits(32)))  # noqa: S311
    return {"sites": len(sites), "accounts": Account.objects.count()}


def _analyze(*models):
    """Fresh planner statistics after bulk inserts (PostgreSQL): with the empty tables' estimates
    it would hash-join every member of a site for each page instead of walking the index."""
    connection = connections[alias()]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _generated_users(rng, size, sites):
    """Plain members of acme (every third also on acme-support); every 10th hides its email,
    every 7th has an upper-case email (directories differ in case)."""
    first = ["Alex", "Kim", "Noor", "Jo", "Ravi", "Mia", "Lena", "Omar", "Yuki", "Zoe"]
    last = ["Smith", "Garcia", "Okafor", "Tanaka", "Novak", "Müller", "Silva", "Khan", "Berg", "Rossi"]
    Through = Account.sites.through
    for offset in range(0, size, BATCH):
        accounts = []
        for n in range(offset, min(size, offset + BATCH)):
            given, family = first[n % 10], last[(n // 10) % 10]
            email = f"{given.lower()}.{family.lower()}{n}@acme.example".replace("ü", "u")
            if n % 7 == 3:
                email = email.upper()
            accounts.append(
                Account(
                    account_id=_account_id(rng),
                    email=email,
                    display_name=f"{given} {family} {n}",
                    email_visible=n % 10 != 5,
                    active=n % 50 != 7,
                )
            )
        created = Account.objects.bulk_create(accounts, batch_size=BATCH)
        links = [Through(account_id=a.pk, site_id=sites["acme"].pk) for a in created]
        links += [
            Through(account_id=a.pk, site_id=sites["acme-support"].pk) for i, a in enumerate(created) if i % 3 == 0
        ]
        Through.objects.bulk_create(links, batch_size=BATCH)


def group_uuid(site_name, name):
    """A group's id: a UUID as Confluence gives, stable across seeds (no draw from the generator)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-confluence-group:{site_name}:{name}"))


# Groups of each Confluence site: (site, name, member keys of NAMED or "*" for every account).
GROUPS = [
    ("acme", "confluence-users", "*"),
    ("acme", "hr", ["admin", "mixed-case"]),
    ("acme", "engineering-leads", ["admin", "hidden-email"]),
    ("acme", "contractors", ["shared-email-1"]),
    ("globex", "confluence-users", "*"),
]


def _groups(sites, named):
    for site_name, name, members in GROUPS:
        group = Group.objects.create(site=sites[site_name], group_id=group_uuid(site_name, name), name=name)
        if members == "*":
            accounts = Account.objects.filter(sites=sites[site_name], account_type="atlassian")
            through = group.members.through
            pks = accounts.values_list("pk", flat=True)
            through.objects.bulk_create([through(group_id=group.pk, account_id=pk) for pk in pks], batch_size=BATCH)
        else:
            group.members.set([named[k] for k in members])


def _tree(pages):
    """ENG's pages as a tree (page n under page (n-1)//3); blog posts stay out of it."""
    eng = [p for p in pages if p.space.key == "ENG"]
    by_index = {n: p for n, p in enumerate(eng)}
    for n, page in by_index.items():
        if n == 0 or page.type != "page":
            continue
        parent = by_index.get((n - 1) // 3)
        page.parent = parent if parent is not None and parent.type == "page" else by_index[0]
        page.save(update_fields=["parent"])
    return by_index


def _confluence(rng, sites, named):
    admin = named["admin"]
    author = admin.account_id
    space_specs = [
        ("acme", "ENG", "Engineering", 60, False),
        ("acme", "HR", "People", 12, False),
        ("acme", "PUB", "Public handbook", 6, True),
    ]
    space_specs += [("acme", f"TEAM{i:02d}", f"Team space {i}", 1, False) for i in range(1, 28)]
    space_specs += [("globex", "GX", "Globex wiki", 8, False), ("globex", "OPS", "Operations", 3, False)]
    spaces, pages, perms = [], [], []
    page_id, perm_id = 65537, 1
    for index, (site_name, key, name, page_count, anonymous) in enumerate(space_specs):
        space = Space(
            site=sites[site_name], space_id=32769 + index, key=key, name=name, anonymous_access=anonymous, type="global"
        )
        spaces.append(space)
        users_group = group_uuid(site_name, "confluence-users")
        grants = [("group", users_group, "read"), ("user", author, "read"), ("user", author, "administer")]
        if anonymous:
            grants.append(("anonymous", "", "read"))
        if key == "HR":
            hr = group_uuid(site_name, "hr")
            grants = [("group", hr, "read"), ("user", author, "read"), ("user", author, "administer")]
        for principal_type, principal_id, operation in grants:
            perms.append(
                (
                    space,
                    SpacePermission(
                        perm_id=perm_id, principal_type=principal_type, principal_id=principal_id, operation=operation
                    ),
                )
            )
            perm_id += 1
        for n in range(page_count):
            created = _when(rng)
            modified = created + timedelta(days=rng.randrange(0, 400))
            kind = "blogpost" if key == "ENG" and n % 20 == 19 else "page"
            title = f"{name} {'post' if kind == 'blogpost' else 'page'} {n + 1}"
            body = (
                f'<p>{title}.</p><ac:structured-macro ac:name="info"><ac:rich-text-body><p>Seeded.</p>'
                f"</ac:rich-text-body></ac:structured-macro>"
            )
            pages.append(
                (
                    space,
                    Page(
                        site=sites[site_name],
                        page_id=page_id,
                        type=kind,
                        title=title,
                        body=body,
                        author_id=author,
                        created_at=created,
                        modified_at=modified,
                        version=1 + n % 4,
                    ),
                )
            )
            page_id += 1
    Space.objects.bulk_create(spaces)
    for space, perm in perms:
        perm.space = space
    SpacePermission.objects.bulk_create([p for _, p in perms])
    for space, page in pages:
        page.space = space
    Page.objects.bulk_create([p for _, p in pages])
    _groups(sites, named)
    eng = _tree([p for _, p in pages])
    hr_pages = list(Page.objects.filter(space__key="HR").order_by("page_id")[:2])
    PageRestriction.objects.bulk_create(
        [
            PageRestriction(page=hr_pages[0], operation="read", account=admin),
            PageRestriction(page=hr_pages[0], operation="read", group="hr"),
            PageRestriction(page=hr_pages[0], operation="update", account=admin),
            PageRestriction(page=hr_pages[1], operation="read", account=named["hidden-email"]),
            # A restricted parent: "Engineering page 5" and everything below it (pages 14-16,
            # 41-49, ...) are for the engineering leads only, though the children list no
            # restriction of their own.
            PageRestriction(page=eng[4], operation="read", group="engineering-leads"),
            PageRestriction(page=eng[4], operation="update", account=admin),
            # Below it, one page narrowed further to Ada alone.
            PageRestriction(page=eng[13], operation="read", account=admin),
            # A page for one group only.
            PageRestriction(page=eng[30], operation="read", group="contractors"),
        ]
    )


def _jira(sites):
    specs = [
        ("acme", "ENG", "Engineering", "software"),
        ("acme", "WEB", "Website", "software"),
        ("acme", "MKT", "Marketing", "business"),
        ("acme-support", "IT", "IT Support", "service_desk"),
        ("acme-support", "HRSD", "HR Service Desk", "service_desk"),
        ("acme-support", "FAC", "Facilities", "service_desk"),
        ("acme-support", "DEV", "Development", "software"),
        ("globex", "GX", "Globex", "software"),
    ]
    Project.objects.bulk_create(
        [
            Project(site=sites[s], project_id=10000 + i, key=k, name=n, project_type_key=t)
            for i, (s, k, n, t) in enumerate(specs)
        ]
    )


# Incidents of the IT service project: (summary, status, status category, priority).
INCIDENTS = [
    ("Email delivery delayed for all staff", "Open", "new", "Highest"),
    ("VPN drops every few minutes", "Work in progress", "indeterminate", "High"),
    ("Printer on floor 3 offline", "Open", "new", "Low"),
    ("Payroll export failing", "Open", "new", "High"),
    ("Wi-Fi slow in building B", "Open", "new", "Medium"),
    ("Password reset emails missing", "Resolved", "done", "Medium"),
    ("Shared drive unreachable", "Open", "new", "High"),
]


def _incidents(sites, named):
    """Incidents in the IT service project of acme-support, with Ada Admin and Bea Member as
    its agents: the first is assigned to Ada, watched by Bea, with Hal Hidden as a request
    participant; one is resolved (the open-incident search leaves it out)."""
    project = Project.objects.get(site=sites["acme-support"], key="IT")
    for agent in ("admin", "mixed-case"):
        ProjectAgent.objects.create(project=project, account=named[agent])
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for n, (summary, status, category, priority) in enumerate(INCIDENTS):
        issue = Issue.objects.create(
            site=sites["acme-support"], project=project, issue_id=20001 + n, key=f"IT-{n + 1}", summary=summary,
            status=status, status_category=category, priority=priority,
            assignee=named["admin"] if n == 0 else None, reporter=named["customer"],
            created=start + timedelta(hours=n),
        )
        if n == 0:
            issue.watchers.add(named["mixed-case"])
            issue.participants.add(named["hidden-email"])
