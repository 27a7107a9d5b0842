"""A connection whose Microsoft side is the sandbox's Fabrikam tenant (consented) with the feature
Confluence in Microsoft Search, its Confluence side the memory source (memory_source.py), and
Fabrikam's first users matched to Atlassian accounts acc-ann, acc-bob, acc-cat."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection as db

from connections import throttle
from connections.microsoft import graph
from connections.models import Connection, MatchOutcome, SearchConnection, SyncRun, UserMatch
from connections.search import services
from connections.sync import runner
from connections.sync import services as sync_services
from sandbox.microsoft.search_index import indexed_items, visible_items
from tenants.models import Role
from tests.factories import ConnectionFactory, MembershipFactory, TenantFactory, own_consent
from tests.processes import celery_workers

from . import memory_source

ROOT = Path(__file__).resolve().parents[3]
SOURCE = "tests.connections.search_graph.memory_source.source_for"


@dataclass
class SearchWorld:
    sandbox: object
    organization: object
    admin: object
    connection: Connection
    file: Path
    people: dict = field(default_factory=dict)  # "ann" -> sandbox DirectoryUser

    @property
    def ms_tenant(self):
        return self.sandbox.tenant("fabrikam")

    def confluence(self, **data):
        memory_source.write(self.file, **data)

    def setup(self, *, permission_mode="access", properties=None, full=1440, incremental=15, permissions=360):
        steps = {
            "connection": {"name": "Confluence wiki", "graph_connection_id": "confluencewiki", "description": ""},
            "properties": {"properties": properties or ["title", "url", "authors", "lastModifiedDateTime",
                                                         "spaceKey", "contentType"]},
            "filter": {"space_keys": [], "cql": ""},
            "permissions": {"permission_mode": permission_mode, "identity_type": "entra", "upn_pattern": "",
                            "upn_formula": "", "anonymous_except_guests": False},
            "refresh": {"full_every_minutes": full, "incremental_every_minutes": incremental,
                        "permissions_every_minutes": permissions},
        }
        for step, values in steps.items():
            services.search_save_step(connection=self.connection, step=step, values=values, acting_user=self.admin)

    def publish(self):
        services.search_publish(connection=self.connection, acting_user=self.admin)
        return self.search

    @property
    def search(self) -> SearchConnection:
        return SearchConnection.objects.get(connection=self.connection)

    def run(self, kind, mode="full"):
        run = sync_services.sync_run_start(connection=self.connection, kind=kind, mode=mode, acting_user=self.admin)
        runner.run_execute(run.pk)
        run.refresh_from_db()
        return run

    def crawl(self, mode="full"):
        return self.run(SyncRun.Kind.SEARCH_CRAWL, mode)

    def finds(self, who) -> set[str]:
        return {hit.item_id for hit in visible_items(self.ms_tenant, str(self.people[who].pk))}

    def indexed(self):
        return indexed_items(self.ms_tenant, self.search.graph_connection_id)


@pytest.fixture
def search_world(sandbox, settings, tmp_path, monkeypatch):
    throttle.reset_default_store()
    throttle.default_store().clear()
    graph.forget_tokens()
    settings.SEARCH_SOURCE = SOURCE
    settings.SEARCH_SCHEMA_POLL = 0.2
    file = tmp_path / "confluence.json"
    monkeypatch.setenv("SEARCH_MEMORY_FILE", str(file))
    membership = MembershipFactory(role=Role.ADMIN, organization__name="Wiki readers")
    org = membership.organization
    connection = ConnectionFactory(
        organization=org,
        tenant=TenantFactory(organization=org, tenant_id=sandbox.tenants["fabrikam"].id, display_name="Fabrikam"),
        status=Connection.Status.ACTIVE, features=["confluence_search"],
    )
    own_consent(connection, by=membership.user)
    users = list(sandbox.tenant("fabrikam").users.filter(deleted=False, user_type="Member")
                 .order_by("user_principal_name")[:4])
    people = dict(zip(("ann", "bob", "cat", "dan"), users, strict=True))
    for who in ("ann", "bob", "cat"):
        UserMatch.objects.create(connection=connection, account_id=f"acc-{who}", display_name=who.title(),
                                 outcome=MatchOutcome.MATCHED, microsoft_user_id=str(people[who].pk))
    UserMatch.objects.create(connection=connection, account_id="acc-nomatch", display_name="Nomatch Person",
                             outcome=MatchOutcome.UNMATCHED)
    world = SearchWorld(sandbox, org, membership.user, connection, file, people)
    world.confluence()
    yield world
    throttle.default_store().clear()


@pytest.fixture
def start_worker(sandbox, search_world):
    """Real Celery worker processes (Redis broker, the test database, this sandbox, the memory
    source); tasks queued by this process go to them while the fixture is active."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MICROSOFT_AUTHORITY_HOST": sandbox.authority_host,
        "MICROSOFT_GRAPH_URL": sandbox.graph_url,
        "HTTP_CA_BUNDLE": sandbox.ca_bundle,
        "SYNC_STUCK_AFTER": "2",
        "SEARCH_SOURCE": SOURCE,
        "SEARCH_MEMORY_FILE": str(search_world.file),
    })
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    with celery_workers(env) as start:
        yield start
