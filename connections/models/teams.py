"""What the Teams sync jobs keep per connection: the teams and channels it can see (to choose
notification targets), and channel messages reduced to the declared fields (seed 003).

Nothing here is more than seeds 000/003 declare: ids and names of teams and channels, a
channel's membership type; per message its id, author id, mentioned ids and creation time,
and its body only while the connection's "channel knowledge" feature is on.
"""

from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection


class TeamsTeam(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="teams")
    team_id = models.CharField(max_length=64)  # the group's GUID
    display_name = models.CharField(max_length=256)
    visibility = models.CharField(max_length=32, blank=True)  # when Graph says (public/private)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Set when a directory run no longer saw the team; cleared if it comes back.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [models.UniqueConstraint(fields=["connection", "team_id"], name="teams_team_unique")]

    def __str__(self):
        return self.display_name


class TeamsChannel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="channels")
    team = models.ForeignKey(TeamsTeam, on_delete=models.CASCADE, related_name="channels")
    channel_id = models.CharField(max_length=200)  # "19:…@thread.tacv2"
    display_name = models.CharField(max_length=256)
    membership_type = models.CharField(max_length=32, blank=True)  # standard / private / shared
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    # The newest message a finished channel-messages pass has stored: the next incremental
    # pass reads newest-first and stops there.
    messages_cursor_id = models.CharField(max_length=64, blank=True)
    messages_cursor_at = models.DateTimeField(null=True, blank=True)
    messages_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team__display_name", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "channel_id"], name="teams_channel_unique"),
        ]

    def __str__(self):
        return f"{self.team} / {self.display_name}"


class TeamsMessage(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(TeamsChannel, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=64)
    author_id = models.CharField(max_length=64, blank=True)  # from.user.id (empty for apps)
    mention_ids = models.JSONField(default=list, blank=True)  # mentions[].mentioned.user.id
    created_at = models.DateTimeField()
    body = models.TextField(blank=True)  # only with the channel_knowledge feature on

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "message_id"], name="teams_message_unique"),
        ]

    def __str__(self):
        return self.message_id
