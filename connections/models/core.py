"""What links the two sides: connections, the permissions granted for them, credentials.

Kept apart on purpose (learned from Sentry): the external installs (tenants app), the
link between them (Connection), and the credential (Credential: encrypted, never
rendered, never logged).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import AtlassianSite, MicrosoftTenant, Organization

from .. import crypto
from ..microsoft.errors import explain
from ..microsoft.roles import role_name


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
    # Keys of connections.permissions.FEATURES: what this connection is for, and so what
    # it may ask for (least privilege).
    features = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set while the connection is disconnected (status "disconnected"); cleared on reconnect.
    disconnected_at = models.DateTimeField(null=True, blank=True)
    disconnected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["site__name", "tenant__display_name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "tenant"], name="connection_unique_per_pair"),
        ]
        # Counts by status, the status filter, and each status's most recently changed first.
        indexes = [models.Index(fields=["organization", "status", "-updated_at"], name="connection_org_status")]

    def __str__(self):
        return f"{self.site} ↔ {self.tenant}"


class Provider(models.TextChoices):
    MICROSOFT = "microsoft", "Microsoft Graph"
    ATLASSIAN = "atlassian", "Atlassian"


class PermissionKind(models.TextChoices):
    DELEGATED = "delegated", "Delegated"
    APPLICATION = "application", "Application"
    SCOPE = "scope", "OAuth scope"


class PermissionGrant(models.Model):
    """One permission of one connection: requested, granted, observed.

    requested: what the portal asked for (from the features' needs); granted: what the
    provider said it granted (a consent callback, a token response's `scope`); observed:
    what a token the portal fetched itself actually carries (`roles`, `scp`, scopes).
    Only `observed` is trusted for the connection's status; drift between the three is shown.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="grants")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    kind = models.CharField(max_length=16, choices=PermissionKind.choices)
    name = models.CharField(max_length=120)

    requested_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The consent link (or direct consent) that asked for it; set by the Microsoft flow.
    consent_request_id = models.BigIntegerField(null=True, blank=True)

    granted_at = models.DateTimeField(null=True, blank=True)
    granted_by_name = models.CharField(max_length=255, blank=True)
    granted_by_upn = models.CharField(max_length=255, blank=True)
    granted_by_oid = models.CharField(max_length=64, blank=True)
    # The Entra role template id (from the verified id_token's `wids`) that let them grant it.
    granted_by_role = models.CharField(max_length=64, blank=True)
    redirect_uri = models.URLField(max_length=500, blank=True)
    cloud = models.CharField(max_length=16, blank=True)

    observed = models.BooleanField(default=False)
    observed_at = models.DateTimeField(null=True, blank=True)

    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "provider", "kind", "name"], name="grant_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display().lower()})"

    @property
    def granted_by_role_name(self):
        return role_name(self.granted_by_role) if self.granted_by_role else ""

    @property
    def state(self):
        """In words, for the grant table."""
        if self.observed:
            return "observed"
        if self.revoked_at:
            return "revoked"
        if self.granted_at:
            return "granted, not observed"
        return "requested" if self.requested_at else "not requested"


class Credential(models.Model):
    """Tokens the portal keeps, encrypted. Belongs to a connection (Microsoft delegated
    tokens) or to a site (Atlassian OAuth tokens or an API token).

    Never rendered, logged or put in audit details: read the secrets through the
    properties below only where a client is built.
    """

    class Kind(models.TextChoices):
        MICROSOFT_DELEGATED = "microsoft_delegated", "Microsoft delegated token"
        ATLASSIAN_OAUTH = "atlassian_oauth", "Atlassian OAuth 2.0 token"
        ATLASSIAN_API_TOKEN = "atlassian_api_token", "Atlassian API token"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="credentials")
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, null=True, blank=True, related_name="credentials"
    )
    site = models.ForeignKey(
        AtlassianSite, on_delete=models.CASCADE, null=True, blank=True, related_name="credentials"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Whose credential: a UPN, an Atlassian account's email, or the API token's email.
    principal = models.CharField(max_length=255, blank=True)
    principal_id = models.CharField(max_length=128, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    _access_token = models.TextField(db_column="access_token", blank=True)
    _refresh_token = models.TextField(db_column="refresh_token", blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(connection__isnull=False) | models.Q(site__isnull=False),
                name="credential_has_owner",
            ),
        ]

    def __str__(self):
        # Never the secret itself.
        return f"{self.get_kind_display()} for {self.principal or 'unknown principal'}"

    def __repr__(self):
        return f"<Credential {self.pk} {self.kind}>"

    @property
    def access_token(self):
        return crypto.decrypt(self._access_token)

    @access_token.setter
    def access_token(self, value):
        self._access_token = crypto.encrypt(value or "")

    @property
    def refresh_token(self):
        return crypto.decrypt(self._refresh_token)

    @refresh_token.setter
    def refresh_token(self, value):
        self._refresh_token = crypto.encrypt(value or "")

    def is_stale(self, margin_seconds=300):
        return self.expires_at is None or self.expires_at <= timezone.now() + timedelta(seconds=margin_seconds)


class ConsentRequest(models.Model):
    """A request for a tenant admin's consent: a shared link, or the site admin's own
    "Give permission". The link's token is found by its SHA-256; the token itself is kept
    encrypted (like provider tokens) so the site admin can show or send the link again."""

    class Kind(models.TextChoices):
        LINK = "link", "Consent link"
        DIRECT = "direct", "Given directly"

    class State(models.TextChoices):
        SENT = "sent", "Sent"
        OPENED = "opened", "Opened"
        CONSENTED = "consented", "Consented"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"
        FAILED = "failed", "Failed"

    OPEN_STATES = (State.SENT, State.OPENED)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="consent_requests")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="consent_requests")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LINK)
    token_hash = models.CharField(max_length=64, unique=True)
    _token = models.TextField(db_column="token", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.SENT)
    opened_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # What went wrong, as the provider said it (code and description) and in plain words.
    error_code = models.CharField(max_length=64, blank=True)
    error_description = models.TextField(blank=True)
    # Who granted (or declined), as a verified id_token named them.
    granted_by_name = models.CharField(max_length=255, blank=True)
    granted_by_upn = models.CharField(max_length=255, blank=True)
    granted_by_oid = models.CharField(max_length=64, blank=True)
    # The proof this organization's own consent round gives (connections.microsoft.consent_proof):
    # the admin's role and tenant from a verified id_token, and when the tenant's admin-consent
    # round for this request came back.
    granted_by_role = models.CharField(max_length=64, blank=True)
    granted_in_tenant = models.CharField(max_length=64, blank=True)
    admin_consent_at = models.DateTimeField(null=True, blank=True)
    # What it asked for, frozen at creation (features can change later).
    requested_delegated = models.JSONField(default=list, blank=True)
    requested_application = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.connection}"

    @property
    def effective_state(self):
        if self.state in self.OPEN_STATES and self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State(self.state)

    @property
    def is_usable(self):
        return self.effective_state in self.OPEN_STATES

    @property
    def token(self):
        """The link's token (encrypted at rest); empty for a link made before it was kept."""
        return crypto.decrypt(self._token) if self._token else ""

    @token.setter
    def token(self, value):
        self._token = crypto.encrypt(value or "")

    @property
    def link_state(self):
        """The link's state in the site admin's words: open, used, expired, withdrawn."""
        state = self.effective_state
        if state in self.OPEN_STATES:
            return "open"
        return {
            self.State.CONSENTED: "used: permission granted",
            self.State.DECLINED: "used: declined",
            self.State.FAILED: "used: failed",
            self.State.EXPIRED: "expired",
            self.State.REVOKED: "withdrawn",
        }[state]

    @property
    def granted_by_role_name(self):
        return role_name(self.granted_by_role) if self.granted_by_role else ""

    @property
    def advice(self):
        """(what happened, what to do) in plain words, for a declined or failed request."""
        return explain(self.error_code, self.error_code)
