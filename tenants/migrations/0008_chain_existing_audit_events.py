"""Chain the audit events written before the hash chain, and refuse TRUNCATE too (PostgreSQL).

Existing events are chained per organization in the order they were written (by id), signed
with the newest AUDIT_CHAIN_KEYS key. Filling the chain columns is the one update the trail
ever gets: the append-only trigger is switched off for it, inside this migration's transaction.

The trigger now also refuses TRUNCATE, which is not row-level and so escaped it before. A
session may empty the table only when it says `portal.allow_audit_truncate=on` (a connection
option): the test runner does, between tests; a production connection never does.
"""

from django.db import migrations

from tenants.audit_chain import chain_keys, compute_hash, scope_of

TRIGGER = "tenants_auditevent_append_only"

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on tenants_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_auditevent_no_truncate
    BEFORE TRUNCATE ON tenants_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_auditevent_refuse_change();
"""

DROP_TRUNCATE = """
DROP TRIGGER IF EXISTS tenants_auditevent_no_truncate ON tenants_auditevent;
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on tenants_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def chain_existing(apps, schema_editor):
    AuditEvent = apps.get_model("tenants", "AuditEvent")
    AuditChainHead = apps.get_model("tenants", "AuditChainHead")
    postgresql = schema_editor.connection.vendor == "postgresql"
    key_id, secret = chain_keys()[0]
    heads = {}  # organization id -> (seq, last hash)
    unchained = AuditEvent.objects.filter(chain_seq__isnull=True).order_by("id")
    if not unchained.exists():
        return
    if postgresql:
        schema_editor.execute(f"ALTER TABLE tenants_auditevent DISABLE TRIGGER {TRIGGER}")
    for event in unchained.iterator(chunk_size=2000):
        seq, prev = heads.get(event.organization_id, (0, ""))
        event.chain_seq, event.chain_prev, event.chain_key_id = seq + 1, prev, key_id
        event.chain_hash = compute_hash(event, secret)
        AuditEvent.objects.filter(pk=event.pk).update(
            chain_seq=event.chain_seq, chain_prev=prev, chain_key_id=key_id, chain_hash=event.chain_hash
        )
        heads[event.organization_id] = (event.chain_seq, event.chain_hash)
    if postgresql:
        schema_editor.execute(f"ALTER TABLE tenants_auditevent ENABLE TRIGGER {TRIGGER}")
    for org_id, (seq, last_hash) in heads.items():
        AuditChainHead.objects.create(scope=scope_of(org_id), organization_id=org_id, seq=seq, last_hash=last_hash)


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # params=None: the SQL holds a literal % (plpgsql format) that is no placeholder.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tenants", "0007_audit_hash_chain")]

    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.RunPython(_on_postgresql(CREATE_FUNCTION), _on_postgresql(DROP_TRUNCATE)),
    ]
