"""Make audit rows append-only in the database itself (PostgreSQL).

A row-level trigger refuses UPDATE and DELETE on tenants_auditevent. TRUNCATE is not
row-level and stays possible for an operator who means to wipe a whole database (and for
the test runner's flush). SQLite, used only for a first local run, has no such guard.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on tenants_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_auditevent_append_only
    BEFORE UPDATE OR DELETE ON tenants_auditevent
    FOR EACH ROW EXECUTE FUNCTION tenants_auditevent_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS tenants_auditevent_append_only ON tenants_auditevent;
DROP FUNCTION IF EXISTS tenants_auditevent_refuse_change();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # params=None: the SQL holds a literal % (plpgsql format) that is no placeholder.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
