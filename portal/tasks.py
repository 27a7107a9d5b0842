"""Celery tasks of the portal itself."""

from celery import shared_task


@shared_task(name="portal.outbox_relay", acks_late=True, ignore_result=True)
def outbox_relay():
    """Beat: hand the outbox's due messages to the broker (safe to run twice: rows are locked
    with skip_locked and marked sent once)."""
    from .outbox import relay

    sent, failed = relay()
    return {"sent": sent, "failed": failed}
