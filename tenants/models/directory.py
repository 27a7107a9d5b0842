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


class SiteAuthMode(models.TextChoices):
    NONE = "", "Not connected"
    OAUTH = "oauth", "OAuth 2.0 (3LO)"
    API_TOKEN = "api_token", "API token"


class SiteAuthStatus(models.TextChoices):
    NOT_AUTHORIZED = "not_authorized", "Not authorized"
    AUTHORIZED = "authorized", "Authorized"
    # The grant died (refresh token refused, API token revoked): someone must authorize again.
    NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"


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

    # How the portal reaches the site (the secrets themselves live in connections.Credential).
    auth_mode = models.CharField(max_length=16, choices=SiteAuthMode.choices, blank=True, default="")
    auth_status = models.CharField(
        max_length=16, choices=SiteAuthStatus.choices, default=SiteAuthStatus.NOT_AUTHORIZED
    )
    # Features chosen when authorizing, on top of those of the site's connections: what the
    # site's scopes must cover.
    features = models.JSONField(default=list, blank=True)
    # What Atlassian said the grant covers for this site (OAuth only).
    granted_scopes = models.JSONField(default=list, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The Atlassian account the portal acts as (from /me, or the API token's account).
    account_id = models.CharField("Atlassian account id", max_length=128, blank=True)
    account_name = models.CharField("Atlassian account name", max_length=255, blank=True)
    account_email = models.CharField("Atlassian account email", max_length=255, blank=True)
    # The last authorization problem, in words a site admin can act on.
    auth_error = models.CharField(max_length=500, blank=True)
    auth_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "url"], name="site_url_unique_per_org"),
        ]
        # An organization's sites in name order (lists, and connections listed by site).
        indexes = [models.Index(fields=["organization", "name"], name="site_org_name")]

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
        indexes = [models.Index(fields=["organization", "display_name"], name="tenant_org_name")]

    def __str__(self):
        return self.display_name

    @property
    def domain_names(self):
        return [d["name"] for d in self.domains]

    @property
    def verified_domains(self):
        return [d["name"] for d in self.domains if d.get("verified")]
