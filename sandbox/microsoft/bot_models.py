"""State of the simulated Bot Framework connector and of apps installed into teams: which of a
tenant's teams the portal's Teams app was added to, and every activity a bot posted."""

import uuid

from django.db import models


class TeamAppInstallation(models.Model):
    """A Teams app installed into a team (POST /teams/{id}/installedApps): its bot joins the team's
    roster, so it may post into the team's channels. The installation's id is not the app's.
    Reference: https://learn.microsoft.com/graph/api/resources/teamsappinstallation"""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    team = models.ForeignKey("sandbox_microsoft.Team", on_delete=models.CASCADE, related_name="installed_apps")
    teams_app_id = models.CharField(max_length=64)  # the catalog id (teamsApp.id)
    external_id = models.CharField(max_length=64, blank=True)  # the manifest id
    display_name = models.CharField(max_length=200, blank=True)
    bot_app_id = models.CharField(max_length=64, blank=True)  # the Entra app id of the app's bot
    installed_by = models.CharField(max_length=64, blank=True)  # the user's object id, or the app id
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "teams_app_id"], name="one_install_per_team")]


class BotActivity(models.Model):
    """An activity a bot sent through the connector (POST /v3/conversations/{id}/activities)."""

    id = models.CharField(max_length=40, primary_key=True)
    conversation_id = models.CharField(max_length=300, db_index=True)
    channel = models.ForeignKey("sandbox_microsoft.Channel", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="bot_activities")
    bot_app_id = models.CharField(max_length=64)
    activity = models.JSONField(default=dict)
    text = models.TextField(blank=True)
    created = models.FloatField()  # sandbox.clock time: the per-conversation rate limits count these

    class Meta:
        ordering = ["created"]
