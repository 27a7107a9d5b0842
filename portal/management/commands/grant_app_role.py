"""Give the role the portal runs as (web, worker, beat) what it needs, and no more.

The audit trail's append-only trigger protects nothing from a role that owns the audit
table: an owner may `ALTER TABLE ... DISABLE TRIGGER`, or drop it. So the tables belong to
the role that runs migrations, and the app connects as another role that may read and
write the portal's tables but may only INSERT and SELECT on the audit table (no UPDATE,
DELETE or TRUNCATE, and not its owner). Run as the owner, after `migrate`:

    python manage.py grant_app_role portal_app

The role must exist (`CREATE ROLE portal_app LOGIN PASSWORD '...'`, by a role allowed to
create roles). Default privileges cover the tables later migrations add; run the command
again after a migration anyway, it is idempotent.
Reference: https://www.postgresql.org/docs/current/sql-grant.html,
https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html
"""

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from tenants.models import AuditEvent

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def statements(role, schema="public"):
    """The SQL that makes `role` the portal's app role, as the current (owner) role runs it."""
    q = connection.ops.quote_name
    app, audit, schema = q(role), q(AuditEvent._meta.db_table), q(schema)
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        # The audit trail: written and read, never changed, emptied or (by ownership) unguarded.
        f"REVOKE ALL ON {audit} FROM {app}",
        f"GRANT SELECT, INSERT ON {audit} TO {app}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {schema} FROM {app}",
    ]


class Command(BaseCommand):
    help = "Grant an existing PostgreSQL role the app's privileges: INSERT/SELECT only on the audit table."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role web, worker and beat connect as (not the tables' owner)")
        parser.add_argument("--print", action="store_true", help="print the SQL instead of running it")

    def handle(self, *, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Roles are a PostgreSQL matter: DATABASE_URL must point at PostgreSQL.")
        if not _ROLE.match(role):
            raise CommandError("A role name is lowercase letters, digits and underscores.")
        sql = statements(role)
        if options["print"]:
            self.stdout.write(";\n".join(sql) + ";")
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"There is no role {role}: create it first (CREATE ROLE {role} LOGIN PASSWORD ...).")
            if found[0]:
                raise CommandError(f"{role} is a superuser: no grant can keep it from the audit table.")
            cursor.execute("SELECT current_user, pg_has_role(%s, current_user, 'MEMBER')", [role])
            owner, inherits_owner = cursor.fetchone()
            if role == owner or inherits_owner:
                raise CommandError(
                    f"{role} is (or is a member of) {owner}, the role that owns the tables: it could disable "
                    "the audit trigger. Create a separate role for the app."
                )
            with transaction.atomic():
                for statement in sql:
                    cursor.execute(statement)
        table = AuditEvent._meta.db_table
        self.stdout.write(f"{role} may now run the portal; on {table} it may only INSERT and SELECT.")
