"""Support staff's access to one organization: given for a reason, for a limited time."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .organizations import Organization


class SupportAccess(models.Model):
    """A support person's stated reason to look inside one organization (a ticket and a
    sentence), valid until `expires_at` (SUPPORT_ACCESS_MINUTES). Every look made under it
    names it in the audit trail, and the organization's admins see both."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_accesses")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="support_accesses")
    ticket = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    opened_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["staff", "organization", "-expires_at"], name="support_access_lookup")]

    def __str__(self):
        return f"{self.staff} in {self.organization} for {self.ticket}"

    @property
    def is_active(self):
        return self.expires_at > timezone.now()
