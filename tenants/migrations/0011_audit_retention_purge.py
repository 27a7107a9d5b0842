"""Let the audit retention purge delete a removed organization's trail (PostgreSQL).

The trigger still refuses UPDATE, and DELETE of any event, except in a session that says
`portal.audit_retention_purge=on` (only `manage.py audit purge` does, as the tables' owner:
the app role has no DELETE on the table at all) and only for events of an organization that
was removed. TRUNCATE stays refused as before.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' AND current_setting('portal.audit_retention_purge', true) = 'on' AND EXISTS (
        SELECT 1 FROM tenants_organization o WHERE o.id = OLD.organization_id AND o.removed_at IS NOT NULL
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on tenants_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

PREVIOUS = """
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('portal.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on tenants_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tenants", "0010_organization_removed_at")]

    operations = [migrations.RunPython(_on_postgresql(FUNCTION), _on_postgresql(PREVIOUS))]
