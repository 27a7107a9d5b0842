"""A world for incident chats: acme ↔ Contoso and acme-support (Jira Service Management) ↔
Contoso connected through the real flows, Atlassian accounts on acme-support for Contoso's
Alice and Bob (matched by the real user matching run), and incident IT-1 with Alice as a
watcher and Bob as a request participant besides the seeded responders, whom nothing matches."""

import uuid
from types import SimpleNamespace

import pytest

from tests.connected import connect_acme


def _account(email, name):
    from sandbox.atlassian.models import Account, Site

    account = Account.objects.create(account_id=f"557058:{uuid.uuid4()}", email=email, display_name=name)
    account.sites.add(Site.objects.get(name="acme-support"))
    return account


def run_matching(connection):
    from connections.models import SyncRun
    from connections.sync.runner import run_execute

    run = SyncRun.objects.create(organization=connection.organization, connection=connection,
                                 kind=SyncRun.Kind.USER_MATCHING, mode="full")
    run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.SUCCEEDED, (run.state, run.error)


@pytest.fixture
def chatops(sandbox, settings, client):
    from connections.microsoft.graph import forget_tokens
    from connections.models import ConnectionProject
    from connections.projects import projects_refresh
    from sandbox.atlassian.models import Issue

    forget_tokens()
    world = connect_acme(sandbox, settings)
    domain = sandbox.tenants["contoso"].domain
    alice = _account(f"alice@{domain}", "Alice Member")
    bob = _account(f"Bob.Case@{domain}", "Bob Case")
    carol = _account(f"carol.alias@{domain}", "Carol Alias")
    issue = Issue.objects.get(key="IT-1", site__name="acme-support")
    issue.watchers.add(alice)
    issue.participants.add(bob)
    run_matching(world.jsm)
    if not ConnectionProject.objects.filter(connection=world.jsm).exists():
        projects_refresh(connection=world.jsm)
    project = ConnectionProject.objects.get(connection=world.jsm, key="IT")
    client.force_login(world.admin)
    return SimpleNamespace(
        world=world, connection=world.jsm, project=project, client=client, issue=issue, sandbox=sandbox,
        alice=alice, bob=bob, carol=carol,
        ms={name: sandbox.user("contoso", f"{name}@{domain}") for name in ("admin", "alice", "bob.case")},
        carol_ms=sandbox.user("contoso", f"c.alias@{sandbox.tenants['contoso'].initial_domain}"),
    )
