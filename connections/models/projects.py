"""Per-project switches: which Jira Service Management projects of a connection's site
post to Teams (seed 004: "turn Teams on or off per service project")."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .core import Connection


class ConnectionProject(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="projects")
    project_id = models.CharField(max_length=32)
    key = models.CharField(max_length=32)
    name = models.CharField(max_length=255)
    # On from the start: once connected, the tenant serves every service project and an admin
    # switches it off per project (seed 004). Only new rows take the default; a choice made is kept.
    teams_enabled = models.BooleanField(
        "Teams",
        default=True,
        help_text="On: incident responders of this project can create Microsoft Teams chats and meetings with "
        "the connection's tenant. On by default once the tenant is connected; off refuses both.",
    )
    # The project no longer comes back from Jira (deleted, archived, or access lost): kept, with
    # its switch, so nothing the admin chose disappears without a trace.
    gone_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "project_id"], name="project_unique_per_connection"),
        ]

    def __str__(self):
        return f"{self.key} ({self.name})"
