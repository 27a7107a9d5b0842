"""User matching: which Microsoft user each Atlassian account of a connection is.

What is kept, and why (seed 000: "the email is not stored, only used during matching"):
ids on both sides, the Atlassian display name (to find a person in the list), and for each
address a keyed digest (BLAKE2b with a key derived from SECRET_KEY), so an incremental run
can re-match the few accounts a directory change touches without reading everything again.
The addresses themselves are stored only when the organization turns that on.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection


class OrganizationMatchingSettings(models.Model):
    """Organization-wide privacy choice for user matching: keep email addresses or not."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="matching_settings")
    store_emails = models.BooleanField(
        "Store email addresses",
        default=False,
        help_text="Off: addresses are used while matching and then forgotten (only ids are kept).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Matching settings of {self.organization}"


class IdentityMode(models.TextChoices):
    ENTRA = "entra", "Entra: the Atlassian email is the Microsoft UPN"
    NON_ENTRA = "non_entra", "Non-Entra: a regular expression turns the Atlassian email into the UPN"


class UserMatchingState(models.Model):
    """Per connection: the identity mode, and where the last run left the Microsoft directory."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="user_matching")
    identity_mode = models.CharField(max_length=16, choices=IdentityMode.choices, default=IdentityMode.ENTRA)
    upn_pattern = models.CharField(max_length=300, blank=True)
    upn_replacement = models.CharField(max_length=300, blank=True)
    # Graph's users/delta link from the last completed run: the next incremental run starts there.
    delta_link = models.TextField(blank=True)
    # Bumped by each full run: rows the run did not see (generation != its own) are gone.
    generation = models.PositiveIntegerField(default=0)
    microsoft_users = models.PositiveIntegerField(default=0)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_incremental_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"User matching of {self.connection}"


class MicrosoftUserKey(models.Model):
    """One address of one Microsoft user, as a keyed digest; `kinds` says where it was found
    (bits: 1 mail, 2 userPrincipalName, 4 proxyAddresses), so one row serves a user whose
    mail, UPN and primary SMTP address are the same."""

    MAIL, UPN, PROXY = 1, 2, 4

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=64)
    digest = models.CharField(max_length=32)
    kinds = models.PositiveSmallIntegerField()
    # The address itself, only when the organization stores emails.
    value = models.CharField(max_length=320, blank=True)
    generation = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "user_id", "digest"], name="msuserkey_unique"),
        ]
        indexes = [
            models.Index(fields=["connection", "digest"], name="msuserkey_digest"),
        ]

    def __str__(self):
        return f"{self.user_id} key"


class MatchOutcome(models.TextChoices):
    MATCHED = "matched", "Matched"
    UNMATCHED = "unmatched", "Unmatched"
    AMBIGUOUS = "ambiguous", "Ambiguous"
    HIDDEN = "hidden", "Hidden email"


class MatchMethod(models.TextChoices):
    MAIL = "mail", "by mail"
    UPN = "upn", "by UPN"
    PROXY = "proxy", "by proxy address"
    REGEX = "regex", "by the UPN rule"
    MANUAL = "manual", "manually"


class UserMatch(models.Model):
    """The result for one Atlassian account of the connection's site."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="user_matches")
    account_id = models.CharField(max_length=128)
    display_name = models.CharField(max_length=255, blank=True)
    account_type = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    # Digests of the email and of the UPN the identity mode derives from it (see module doc).
    email_key = models.CharField(max_length=32, blank=True)
    upn_key = models.CharField(max_length=32, blank=True)
    email = models.CharField(max_length=320, blank=True)  # only when the organization stores emails
    outcome = models.CharField(max_length=16, choices=MatchOutcome.choices)
    method = models.CharField(max_length=16, choices=MatchMethod.choices, blank=True)
    microsoft_user_id = models.CharField(max_length=64, blank=True)
    candidates = models.JSONField(default=list, blank=True)  # Microsoft ids, when ambiguous
    generation = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["display_name", "account_id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "account_id"], name="usermatch_unique_account"),
        ]
        indexes = [
            models.Index(fields=["connection", "outcome", "method"], name="usermatch_outcome"),
            models.Index(fields=["connection", "email_key"], name="usermatch_email_key"),
            models.Index(fields=["connection", "upn_key"], name="usermatch_upn_key"),
            models.Index(fields=["connection", "microsoft_user_id"], name="usermatch_ms_user"),
        ]

    def __str__(self):
        return f"{self.display_name or self.account_id}: {self.outcome}"


class ManualMapping(models.Model):
    """An admin's word that this Atlassian account is that Microsoft user; runs never change it."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="manual_mappings")
    account_id = models.CharField(max_length=128)
    microsoft_user_id = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "account_id"], name="manualmapping_unique_account"),
        ]

    def __str__(self):
        return f"{self.account_id} -> {self.microsoft_user_id}"
