"""Events written before the hash chain existed are chained by the migration that adds it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tenants.audit_chain import verify_chain
from tenants.models import AuditEvent, Organization

BEFORE = ("tenants", "0006_encrypt_two_factor_secrets")
AFTER = ("tenants", "0008_chain_existing_audit_events")


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_existing_events_of_each_organization():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    OldOrganization, OldEvent = old.get_model("tenants", "Organization"), old.get_model("tenants", "AuditEvent")
    acme = OldOrganization.objects.create(name="Acme", slug="acme")
    globex = OldOrganization.objects.create(name="Globex", slug="globex")
    for i, org in enumerate([acme, globex, acme, None, acme]):
        OldEvent.objects.create(organization=org, actor_type="system", actor_label="system",
                                action="site.registered", target_label=f"s{i}", details={"i": i})

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    events = AuditEvent.objects.filter(organization_id=acme.pk).order_by("chain_seq")
    assert [(e.chain_seq, e.details["i"]) for e in events] == [(1, 0), (2, 2), (3, 4)]
    for org in Organization.objects.all():
        assert verify_chain(org).ok
    assert verify_chain(None).ok and verify_chain(None).events_checked == 1
