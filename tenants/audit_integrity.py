"""Verifying the audit trail's chain and telling support about a break (the beat, the command)."""

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from .audit import audit_record
from .audit_chain import ChainReport, record_check, verify_all
from .models import AuditAction, AuditChainCheck, Organization


def verify_and_alert(organizations: list[Organization] | None = None) -> list[ChainReport]:
    """Verify, keep each result, and tell support about a break not reported before: an email
    to every active staff member and an event in the trail (of events without an organization)."""
    reports = verify_all(organizations)
    for report in reports:
        before = AuditChainCheck.objects.filter(scope=report.scope).first()
        record_check(report)
        if report.ok:
            continue
        if before is not None and before.problem and (before.broken_seq, before.broken_event_id) == (
            report.broken_seq, report.broken_event_id
        ):
            continue  # the same break, already reported
        audit_record(
            organization=None,
            action=AuditAction.AUDIT_CHAIN_BROKEN,
            target=report.organization,
            target_label=str(report.organization) if report.organization else "events without an organization",
            details={"chain": report.scope, "link": report.broken_seq, "event": report.broken_event_id,
                     "problem": report.problem},
        )
        _mail_support(report)
    return reports


def _mail_support(report: ChainReport) -> None:
    recipients = list(
        get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    if not recipients:
        return
    send_mail(
        subject="[Connections portal] The audit trail's hash chain is broken",
        message=(
            "The periodic verification of the audit trail found a broken link:\n\n"
            f"{report.describe()}\n\n"
            "Someone may have changed, removed or inserted audit events past the portal. Run "
            "`python manage.py audit verify` to see it again, and compare with a backup.\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )
