"""Microsoft Search (Graph connectors) as the sandbox keeps it: the external connections an app
created in a tenant, their schema and its asynchronous operation, the items and external groups
pushed into them, and the opt-in faults a test switches on.

References:
https://learn.microsoft.com/graph/api/resources/externalconnectors-externalconnection
https://learn.microsoft.com/graph/api/resources/externalconnectors-externalitem
https://learn.microsoft.com/graph/api/resources/externalconnectors-externalgroup
https://learn.microsoft.com/graph/api/resources/externalconnectors-connectionoperation
"""

from django.db import models

from .models import Tenant


class ExternalConnection(models.Model):
    class State(models.TextChoices):
        # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalconnection
        DRAFT = "draft"
        READY = "ready"
        OBSOLETE = "obsolete"
        LIMIT_EXCEEDED = "limitExceeded"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="external_connections")
    connection_id = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    # The app that created it: "OwnedBy" permissions reach only these.
    owner_app_id = models.CharField(max_length=64)
    # The registered schema (properties as given), empty until an operation completes.
    schema = models.JSONField(default=list, blank=True)
    # Items ingested in the current one-second window (per-connection throughput limit).
    ingest_window = models.FloatField(default=0)
    ingest_count = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Connection ids are unique in a tenant, case-insensitively (Graph answers 409).
            models.UniqueConstraint(fields=["tenant", "connection_id"], name="sbx_ms_extconn_unique"),
        ]

    def __str__(self):
        return f"{self.connection_id} ({self.state})"


class ConnectionOperation(models.Model):
    class Status(models.TextChoices):
        # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-connectionoperation
        UNSPECIFIED = "unspecified"
        IN_PROGRESS = "inprogress"
        COMPLETED = "completed"
        FAILED = "failed"

    id = models.CharField(max_length=64, primary_key=True)
    connection = models.ForeignKey(ExternalConnection, on_delete=models.CASCADE, related_name="operations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    # The schema to register once done, and when (sandbox clock, epoch seconds) it is done.
    pending_schema = models.JSONField(default=list)
    done_at = models.FloatField()
    fails = models.BooleanField(default=False)
    error = models.JSONField(null=True, blank=True)


class ExternalItem(models.Model):
    connection = models.ForeignKey(ExternalConnection, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=128)
    acl = models.JSONField(default=list)
    properties = models.JSONField(default=dict)
    content = models.JSONField(default=dict, blank=True)
    puts = models.PositiveIntegerField(default=1)  # how often it was written (create + replaces)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "item_id"], name="sbx_ms_extitem_unique")]


class ExternalGroup(models.Model):
    connection = models.ForeignKey(ExternalConnection, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=128)
    display_name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "group_id"], name="sbx_ms_extgroup_unique")]


class ExternalGroupMember(models.Model):
    # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-identity
    group = models.ForeignKey(ExternalGroup, on_delete=models.CASCADE, related_name="members")
    member_id = models.CharField(max_length=128)
    type = models.CharField(max_length=16)  # user, group, externalGroup

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "member_id"], name="sbx_ms_extmember_unique")]


class SearchFaults(models.Model):
    """Opt-in behaviours of Microsoft Search in one tenant (a row per tenant; none = defaults)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="search_faults")
    # The documented known issue: the create call answers 503 although it created the connection
    # (the retry then gets 409). Counts down: how many creations still answer 503.
    # Reference: https://learn.microsoft.com/graph/api/externalconnectors-external-post-connections (note)
    create_503 = models.PositiveIntegerField(default=0)
    # How long (sandbox seconds) a schema operation stays inprogress; whether it ends failed.
    schema_seconds = models.FloatField(default=2)
    schema_fails = models.BooleanField(default=False)
    # Items per second a connection ingests before 429 (Graph documents 25 items/s).
    ingest_rate = models.PositiveIntegerField(default=25)
