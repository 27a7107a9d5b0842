"""When each sync job runs by itself: per connection and kind, a full and an incremental
interval. The beat kickoff (connections.sync.schedules) starts what is due."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection
from .sync import SyncRun


class SyncSchedule(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_schedules")
    kind = models.CharField(max_length=32, choices=SyncRun.Kind.choices)
    enabled = models.BooleanField(default=True)
    # Minutes between runs; 0 switches that mode off.
    full_every_minutes = models.PositiveIntegerField(default=24 * 60)
    incremental_every_minutes = models.PositiveIntegerField(default=60)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_incremental_at = models.DateTimeField(null=True, blank=True)
    next_full_at = models.DateTimeField(null=True, blank=True)
    next_incremental_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["connection", "kind"], name="sync_schedule_unique")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.connection}"

    def due_mode(self, now=None):
        """ "full", "incremental" or None: a due full run wins over an incremental one."""
        now = now or timezone.now()
        if not self.enabled:
            return None
        if self.full_every_minutes and (self.next_full_at is None or self.next_full_at <= now):
            return "full"
        if self.incremental_every_minutes and (self.next_incremental_at is None or self.next_incremental_at <= now):
            return "incremental"
        return None

    def advance(self, mode, now=None):
        """Move the clock of `mode` (a full run also counts as an incremental one)."""
        now = now or timezone.now()
        if mode == "full":
            self.last_full_at = now
            self.next_full_at = now + timedelta(minutes=self.full_every_minutes) if self.full_every_minutes else None
        self.last_incremental_at = now
        if self.incremental_every_minutes:
            self.next_incremental_at = now + timedelta(minutes=self.incremental_every_minutes)
