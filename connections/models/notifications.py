"""Teams notifications: which channel receives a Jira project's or a Confluence space's events,
the Jira webhooks the portal registered for them, and the log of every delivery.

Kept: ids and names of the chosen team and channel (seed 000: "The channel id and the name is
stored to configure notifications"), the webhook's id and expiry, and per delivery what it was
about (issue key and summary), where it went, and how it ended.
"""

import uuid

from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection


class NotificationTarget(models.Model):
    class Source(models.TextChoices):
        JIRA_PROJECT = "jira_project", "Jira project"
        CONFLUENCE_SPACE = "confluence_space", "Confluence space"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="notification_targets")
    source = models.CharField(max_length=20, choices=Source.choices)
    source_id = models.CharField(max_length=64)  # the project's or space's id
    source_key = models.CharField(max_length=64)
    source_name = models.CharField(max_length=256)
    team_id = models.CharField(max_length=64)
    team_name = models.CharField(max_length=256)
    channel_id = models.CharField(max_length=200)
    channel_name = models.CharField(max_length=256)
    # Confluence spaces: when the portal last asked which pages changed (Confluence offers OAuth
    # 2.0 apps no webhooks).
    polled_at = models.DateTimeField(null=True, blank=True)
    chosen_by = models.ForeignKey("tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["source", "source_key"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "source", "source_id"], name="notification_target_unique"),
        ]

    def __str__(self):
        return f"{self.source_key} → {self.team_name} / {self.channel_name}"


class WebhookRegistration(models.Model):
    """The connection's Jira webhook (one per connection: its JQL names every chosen project).
    `receiver` is in the URL Jira posts to, so a delivery finds its connection; it is not a
    secret (the delivery's signature is what proves it comes from Atlassian)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="jira_webhook")
    receiver = models.UUIDField(default=uuid.uuid4, unique=True)
    webhook_id = models.BigIntegerField(null=True, blank=True)
    jql_filter = models.CharField(max_length=1000, blank=True)
    events = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)


class NotificationDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="notification_deliveries")
    target = models.ForeignKey(NotificationTarget, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    # One delivery per event and channel: Atlassian may send an event again.
    event_key = models.CharField(max_length=200)
    event = models.CharField(max_length=64)  # jira:issue_updated, …
    subject = models.CharField(max_length=500)  # "ABC-1 Summary"
    link = models.URLField(max_length=1000, blank=True)
    # The Bot Framework activity to post (an Adaptive Card: the key, summary, status).
    card = models.JSONField(default=dict)
    channel_id = models.CharField(max_length=200)
    channel_name = models.CharField(max_length=256)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    activity_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "event_key", "channel_id"], name="notification_once"),
        ]
        indexes = [models.Index(fields=["connection", "-created_at"], name="notif_delivery_recent")]
