"""The external installs an organization registers: Atlassian sites and Microsoft tenants.

These say only *what* exists on the other side; how the portal is linked to them lives
in connections/ (Connection), and credentials live apart from both.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .organizations import Organization


class AtlassianProduct(models.TextChoices):
    JIRA = "jira", "Jira"
    CONFLUENCE = "confluence", "Confluence"
    JSM = "jsm", "Jira Service Management"


class AtlassianSite(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    url = models.URLField("site URL", max_length=255)
    name = models.CharField(max_length=120)
    cloud_id = models.CharField(
        "cloud id", max_length=64, blank=True, help_text="Filled in when the site is authorized."
    )
    products = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "url"], name="site_url_unique_per_org"),
        ]

    def __str__(self):
        return self.name

    @property
    def product_labels(self):
        labels = dict(AtlassianProduct.choices)
        return [labels.get(p, p) for p in self.products]


class MicrosoftCloud(models.TextChoices):
    PUBLIC = "public", "Microsoft 365 (global)"
    USGOV = "usgov", "Microsoft 365 US Government (GCC High / DoD)"


class MicrosoftTenant(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tenants")
    tenant_id = models.UUIDField("tenant id")
    display_name = models.CharField(max_length=120)
    # Which national cloud: it decides the login and Graph hosts the portal talks to.
    cloud = models.CharField(max_length=16, choices=MicrosoftCloud.choices, default=MicrosoftCloud.PUBLIC)
    # [{"name": "contoso.com", "verified": true}, ...]; verification is read from Graph
    # /domains once the tenant has consented, so registered-by-hand domains start unverified.
    domains = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "tenant_id"], name="tenant_unique_per_org"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def domain_names(self):
        return [d["name"] for d in self.domains]

    @property
    def verified_domains(self):
        return [d["name"] for d in self.domains if d.get("verified")]
