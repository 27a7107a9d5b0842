"""The portal's own multi-tenancy: people, the organizations they belong to, invitations."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A portal account; people sign in with their email (django-allauth)."""

    def save(self, *args, **kwargs):
        # AbstractUser's username is unique, yet nobody types or sees it (sign-in is by email,
        # ACCOUNT_USER_MODEL_USERNAME_FIELD is None): an account created without one gets a
        # random handle, so every sign-up after the first does not collide on "".
        if not self.username:
            self.username = new_username()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "username"}
        super().save(*args, **kwargs)

    def __str__(self):
        return self.email or self.username


def new_username():
    return f"user-{uuid.uuid4().hex}"


class Organization(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when an admin removed the organization: everything else of it is deleted then, the row
    # stays for its audit trail, which is kept AUDIT_RETENTION_DAYS after this.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_per_org"),
        ]
        ordering = ["organization__name"]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_admin(self):
        return self.role == Role.ADMIN


class Invitation(models.Model):
    """An emailed invitation to join an organization.

    The link carries the invitation's id signed with the secret key (tenants/invitations.py),
    so no token is stored and the email task needs only the id. Single use (accepted_at),
    revocable (revoked_at) and expiring (expires_at) are enforced here, not by the link.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation of {self.email} to {self.organization}"

    @property
    def status(self):
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING
