"""The audit trail's hash chain: it verifies, and tampering past the portal is found."""

import threading
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from tenants import services
from tenants.audit import audit_record
from tenants.audit_chain import verify_chain
from tenants.models import AuditAction, AuditChainCheck, AuditEvent
from tenants.tasks import audit_verify
from tests.factories import OrganizationFactory

OTHER_KEY = "t2:Hq8xLm4Vb7Nc2Zr9Tk5Wp1Jd6Fs3Gy0Ua8Ei4Ow7Qn"


def _events(org, n=3, user=None):
    return [
        audit_record(organization=org, action=AuditAction.SITE_REGISTERED, actor=user, target_label=f"site {i}",
                     details={"url": f"https://s{i}.atlassian.net", "products": ["jira"], "n": i})
        for i in range(n)
    ]


def _verify(*args):
    """(exit ok, output) of `manage.py audit verify`."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def _without_trigger(sql, params):
    with connection.cursor() as cursor:
        # The events' deferred foreign-key checks run first: PostgreSQL alters no table with them pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tenants_auditevent DISABLE TRIGGER tenants_auditevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE tenants_auditevent ENABLE TRIGGER tenants_auditevent_append_only")


def test_the_chain_of_each_organization_verifies_and_support_sees_up_to_when(acme, globex):
    services.site_register(organization=acme.organization, url="https://a.atlassian.net", name="a",
                           products=["jira"], acting_user=acme.admin)
    _events(globex.organization, 4, user=globex.admin)
    _events(None, 2)
    events = list(AuditEvent.objects.filter(organization=acme.organization).order_by("chain_seq"))
    assert [e.chain_seq for e in events] == list(range(1, len(events) + 1))
    assert all(b.chain_prev == a.chain_hash for a, b in zip(events, events[1:], strict=False))

    ok, output = _verify()
    assert ok, output
    assert "Acme" in output and "Globex" in output and "All 3 chains verified" in output
    check = AuditChainCheck.objects.get(organization=acme.organization)
    assert not check.is_broken and check.verified_up_to == events[-1].created_at
    ok, output = _verify("--organization", globex.organization.slug)
    assert ok and "Globex" in output and "Acme" not in output


def test_a_row_changed_with_the_trigger_disabled_is_found(acme):
    first, second, third = _events(acme.organization, 3)
    assert _verify()[0]
    _without_trigger("UPDATE tenants_auditevent SET actor_label = 'someone else' WHERE id = %s", [second.pk])

    ok, output = _verify("--organization", str(acme.organization.pk))
    assert not ok
    assert f"BROKEN at link 2 (event id {second.pk})" in output and "does not match its content" in output
    # Recomputing the changed row's hash without the key cannot pass either.
    _without_trigger("UPDATE tenants_auditevent SET chain_hash = encode(sha256(actor_label::bytea), 'hex') "
                     "WHERE id = %s", [second.pk])
    assert "BROKEN at link 2" in _verify()[1]


def test_a_removed_event_is_found(acme):
    first, second, third = _events(acme.organization, 3)
    _without_trigger("DELETE FROM tenants_auditevent WHERE id = %s", [second.pk])
    ok, output = _verify()
    assert not ok and "link 2 is missing" in output
    _without_trigger("DELETE FROM tenants_auditevent WHERE id = %s", [third.pk])
    ok, output = _verify()
    assert not ok and "removed from its end" in output


def test_a_forged_back_dated_insert_is_found(acme):
    events = _events(acme.organization, 3, user=acme.admin)
    last = events[-1]
    back_then = timezone.now() - timedelta(days=90)
    # Plausible in every column: the next place, the last hash as its predecessor, a key id in use.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_auditevent (organization_id, actor_type, actor_user_id, actor_label, action, "
            "target_type, target_id, target_label, details, user_agent, created_at, chain_seq, chain_prev, "
            "chain_hash, chain_key_id) VALUES (%s, 'user', %s, %s, 'member.role_changed', '', '', 'x', '{}', '', "
            "%s, %s, %s, %s, %s)",
            [acme.organization.pk, acme.admin.pk, acme.admin.email, back_then, last.chain_seq + 1, last.chain_hash,
             "0" * 64, last.chain_key_id],
        )
    ok, output = _verify()
    assert not ok and f"BROKEN at link {last.chain_seq + 1}" in output

    # A row with no place in the chain at all is found too, whatever its date.
    other = OrganizationFactory(name="Initech")
    _events(other, 2)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_auditevent (organization_id, actor_type, actor_label, action, target_type, "
            "target_id, target_label, details, user_agent, created_at, chain_prev, chain_hash, chain_key_id) "
            "VALUES (%s, 'system', 'system', 'site.removed', '', '', 'x', '{}', '', %s, '', '', '')",
            [other.pk, back_then],
        )
    report = verify_chain(other)
    assert not report.ok and "not part of the chain" in report.problem


def test_a_rotated_key_still_verifies_the_events_the_old_one_signed(acme, settings):
    old = list(settings.AUDIT_CHAIN_KEYS)
    _events(acme.organization, 2)
    settings.AUDIT_CHAIN_KEYS = [OTHER_KEY, *old]
    newer = _events(acme.organization, 2)
    assert newer[0].chain_key_id == "t2"
    assert verify_chain(acme.organization).ok
    settings.AUDIT_CHAIN_KEYS = [OTHER_KEY]  # the old key dropped too early
    report = verify_chain(acme.organization)
    assert not report.ok and report.broken_seq == 1 and "not in AUDIT_CHAIN_KEYS" in report.problem


def test_the_beat_alerts_support_once_per_break(acme, staff_user):
    first, second = _events(acme.organization, 2)
    assert audit_verify() == {"chains": 2, "broken": 0}
    assert mail.outbox == []
    _without_trigger("UPDATE tenants_auditevent SET details = '{\"n\": 7}' WHERE id = %s", [first.pk])

    assert audit_verify()["broken"] == 1
    assert [m.to for m in mail.outbox] == [[staff_user.email]]
    assert "BROKEN at link 1" in mail.outbox[0].body and "Acme" in mail.outbox[0].body
    alert = AuditEvent.objects.get(action="audit.chain_broken")
    assert alert.target_label == "Acme" and alert.details["link"] == 1
    audit_verify()
    assert len(mail.outbox) == 1 and AuditEvent.objects.filter(action="audit.chain_broken").count() == 1


def test_postgresql_refuses_truncate_of_the_trail(acme):
    _events(acme.organization, 1)
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE"), transaction.atomic():
        with connection.cursor() as cursor:
            # The test connections may empty the table between tests; a production one may not.
            cursor.execute("SET LOCAL portal.allow_audit_truncate = 'off'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE tenants_auditevent")
    assert AuditEvent.objects.filter(organization=acme.organization).exists()


def test_the_django_admin_offers_no_change_or_delete_of_audit_rows(acme, staff_user):
    event = _events(acme.organization, 1)[0]
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/")
    staff_user.is_superuser = True
    request.user = staff_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert not model_admin.get_actions(request)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_whole():
    org = OrganizationFactory(name="Busy")
    writers, per_writer, errors = 6, 8, []
    start = threading.Barrier(writers)

    def write():
        try:
            start.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    audit_record(organization=org, action=AuditAction.SITE_REGISTERED, target_label=f"w{i}")
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = sorted(AuditEvent.objects.filter(organization=org).values_list("chain_seq", flat=True))
    assert seqs == list(range(1, writers * per_writer + 1))
    assert verify_chain(org).ok


def test_support_pages_say_up_to_when_the_chain_verified_and_when_it_broke(client, staff_user, acme):
    from django.urls import reverse

    from tests.factories import enrol_totp, sign_in

    first, second = _events(acme.organization, 2)
    sign_in(client, staff_user, enrol_totp(staff_user))
    client.post(reverse("support:access_open", args=[acme.organization.pk]),
                {"ticket": "SUP-2", "reason": "Checking the trail's integrity for the customer."})
    detail = reverse("support:organization_detail", args=[acme.organization.pk])
    assert "Audit chain not verified yet" in client.get(detail).content.decode()

    audit_verify()
    check = AuditChainCheck.objects.get(organization=acme.organization)
    page = client.get(detail).content.decode()
    assert f"Audit chain verified up to {check.verified_up_to:%Y-%m-%d %H:%M:%S}" in page

    _without_trigger("UPDATE tenants_auditevent SET target_label = 'rewritten' WHERE id = %s", [first.pk])
    audit_verify()
    trail = client.get(reverse("support:audit_list"), {"organization": acme.organization.pk}).content.decode()
    assert "Audit chain broken at link 1" in trail
