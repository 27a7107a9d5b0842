"""Health checks of a connection's features: one row per check per run.

The latest row of each (connection, feature, check) carries `is_latest`, so the page and the
status rule read "what is true now" with one indexed query; older rows stay as history (the
runner keeps the last HISTORY runs' worth per connection).
"""

from django.db import models
from django.utils import timezone

from .core import Connection


class HealthCheckResult(models.Model):
    class Outcome(models.TextChoices):
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Cause(models.TextChoices):
        """Why a check failed, as the connection's status needs to know it."""

        NONE = "", "—"
        PERMISSION = "permission", "A permission is missing"
        NEEDS_REAUTH = "needs_reauth", "A credential is dead"
        UNAVAILABLE = "unavailable", "The service did not answer"
        OTHER = "other", "Something else"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="health_results")
    # A key of connections.permissions.FEATURES, or "credentials" for the checks every feature relies on.
    feature = models.CharField(max_length=64)
    check_name = models.CharField(max_length=64)  # `check` would shadow Model.check()
    side = models.CharField(max_length=16)  # "microsoft" or "atlassian"
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    cause = models.CharField(max_length=16, choices=Cause.choices, blank=True, default="")
    message = models.CharField(max_length=500)
    remedy = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    is_latest = models.BooleanField(default=True)

    class Meta:
        ordering = ["feature", "check_name", "-checked_at"]
        indexes = [models.Index(fields=["connection", "is_latest"], name="health_latest")]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "feature", "check_name"],
                condition=models.Q(is_latest=True),
                name="health_one_latest_per_check",
            ),
        ]

    def __str__(self):
        return f"{self.feature}/{self.check_name}: {self.outcome}"
