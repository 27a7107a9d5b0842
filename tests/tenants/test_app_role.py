"""The portal can run as a role that does not own the audit table, and that role cannot
unguard, change or empty the trail (PostgreSQL)."""

import os
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.models import AuditEvent

ROLE = f"portal_app_test_{os.getpid()}"  # roles are cluster-wide: one per test process
AUDIT = AuditEvent._meta.db_table


@pytest.fixture
def app_role(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{ROLE}" LOGIN')
    try:
        yield ROLE
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{ROLE}"')
            cursor.execute(f'DROP ROLE "{ROLE}"')


def _as(role):
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=s["NAME"], user=role, autocommit=True
    )


def _insert(db):
    db.execute(
        f"INSERT INTO {AUDIT} (actor_type, actor_label, action, target_type, target_id, target_label, details,"
        " user_agent, created_at) VALUES ('system', 'system', 'site.registered', '', '', 'x', '{}', '', now())"
        " RETURNING id"
    )


def test_the_app_role_can_write_the_trail_but_not_unguard_change_or_empty_it(app_role):
    assert connection.vendor == "postgresql"
    call_command("grant_app_role", app_role, stdout=StringIO())

    with _as(app_role) as db:
        _insert(db)  # INSERT works, and so does the app's ordinary work on other tables
        assert db.execute(f"SELECT count(*) FROM {AUDIT}").fetchone()[0] == 1
        db.execute("INSERT INTO django_session (session_key, session_data, expire_date) VALUES ('k', 'd', now())")
        db.execute("DELETE FROM django_session WHERE session_key = 'k'")
        for statement in (
            f"ALTER TABLE {AUDIT} DISABLE TRIGGER tenants_auditevent_append_only",
            f"ALTER TABLE {AUDIT} DISABLE TRIGGER ALL",
            f"DROP TRIGGER tenants_auditevent_append_only ON {AUDIT}",
            f"UPDATE {AUDIT} SET actor_label = 'someone else'",
            f"DELETE FROM {AUDIT}",
            f"TRUNCATE {AUDIT}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(statement)
    assert AuditEvent.objects.get().actor_label == "system"


def test_the_owner_itself_cannot_be_made_the_app_role(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError):
        call_command("grant_app_role", owner, stdout=StringIO())
    with pytest.raises(CommandError, match="no role"):
        call_command("grant_app_role", "no_such_role_here", stdout=StringIO())
