"""Indexes for pages at scale: sites and tenants in name order per organization; for the audit
trail at a million events: keyset pages (organization, created_at, id),
one thing's trail (target), and on PostgreSQL a trigram index for the actor filter's substring
search (pg_trgm; `icontains` is UPPER(actor_label::text) LIKE UPPER('%…%'), which this serves).
SQLite has neither the extension nor the operator class: there the trigram step does nothing."""

from django.db import migrations, models

# Reference: https://www.postgresql.org/docs/current/pgtrgm.html#PGTRGM-INDEX
TRIGRAM_INDEX = (
    "CREATE INDEX IF NOT EXISTS audit_actor_trgm ON tenants_auditevent "
    "USING gin ((UPPER(actor_label::text)) gin_trgm_ops)"
)


def trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(TRIGRAM_INDEX)


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_actor_trgm")


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0011_audit_retention_purge'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_org_time',
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['organization', '-created_at', '-id'], name='audit_org_time_id'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['organization', 'target_type', 'target_id', '-created_at'], name='audit_org_target'),
        ),
        migrations.AddIndex(
            model_name='atlassiansite',
            index=models.Index(fields=['organization', 'name'], name='site_org_name'),
        ),
        migrations.AddIndex(
            model_name='microsofttenant',
            index=models.Index(fields=['organization', 'display_name'], name='tenant_org_name'),
        ),
        migrations.RunPython(trigram_index, drop_trigram_index, elidable=False),
    ]
