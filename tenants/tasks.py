"""Thin Celery tasks for organizations: take ids, reload, act."""

from celery import shared_task
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .audit_integrity import verify_and_alert
from .invitations import accept_url
from .models import Invitation


@shared_task(name="tenants.send_invitation_email", acks_late=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=5)
def send_invitation_email(*, invitation_id):
    invitation = Invitation.objects.select_related("organization", "invited_by").filter(
        pk=invitation_id
    ).first()
    # Revoked, accepted or expired since it was queued: nothing to send. Safe to run twice:
    # at worst the invitee gets the same link again.
    if invitation is None or invitation.status != Invitation.Status.PENDING:
        return "skipped"
    context = {"invitation": invitation, "url": accept_url(invitation)}
    send_mail(
        subject=f"[Connections portal] {invitation.invited_by} invited you to {invitation.organization}",
        message=render_to_string("tenants/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
    return "sent"


@shared_task(name="tenants.audit_verify", acks_late=True)
def audit_verify():
    """The beat: verify every chain; a new break is mailed to support and recorded."""
    reports = verify_and_alert()
    return {"chains": len(reports), "broken": sum(not r.ok for r in reports)}
