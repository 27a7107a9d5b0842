"""Intune app protection for Atlassian's mobile apps, per Atlassian organization.

An AtlassianOrganization (admin.atlassian.com) is registered with its organization API key
(encrypted, like every credential, with its expiry). Its claimed domains are read from
Atlassian and each verified one is resolved to its Microsoft tenant. Per tenant the portal keeps
what it last saw of the two Atlassian enterprise apps (AtlassianAppConsent); a MobileAppPolicy
becomes one Intune policy per platform in each tenant (PolicyDeployment). Steps no API shows
(the Atlassian-side switch, users signing in again) are confirmed by an admin, with who and when.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .. import crypto


class AtlassianOrganization(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="atlassian_organizations")
    org_id = models.CharField("Atlassian organization id", max_length=64)
    name = models.CharField(max_length=120)
    # The organization API key: encrypted, never rendered, logged or put in an audit detail.
    _api_key = models.TextField(db_column="api_key", blank=True)
    key_expires_at = models.DateTimeField(null=True, blank=True)
    key_saved_at = models.DateTimeField(null=True, blank=True)
    domains_read_at = models.DateTimeField(null=True, blank=True)
    # What went wrong the last time Atlassian was asked (in words; never the key).
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "org_id"], name="atlassian_org_unique_per_org"),
        ]

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<AtlassianOrganization {self.pk}>"

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self._api_key) if self._api_key else ""

    @api_key.setter
    def api_key(self, value: str) -> None:
        self._api_key = crypto.encrypt(value or "")

    @property
    def key_expired(self) -> bool:
        return self.key_expires_at is not None and self.key_expires_at <= timezone.now()

    @property
    def key_expires_soon(self) -> bool:
        """Within APP_SECRET_WARNING_DAYS, as the portal's own client secrets warn."""
        if self.key_expires_at is None:
            return False
        return self.key_expires_at <= timezone.now() + timedelta(days=settings.APP_SECRET_WARNING_DAYS)


class OrganizationDomain(models.Model):
    class Resolution(models.TextChoices):
        NOT_CHECKED = "not_checked", "Not looked up"
        TENANT = "tenant", "Microsoft tenant found"
        UNKNOWN = "unknown", "No Microsoft tenant has verified this domain"
        FAILED = "failed", "Microsoft did not answer"

    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="domains")
    domain_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=253)
    claim_type = models.CharField(max_length=10, blank=True)
    claim_status = models.CharField(max_length=20)  # verified | unverified | superseded | missing_token | deleted
    tenant_id = models.CharField(max_length=64, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, default=Resolution.NOT_CHECKED)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["atlassian_organization", "name"], name="org_domain_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def verified(self) -> bool:
        return self.claim_status == "verified"


class TenantState(models.Model):
    """What the portal last saw of one Microsoft tenant an organization's domains belong to."""

    class Intune(models.TextChoices):
        NOT_CHECKED = "not_checked", "Not checked yet"
        LICENSED = "licensed", "Intune answers (licensed)"
        UNLICENSED = "unlicensed", "No active Intune licence"
        UNREADABLE = "unreadable", "Could not be read"

    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="tenant_states")
    tenant_id = models.CharField(max_length=64)
    intune = models.CharField(max_length=16, choices=Intune.choices, default=Intune.NOT_CHECKED)
    # The organization's domains this tenant has verified, from Graph (when connected).
    verified_in_tenant = models.JSONField(default=list, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["atlassian_organization", "tenant_id"], name="tenant_state_unique"),
        ]

    def __str__(self):
        return f"{self.tenant_id}: {self.get_intune_display()}"


class AtlassianApp(models.TextChoices):
    JIRA = "jira", "Jira Cloud by Atlassian"
    CONFLUENCE = "confluence", "Confluence Cloud by Atlassian"


class AtlassianAppConsent(models.Model):
    """What the portal last saw of one Atlassian enterprise app in one tenant."""

    class State(models.TextChoices):
        NOT_CHECKED = "not_checked", "Not checked yet"
        NOT_IN_ENTRA = "not_in_entra", "Not yet in Entra (sign in once from the mobile app first)"
        NO_TENANT_CONSENT = "no_tenant_consent", "Present, no tenant-wide consent"
        CONSENTED = "consented", "Consented"
        UNREADABLE = "unreadable", "Could not be read"

    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="app_consents")
    tenant_id = models.CharField(max_length=64)
    app = models.CharField(max_length=16, choices=AtlassianApp.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NOT_CHECKED)
    service_principal_id = models.CharField(max_length=64, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant_id", "app"]
        constraints = [
            models.UniqueConstraint(fields=["atlassian_organization", "tenant_id", "app"], name="app_consent_unique"),
        ]

    def __str__(self):
        return f"{self.get_app_display()} in {self.tenant_id}: {self.get_state_display()}"


class AppConsentLink(models.Model):
    """A link for a tenant's admin to grant admin consent to one Atlassian app: like the portal's
    consent links, found by its token's SHA-256, the token kept encrypted, single use, expiring."""

    class State(models.TextChoices):
        SENT = "sent", "Open"
        OPENED = "opened", "Opened"
        USED = "used", "Used: sent on to Microsoft"
        REVOKED = "revoked", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="app_consent_links")
    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="consent_links")
    tenant_id = models.CharField(max_length=64)
    app = models.CharField(max_length=16, choices=AtlassianApp.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    _token = models.TextField(db_column="token", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.SENT)
    opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Consent link for {self.get_app_display()} in {self.tenant_id}"

    @property
    def token(self) -> str:
        return crypto.decrypt(self._token) if self._token else ""

    @token.setter
    def token(self, value: str) -> None:
        self._token = crypto.encrypt(value or "")

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.state in (self.State.SENT, self.State.OPENED) and not self.expired

    @property
    def link_state(self) -> str:
        if self.state in (self.State.SENT, self.State.OPENED):
            return "expired" if self.expired else "open"
        return {self.State.USED: "used", self.State.REVOKED: "withdrawn"}[self.State(self.state)]


class ManualStep(models.TextChoices):
    """Steps no API shows the portal: an admin says they are done."""

    GUARD = "guard", "Atlassian Guard subscription"
    ATLASSIAN_SWITCH = "atlassian_switch", "“Use an Intune policy instead” in Atlassian Administration"
    USERS_SIGNED_IN_AGAIN = "users_signed_in_again", "Users signed out and in again on their devices"


class ManualStepConfirmation(models.Model):
    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="confirmations")
    step = models.CharField(max_length=32, choices=ManualStep.choices)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["atlassian_organization", "step"], name="manual_step_unique"),
        ]

    def __str__(self):
        return f"{self.get_step_display()} confirmed"


class MobileAppPolicy(models.Model):
    """An organization's mobile app policy: apps, platforms, settings, groups per tenant."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="mobile_app_policies")
    atlassian_organization = models.ForeignKey(AtlassianOrganization, on_delete=models.CASCADE,
                                               related_name="policies")
    name = models.CharField(max_length=100)
    apps = models.JSONField(default=list)  # ["jira", "confluence"]
    platforms = models.JSONField(default=list)  # ["ios", "android"]
    # Graph's property names and values (connections.intune.protection lists the allowed ones).
    options = models.JSONField(default=dict)
    # {tenant id: [group id, ...]}: each tenant's own groups.
    groups = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class PolicyDeployment(models.Model):
    """One policy on one platform in one tenant: the Intune policy's id and what was last done."""

    class State(models.TextChoices):
        CREATED = "created", "Created in Intune"
        FAILED = "failed", "Failed"

    policy = models.ForeignKey(MobileAppPolicy, on_delete=models.CASCADE, related_name="deployments")
    tenant_id = models.CharField(max_length=64)
    platform = models.CharField(max_length=10)  # ios | android
    graph_id = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    targeted_apps = models.JSONField(default=list, blank=True)
    assigned_groups = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    remedy = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "platform"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "tenant_id", "platform"], name="policy_deployment_unique"),
        ]

    def __str__(self):
        return f"{self.policy} on {self.platform} in {self.tenant_id}"
