"""The link between an Atlassian site and a Microsoft tenant of one organization."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import AtlassianSite, MicrosoftTenant, Organization


class Connection(models.Model):
    class Status(models.TextChoices):
        PENDING_CONSENT = "pending_consent", "Pending consent"
        ACTIVE = "active", "Active"
        DEGRADED = "degraded", "Degraded"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        DISCONNECTED = "disconnected", "Disconnected"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="connections")
    site = models.ForeignKey(AtlassianSite, on_delete=models.CASCADE, related_name="connections")
    tenant = models.ForeignKey(MicrosoftTenant, on_delete=models.CASCADE, related_name="connections")
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PENDING_CONSENT)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["site__name", "tenant__display_name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "tenant"], name="connection_unique_per_pair"),
        ]

    def __str__(self):
        return f"{self.site} ↔ {self.tenant}"
