"""Deterministic Microsoft data: tenants with the awkward cases real directories have.

Same seed number, same GUIDs, users and passwords. The signing key survives a reseed so tokens
already handed out keep verifying.
"""

import datetime
import itertools
import uuid

from sandbox.db import atomic

from ..origins import browser_origin
from . import atlassian_apps, directory
from .models import (
    App,
    AuthorizationCode,
    Channel,
    ChannelMessage,
    Chat,
    DirectoryUser,
    Domain,
    RefreshToken,
    Team,
    Tenant,
)

PASSWORD = "Sandbox-Pass-1"  # every seeded user; sandbox only
ADMIN_PASSWORD = "Sandbox-Admin-1"
FIRST = [
    "Alice",
    "Bob",
    "Carol",
    "Dave",
    "Erin",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "Zoe",
]
LAST = [
    "Smith",
    "Jones",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martin",
    "Lopez",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
]
BATCH = 5000

# name, initial domain label, extra verified domains, unverified domains, consented by the admin
TENANTS = [
    ("Contoso", "contoso", ["contoso.com"], ["contoso-legacy.com"], False),
    ("Fabrikam", "fabrikam", ["fabrikam.com", "fabrikam.de"], [], True),
    ("Northwind Traders", "northwind", ["northwind.example"], [], True),
]


def _uuid(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _user(rng, tenant, seq, **fields):
    first, last = fields.pop("first", None), fields.pop("last", None)
    values = {
        "given_name": first,
        "surname": last,
        "display_name": f"{first} {last}" if first else fields.get("user_principal_name"),
        "password": PASSWORD,
        "change_seq": seq,
    }
    values.update(fields)
    return DirectoryUser(id=_uuid(rng), tenant=tenant, **values)


def _awkward_users(rng, tenant, domain, initial, seq):
    """The cases a sync or a matcher must survive, one of each."""
    cases = [
        dict(
            first="Admin",
            last="User",
            user_principal_name=f"admin@{domain}",
            mail=f"admin@{domain}",
            is_admin=True,
            password=ADMIN_PASSWORD,
            job_title="Global Administrator",
        ),
        dict(first="Alice", last="Member", user_principal_name=f"alice@{domain}", mail=f"alice@{domain}"),
        # Same address, different case in mail and UPN.
        dict(
            first="Bob",
            last="Case",
            user_principal_name=f"bob.case@{domain}",
            mail=f"Bob.Case@{domain.upper()}",
            proxy_addresses=[f"SMTP:Bob.Case@{domain.upper()}"],
        ),
        # Mail unlike the UPN, and an alias (smtp:) found only among the proxy addresses.
        dict(
            first="Carol",
            last="Alias",
            user_principal_name=f"c.alias@{initial}",
            mail=f"carol.alias@{domain}",
            proxy_addresses=[f"SMTP:carol.alias@{domain}", f"smtp:carol@{domain}", f"smtp:c.alias@{initial}"],
        ),
        # A guest from another organization.
        dict(
            first="Dave",
            last="Guest",
            user_principal_name=f"dave_partner.example#EXT#@{initial}",
            mail="dave@partner.example",
            user_type="Guest",
        ),
        # No mailbox.
        dict(first="Erin", last="Nomail", user_principal_name=f"erin.nomail@{domain}", mail=None),
        dict(
            first="Frank",
            last="Disabled",
            user_principal_name=f"frank.disabled@{domain}",
            mail=f"frank.disabled@{domain}",
            account_enabled=False,
        ),
        dict(
            first="Grace",
            last="Deleted",
            user_principal_name=f"grace.deleted@{domain}",
            mail=f"grace.deleted@{domain}",
            deleted=True,
        ),
    ]
    users = []
    for case in cases:
        seq += 1
        users.append(_user(rng, tenant, seq, **case))
    return users, seq


def _generated_users(rng, tenant, domain, count, seq):
    for i in range(count):
        first, last = FIRST[rng.randrange(len(FIRST))], LAST[rng.randrange(len(LAST))]
        local = f"{first}.{last}{i}".lower()
        seq += 1
        yield _user(
            rng,
            tenant,
            seq,
            first=first,
            last=last,
            user_principal_name=f"{local}@{domain}",
            mail=f"{local}@{domain}",
            proxy_addresses=[f"SMTP:{local}@{domain}"],
            job_title=rng.choice(["Engineer", "Support", "Sales", None]),
        )


def _teams(rng, tenant, members, serial):
    """Two teams with channels and messages; `serial` keeps message ids unique across tenants."""
    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
    for t, (name, channels) in enumerate(
        [("Service Desk", ["General", "Incidents", "Changes"]), ("Engineering", ["General", "Releases"])]
    ):
        team = Team.objects.create(
            id=_uuid(rng), tenant=tenant, display_name=name, description=f"The {name.lower()} team"
        )
        team.members.set(members[: 4 + t])
        for c, channel_name in enumerate(channels):
            channel = Channel.objects.create(
                id=f"19:{rng.getrandbits(128):032x}@thread.tacv2",
                team=team,
                display_name=channel_name,
                description=f"{channel_name} of {name}",
                created=start + datetime.timedelta(days=c),
            )
            messages = []
            for m in range(12):
                author = members[m % len(members)]
                created = start + datetime.timedelta(days=c, hours=m)
                messages.append(
                    ChannelMessage(
                        id=str(int(created.timestamp() * 1000) + next(serial)),
                        channel=channel,
                        created=created,
                        from_user=author,
                        content=f"<p>Message {m} in {channel_name}</p>",
                        mentions=[str(members[(m + 1) % len(members)].pk)] if m % 3 == 0 else [],
                    )
                )
            ChannelMessage.objects.bulk_create(messages)


@atomic()
def seed_microsoft(rng, users=20, big_tenant_users=None):
    """Replace the Microsoft data. `users` generated users per tenant; the last tenant gets
    `big_tenant_users` (e.g. 100000) when given."""
    for model in (ChannelMessage, Channel, Team, Chat, AuthorizationCode, RefreshToken, Tenant):
        model.objects.all().delete()
    App.objects.exclude(client_id=directory.ensure_portal_app().client_id).delete()
    app = directory.ensure_portal_app()
    summary, serial = [], itertools.count()
    for index, (name, label, verified, unverified, consented) in enumerate(TENANTS):
        tenant = Tenant.objects.create(id=_uuid(rng), display_name=name)
        initial = f"{label}.onmicrosoft.com"
        Domain.objects.create(tenant=tenant, name=initial, is_initial=True, is_verified=True)
        for i, domain_name in enumerate(verified):
            Domain.objects.create(tenant=tenant, name=domain_name, is_default=i == 0)
        for domain_name in unverified:
            Domain.objects.create(tenant=tenant, name=domain_name, is_verified=False)
        domain = verified[0]
        special, seq = _awkward_users(rng, tenant, domain, initial, 0)
        DirectoryUser.objects.bulk_create(special)
        count = big_tenant_users if (big_tenant_users and index == len(TENANTS) - 1) else users
        batch = []
        for user in _generated_users(rng, tenant, domain, count, seq):
            batch.append(user)
            if len(batch) >= BATCH:
                DirectoryUser.objects.bulk_create(batch)
                batch = []
        DirectoryUser.objects.bulk_create(batch)
        seq += count
        Tenant.objects.filter(pk=tenant.pk).update(change_seq=seq)
        tenant.change_seq = seq
        members = [u for u in special if not u.deleted and u.account_enabled]
        _teams(rng, tenant, members, serial)
        if consented:
            directory.grant_admin_consent(tenant=tenant, app=app, admin=special[0])
        summary.append(tenant)
    # Atlassian's mobile apps (not yet in any tenant) and each tenant's Intune licence.
    atlassian_apps.ensure_apps(browser_origin())
    atlassian_apps.seed_licences()
    return summary
