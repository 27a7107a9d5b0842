"""Confluence in Microsoft Search: the portal's record of one search connection (a Graph
externalConnection fed from the connection's Confluence site), what it indexed and why items
were left out. The settings are the six steps of the setup, each saved on its own."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Organization

from .core import Connection

# The properties an admin can choose (seed 001's eight plus what Confluence adds), with the label
# the setup shows. title and url are always on.
SEARCH_PROPERTIES = {
    "title": "Title",
    "url": "URL",
    "iconUrl": "Icon URL",
    "authors": "Authors",
    "createdBy": "Created by",
    "createdDateTime": "Created date time",
    "lastModifiedBy": "Last modified by",
    "lastModifiedDateTime": "Last modified date time",
    "spaceName": "Space name",
    "spaceKey": "Space key",
    "contentType": "Content type",
}
ALWAYS_ON = ("title", "url")


class SearchConnection(models.Model):
    class PermissionMode(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        ACCESS = "access", "Only people with access to this data source"

    class IdentityType(models.TextChoices):
        ENTRA = "entra", "Microsoft Entra ID (the Confluence email is the UPN)"
        NON_ENTRA = "non_entra", "Non-Entra (a regular expression and a formula make the UPN)"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft: not published"
        CREATING = "creating", "Creating the Microsoft Search connection"
        PROVISIONING = "provisioning", "Registering the schema"
        READY = "ready", "Ready: waiting for the first crawl"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"
        DISCONNECTED = "disconnected", "Disconnected"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="search")
    # Step 1: connection settings.
    graph_connection_id = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    description = models.CharField(max_length=500, blank=True)
    # Step 2: properties.
    properties = models.JSONField(default=list)
    # Step 3: filter.
    space_keys = models.JSONField(default=list, blank=True)
    cql = models.TextField(blank=True)
    # Step 4: search permissions.
    permission_mode = models.CharField(max_length=16, choices=PermissionMode.choices, default=PermissionMode.ACCESS)
    identity_type = models.CharField(max_length=16, choices=IdentityType.choices, default=IdentityType.ENTRA)
    upn_pattern = models.CharField(max_length=300, blank=True)
    upn_formula = models.CharField(max_length=300, blank=True)
    # Anonymous Confluence spaces: everyone in the tenant, or everyone but guests.
    anonymous_except_guests = models.BooleanField(default=False)
    # Step 5: refresh (minutes; 0 = off).
    full_every_minutes = models.PositiveIntegerField(default=24 * 60)
    incremental_every_minutes = models.PositiveIntegerField(default=15)
    permissions_every_minutes = models.PositiveIntegerField(default=6 * 60)
    # Which steps were saved at least once (step keys), and when it was published.
    steps_done = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    # Where Graph has it.
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    graph_connection_created = models.BooleanField(default=False)
    schema_operation_url = models.URLField(max_length=500, blank=True)
    schema_status = models.CharField(max_length=16, blank=True)  # inprogress, completed, failed
    registered_properties = models.JSONField(default=list, blank=True)
    # Counters the status shows (from the last runs).
    items_indexed = models.PositiveIntegerField(default=0)
    items_skipped = models.PositiveIntegerField(default=0)
    unmapped_principals = models.PositiveIntegerField(default=0)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_incremental_at = models.DateTimeField(null=True, blank=True)
    last_permissions_at = models.DateTimeField(null=True, blank=True)
    # The incremental crawl's window starts here (the start of the last successful crawl).
    changes_since = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    remedy = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self):
        return f"Microsoft Search {self.graph_connection_id} of {self.connection}"

    @property
    def published(self):
        return self.published_at is not None


class IndexedItem(models.Model):
    """One item the portal put into the Graph connection: the full crawl deletes those it did not
    see, and an unchanged (version, ACL) is not sent again."""

    search = models.ForeignKey(SearchConnection, on_delete=models.CASCADE, related_name="indexed_items")
    item_id = models.CharField(max_length=128)
    version = models.PositiveIntegerField(default=0)
    acl_digest = models.CharField(max_length=32, blank=True)
    # The ACL last sent: an incremental crawl (content only) sends it again with new content.
    acl = models.JSONField(default=list, blank=True)
    title = models.CharField(max_length=255, blank=True)
    # The full crawl that last saw it (SyncRun id).
    seen_by_run = models.BigIntegerField(default=0)
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["search", "item_id"], name="searchitem_unique")]
        indexes = [models.Index(fields=["search", "seen_by_run"], name="searchitem_seen")]


class PushedGroup(models.Model):
    """An external group the portal created for a Confluence group, with the Entra ids pushed
    into it: the next crawl adds and removes only the difference."""

    search = models.ForeignKey(SearchConnection, on_delete=models.CASCADE, related_name="pushed_groups")
    group_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255, blank=True)
    members = models.JSONField(default=list)
    seen_by_run = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["search", "group_id"], name="searchgroup_unique")]


class SkippedItem(models.Model):
    """An item a crawl left out of the index, and why (what the status lists)."""

    class Reason(models.TextChoices):
        NO_MAPPED_READER = "no_mapped_reader", "Nobody who may read it has a Microsoft account match"
        TOO_LARGE = "too_large", "Larger than Microsoft Search's 4 MB item limit"
        TRUNCATED = "truncated", "Text cut to Microsoft Search's 4 MB item limit"
        REFUSED = "refused", "Microsoft Search refused it"

    search = models.ForeignKey(SearchConnection, on_delete=models.CASCADE, related_name="skipped")
    item_id = models.CharField(max_length=128)
    title = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    run_id = models.BigIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "item_id"]
        constraints = [models.UniqueConstraint(fields=["search", "item_id"], name="searchskip_unique")]


class UnmappedPrincipal(models.Model):
    """A Confluence user (or group member) with no Microsoft account match: dropped from ACLs."""

    search = models.ForeignKey(SearchConnection, on_delete=models.CASCADE, related_name="unmapped")
    account_id = models.CharField(max_length=128)
    display_name = models.CharField(max_length=255, blank=True)
    run_id = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["display_name", "account_id"]
        constraints = [models.UniqueConstraint(fields=["search", "account_id"], name="searchunmapped_unique")]
