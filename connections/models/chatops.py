"""Incident chats and meetings (seed 004): which Teams chat and meeting belong to which
incident, and the organization's API keys that automation rules call the portal with.

Group chats are not deduplicated by Microsoft Graph: every POST /chats makes a new chat. So the
incident -> chat link is written (state "creating") and committed before the portal asks Graph
for the chat, and an incident has at most one link (a database constraint): a retry finds the
link and never asks Graph for a second chat on its own.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection
from .projects import ConnectionProject


class ActingAs(models.TextChoices):
    # From the incident page: as the admin whose Microsoft sign-in the connection stores (Graph
    # makes that user a member of every chat it creates for them).
    DELEGATED = "delegated", "the stored Microsoft sign-in"
    # From an automation rule (the portal's API): as the portal's app, so no person is added.
    APPLICATION = "application", "the portal's app (automation)"


class IncidentChat(models.Model):
    class State(models.TextChoices):
        CREATING = "creating", "Being created"
        CREATED = "created", "Created"
        # Graph gave no answer: Teams may have made the chat. Never retried without a person.
        UNKNOWN = "unknown", "No answer from Microsoft"
        # Graph answered with an error: no chat was made; trying again is safe.
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="incident_chats")
    project = models.ForeignKey(ConnectionProject, on_delete=models.CASCADE, related_name="incident_chats")
    issue_id = models.CharField(max_length=32)
    issue_key = models.CharField(max_length=40)
    topic = models.CharField(max_length=250)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING)
    acting_as = models.CharField(max_length=16, choices=ActingAs.choices)
    chat_id = models.CharField(max_length=200, blank=True)
    web_url = models.URLField(max_length=500, blank=True)
    app_installed = models.BooleanField(default=False)
    app_error = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # Microsoft user ids in the chat (as the portal added them), for adding late responders.
    member_ids = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey("OrganizationApiKey", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "issue_id"], name="incident_chat_one_per_incident"),
        ]

    def __str__(self):
        return f"Chat for {self.issue_key}"


class IncidentMeeting(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="incident_meetings")
    project = models.ForeignKey(ConnectionProject, on_delete=models.CASCADE, related_name="incident_meetings")
    issue_id = models.CharField(max_length=32)
    issue_key = models.CharField(max_length=40)
    state = models.CharField(max_length=16, choices=IncidentChat.State.choices, default=IncidentChat.State.CREATING)
    meeting_id = models.CharField(max_length=300, blank=True)
    join_url = models.URLField(max_length=1000, blank=True)
    thread_id = models.CharField(max_length=200, blank=True)
    organizer = models.CharField(max_length=255, blank=True)
    # The internal comment on the incident that carries the join link.
    comment_id = models.CharField(max_length=32, blank=True)
    comment_error = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "issue_id"], name="incident_meeting_one_per_incident"),
        ]

    def __str__(self):
        return f"Meeting for {self.issue_key}"


class ChatopsState(models.Model):
    """Per connection: the catalog id of the portal's Teams app in the tenant (Graph installs an
    app by it, and finds it only in a user's context)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="chatops")
    teams_app_catalog_id = models.CharField(max_length=64, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)


class OrganizationApiKey(models.Model):
    """A key an automation rule calls the portal's API with. Only a SHA-256 digest is kept: the
    key is shown once, when it is made. `prefix` (the key's first characters) finds the row and
    names the key on pages; it proves nothing by itself."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self):
        return self.revoked_at is None
