"""The transactional outbox: Celery work a committed change still owes (see portal/outbox.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One task to hand to the broker, written in the same transaction as the change it
    follows, so the change and its follow-up work are committed together or not at all."""

    task_name = models.CharField(max_length=200)
    # Ids only (see outbox.enqueue): the task reloads the rows, and nothing secret is stored here.
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at", "created_at"], condition=Q(sent_at=None),
                         name="outbox_pending_due"),
            models.Index(fields=["sent_at"], condition=Q(sent_at__isnull=False), name="outbox_sent"),
        ]

    def __str__(self):
        return f"{self.task_name} #{self.pk}"
