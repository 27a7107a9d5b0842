"""Two admins disconnecting and reconnecting the same connection at once end in one
consistent state: row locks, each service re-reading what it locked."""

import threading

from django.db import connection as db_connection

from connections import lifecycle
from connections.models import Connection, Credential
from tenants.models import AuditEvent


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def _count(action, connection):
    return AuditEvent.objects.filter(action=action, target_id=str(connection.pk)).count()


def _consistent(connection):
    connection.refresh_from_db()
    tokens = Credential.objects.filter(connection=connection).count()
    if connection.status == Connection.Status.DISCONNECTED:
        assert connection.disconnected_at and connection.disconnected_by and tokens == 0
    else:
        assert connection.disconnected_at is None and connection.disconnected_by is None
    return connection.status


def test_two_admins_racing_end_consistent_and_audited_once_per_change(acme_live):
    connection, admin = acme_live.jira, acme_live.admin
    # Application permissions only: a reconnect restores everything (no delegated sign-in to redo).
    Connection.objects.filter(pk=connection.pk).update(features=["user_mapping", "channel_knowledge"])
    connection.refresh_from_db()
    other_admin = acme_live.organization.memberships.create(
        user=type(admin).objects.create_user(username="second-admin", email="second@acme.example"), role="admin"
    ).user

    def disconnect(user):
        return lambda: lifecycle.connection_disconnect(connection=connection, acting_user=user)

    def reconnect(user):
        return lambda: lifecycle.connection_reconnect(connection=connection, acting_user=user)

    _race(disconnect(admin), disconnect(other_admin))
    assert _consistent(connection) == Connection.Status.DISCONNECTED
    assert _count("connection.disconnected", connection) == 1

    _race(reconnect(admin), reconnect(other_admin))
    assert _consistent(connection) == Connection.Status.ACTIVE
    assert _count("connection.reconnected", connection) == 1

    for round_ in range(3):
        before = (_count("connection.disconnected", connection), _count("connection.reconnected", connection))
        _race(disconnect(admin), reconnect(other_admin))
        status = _consistent(connection)
        after = (_count("connection.disconnected", connection), _count("connection.reconnected", connection))
        # Either the reconnect came first (a no-op on an active connection) and the disconnect
        # won, or the disconnect came first and the reconnect undid it: the trail says which.
        if status == Connection.Status.DISCONNECTED:
            assert after == (before[0] + 1, before[1]), round_
        else:
            assert status == Connection.Status.ACTIVE and after == (before[0] + 1, before[1] + 1), round_
        if status == Connection.Status.DISCONNECTED:
            lifecycle.connection_reconnect(connection=connection, acting_user=admin)
