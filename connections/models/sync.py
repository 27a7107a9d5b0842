"""Sync runs: one row per run of a long job (user matching, Teams directory, messages)."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection

# Who a throttle key belongs to (connections.throttle keys are "<service>:<tenant or site>").
THROTTLED_BY = {"graph": "Microsoft Graph", "token": "Microsoft", "atlassian": "Atlassian"}


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        USER_MATCHING = "user_matching", "User matching"
        TEAMS_DIRECTORY = "teams_directory", "Teams directory"
        CHANNEL_MESSAGES = "channel_messages", "Channel messages"
        SEARCH_SETUP = "search_setup", "Microsoft Search setup"
        SEARCH_CRAWL = "search_crawl", "Microsoft Search crawl"
        SEARCH_PERMISSIONS = "search_permissions", "Microsoft Search permissions crawl"

    class Mode(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by hand"
        SCHEDULE = "schedule", "Schedule"
        RETRY = "retry", "Retry"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sync_runs")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.FULL)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resumed_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    # Where to pick up after a crash: a page cursor or deltaLink, whatever the job needs.
    checkpoint = models.JSONField(default=dict, blank=True)

    error = models.TextField(blank=True)
    remedy = models.TextField(blank=True)
    # Claims of the run by a worker: its first start, each resume after a wait (a Retry-After
    # that gave the worker back, another run waited for) and each takeover (below).
    attempts = models.PositiveSmallIntegerField(default=0)
    # Claims that took the run over from a worker gone silent (killed, cut off from the
    # database): only these count against SYNC_STUCK_MAX_RESUMES, as waiting is progress.
    takeovers = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # A run that failed on a transient provider failure with a checkpoint to go on from: when the
    # beat starts a run from its checkpoint by itself (cleared once it has, or when it will not).
    retry_at = models.DateTimeField(null=True, blank=True)
    # How many automatic retries led to this run (bounded by SYNC_AUTO_RETRIES).
    auto_retries = models.PositiveSmallIntegerField(default=0)

    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "kind", "-queued_at"], name="syncrun_recent"),
            models.Index(fields=["retry_at"], condition=models.Q(retry_at__isnull=False), name="syncrun_retry_due"),
        ]
        constraints = [
            # Two runs of the same job on one connection would fight over its checkpoint: the
            # database refuses the second, whoever asks (page, schedule, retry).
            models.UniqueConstraint(
                fields=["connection", "kind"],
                condition=models.Q(state__in=["queued", "running"]),
                name="syncrun_one_active_per_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_mode_display().lower()}) #{self.pk}"

    @property
    def is_active(self):
        return self.state in self.ACTIVE_STATES

    @property
    def throttled_note(self):
        """For a run that gave its worker back while a provider throttles it (the runner's
        checkpoint says who and until when): who is throttling, and when the run goes on."""
        checkpoint = self.checkpoint or {}
        until = checkpoint.get("throttled_until")
        if self.state != self.State.QUEUED or not until:
            return ""
        at = datetime.fromisoformat(until)
        if at <= timezone.now():
            return ""
        who = THROTTLED_BY.get(checkpoint.get("throttled_by", ""), "The provider")
        return f"{who} is throttling, retrying at {timezone.localtime(at):%H:%M:%S %Z}"

    @property
    def percent(self):
        if not self.progress_total:
            return 100 if self.state == self.State.SUCCEEDED else None
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at
