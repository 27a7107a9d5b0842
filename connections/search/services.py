"""Writes of the Microsoft Search setup: each step saved (and changeable later), publishing,
starting crawls and disconnecting. Each writes its audit event; none carries a secret."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AuditAction, User
from tenants.services import require_admin

from ..matching.services import identity_mode_set, matching_state
from ..microsoft import search_endpoints as api
from ..microsoft.graph import Graph, GraphError
from ..models import (
    ALWAYS_ON,
    SEARCH_PROPERTIES,
    Connection,
    IdentityMode,
    IndexedItem,
    PushedGroup,
    SearchConnection,
    SkippedItem,
    SyncRun,
    SyncSchedule,
    UnmappedPrincipal,
)
from ..sync.schedules import sync_schedule_save
from ..sync.services import RUNNABLE, sync_run_cancel, sync_run_start
from . import errors

FEATURE = "confluence_search"
STEPS = ("connection", "properties", "filter", "permissions", "refresh")
SEARCH_KINDS = (SyncRun.Kind.SEARCH_SETUP, SyncRun.Kind.SEARCH_CRAWL, SyncRun.Kind.SEARCH_PERMISSIONS)


def _default_id(connection: Connection) -> str:
    return f"confluence{connection.pk}"


def search_get_or_default(connection: Connection) -> SearchConnection:
    """The connection's search settings, or unsaved defaults (a GET writes nothing)."""
    found = SearchConnection.objects.filter(connection=connection).first()
    if found:
        return found
    return SearchConnection(
        organization=connection.organization, connection=connection, graph_connection_id=_default_id(connection),
        name=f"Confluence {connection.site}"[:128], properties=list(_all_properties()),
    )


def _all_properties() -> list[str]:
    return list(SEARCH_PROPERTIES)


# What each step may change on SearchConnection.
STEP_FIELDS = {
    "connection": ("name", "graph_connection_id", "description"),
    "properties": ("properties",),
    "filter": ("space_keys", "cql"),
    "permissions": ("permission_mode", "identity_type", "upn_pattern", "upn_formula", "anonymous_except_guests"),
    "refresh": ("full_every_minutes", "incremental_every_minutes", "permissions_every_minutes"),
}


@transaction.atomic
def search_save_step(
    *, connection: Connection, step: str, values: dict[str, Any], acting_user: User
) -> SearchConnection:
    """Save one step. After publishing, a change takes effect at once: new properties are
    registered (setup run), a new filter or permission setting is crawled, schedules move."""
    require_admin(connection.organization, acting_user)
    if step not in STEP_FIELDS:
        raise ValidationError("Unknown step.")
    if FEATURE not in (connection.features or []):
        raise ValidationError("Turn on the feature “Confluence in Microsoft Search” first.")
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    search = search_get_or_default(connection)
    if search.pk:
        search = SearchConnection.objects.select_for_update().get(pk=search.pk)
    if step == "connection" and search.graph_connection_created and (
        values["graph_connection_id"].lower() != search.graph_connection_id.lower()
    ):
        raise ValidationError({"graph_connection_id": "The connection id cannot change once Microsoft Search has "
                                                      "the connection. Disconnect with the index removed first."})
    if step == "properties":
        values = {"properties": sorted(set(values["properties"]) | set(ALWAYS_ON))}
    changed = {name: value for name, value in values.items() if getattr(search, name) != value}
    for name, value in values.items():
        setattr(search, name, value)
    if step not in search.steps_done:
        search.steps_done = [*search.steps_done, step]
    search.updated_by = acting_user
    search.save()
    audit_record(
        organization=connection.organization, action=AuditAction.SEARCH_SETTINGS_SAVED, actor=acting_user,
        target=connection, details={"step": step, "changed": sorted(changed)},
    )
    if step == "permissions" and "user_mapping" in (connection.features or []):
        _share_identity_rule(connection, search, acting_user)
    if search.published and changed and search.state != SearchConnection.State.DISCONNECTED:
        _apply_change(search, step, acting_user)
    return search


def _share_identity_rule(connection: Connection, search: SearchConnection, acting_user: User) -> None:
    """The connection's user matching derives the UPNs the ACLs rest on: it takes the same
    identity rule (and re-matches when it changes)."""
    mode = IdentityMode.NON_ENTRA if search.identity_type == SearchConnection.IdentityType.NON_ENTRA else (
        IdentityMode.ENTRA)
    state = matching_state(connection)
    if (state.identity_mode, state.upn_pattern, state.upn_replacement) != (mode, search.upn_pattern,
                                                                           search.upn_formula):
        identity_mode_set(connection=connection, identity_mode=mode, upn_pattern=search.upn_pattern,
                          upn_replacement=search.upn_formula, acting_user=acting_user)


def _apply_change(search: SearchConnection, step: str, acting_user: User) -> None:
    connection = search.connection
    if step == "refresh":
        _save_schedules(search, acting_user)
        return
    if step == "properties":
        # Items carry their properties: every item is sent again by the crawl that follows the
        # schema's registration (Graph: a new label or capability needs re-ingestion).
        # Reference: https://learn.microsoft.com/graph/connecting-external-content-manage-schema
        IndexedItem.objects.filter(search=search).update(version=0)
    if connection.status not in RUNNABLE:
        return
    kind = {"properties": SyncRun.Kind.SEARCH_SETUP, "connection": None, "filter": SyncRun.Kind.SEARCH_CRAWL,
            "permissions": SyncRun.Kind.SEARCH_PERMISSIONS}[step]
    if kind is None:
        return
    try:
        sync_run_start(connection=connection, kind=kind, mode=SyncRun.Mode.FULL, acting_user=acting_user)
    except ValidationError:
        pass  # one is running already; the schedule picks the change up next time


def _save_schedules(search: SearchConnection, acting_user: User) -> None:
    connection = search.connection
    sync_schedule_save(connection=connection, kind=SyncRun.Kind.SEARCH_CRAWL,
                       enabled=bool(search.full_every_minutes or search.incremental_every_minutes),
                       full_every_minutes=search.full_every_minutes,
                       incremental_every_minutes=search.incremental_every_minutes, acting_user=acting_user)
    sync_schedule_save(connection=connection, kind=SyncRun.Kind.SEARCH_PERMISSIONS,
                       enabled=bool(search.permissions_every_minutes),
                       full_every_minutes=search.permissions_every_minutes, incremental_every_minutes=0,
                       acting_user=acting_user)
    # Published now: the schedules' first full runs come after the setup's own first crawl.
    now = timezone.now()
    SyncSchedule.objects.filter(connection=connection, kind__in=[SyncRun.Kind.SEARCH_CRAWL,
                                                                 SyncRun.Kind.SEARCH_PERMISSIONS]).filter(
        last_full_at__isnull=True).update(last_full_at=now)
    for schedule in SyncSchedule.objects.filter(connection=connection, kind__in=[SyncRun.Kind.SEARCH_CRAWL,
                                                                                  SyncRun.Kind.SEARCH_PERMISSIONS]):
        schedule.advance("full", schedule.last_full_at or now)
        schedule.save()


def missing_steps(search: SearchConnection) -> list[str]:
    return [step for step in STEPS if step not in (search.steps_done or [])]


@transaction.atomic
def search_publish(*, connection: Connection, acting_user: User) -> SearchConnection:
    """Step 6: review and publish. Creates the Graph connection and registers the schema (a setup
    run), which then starts the first full crawl; the refresh schedules take over from there."""
    require_admin(connection.organization, acting_user)
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    search = SearchConnection.objects.select_for_update().filter(connection=connection).first()
    if search is None or missing_steps(search):
        missing = missing_steps(search) if search else list(STEPS)
        raise ValidationError(f"Save every step before publishing; still to do: {', '.join(missing)}.")
    if connection.status not in RUNNABLE:
        raise ValidationError(f"This connection is {connection.get_status_display().lower()}: fix that first.")
    search.published_at = timezone.now()
    search.state = SearchConnection.State.CREATING if not search.graph_connection_created else search.state
    if search.state == SearchConnection.State.DISCONNECTED:
        search.state = SearchConnection.State.CREATING
    search.error_code = search.error = search.remedy = ""
    search.save()
    _save_schedules(search, acting_user)
    run = sync_run_start(connection=connection, kind=SyncRun.Kind.SEARCH_SETUP, acting_user=acting_user)
    audit_record(
        organization=connection.organization, action=AuditAction.SEARCH_PUBLISHED, actor=acting_user,
        target=connection, details={"graph_connection_id": search.graph_connection_id, "run": run.pk,
                                    "properties": search.properties, "permission_mode": search.permission_mode},
    )
    return search


def search_disconnect(*, connection: Connection, remove_index: bool, acting_user: User) -> SearchConnection:
    """Stop indexing. The index stays in Microsoft Search (people still find what was indexed)
    unless `remove_index`: then the Graph connection is deleted with everything in it.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-delete"""
    require_admin(connection.organization, acting_user)
    search = SearchConnection.objects.filter(connection=connection).first()
    if search is None or not search.published:
        raise ValidationError("Microsoft Search is not published on this connection.")
    with transaction.atomic():
        active = SyncRun.objects.filter(connection=connection, kind__in=SEARCH_KINDS, state__in=SyncRun.ACTIVE_STATES)
        for run in active:
            sync_run_cancel(run=run, acting_user=acting_user)
        SyncSchedule.objects.filter(connection=connection, kind__in=SEARCH_KINDS).update(enabled=False)
    if remove_index and search.graph_connection_created:
        try:
            api.delete_connection(Graph(connection), search.graph_connection_id)
        except GraphError as exc:
            found = errors.from_graph(exc)
            raise ValidationError(f"{found.message} {found.remedy}") from exc
    with transaction.atomic():
        search = SearchConnection.objects.select_for_update().get(pk=search.pk)
        search.state = SearchConnection.State.DISCONNECTED
        search.published_at = None
        if remove_index:
            IndexedItem.objects.filter(search=search).delete()
            PushedGroup.objects.filter(search=search).delete()
            SkippedItem.objects.filter(search=search).delete()
            UnmappedPrincipal.objects.filter(search=search).delete()
            search.graph_connection_created = False
            search.registered_properties = []
            search.schema_status = ""
            search.schema_operation_url = ""
            search.items_indexed = 0
            search.changes_since = None
        search.save()
        audit_record(
            organization=connection.organization, action=AuditAction.SEARCH_DISCONNECTED, actor=acting_user,
            target=connection, details={"graph_connection_id": search.graph_connection_id,
                                        "index_removed": bool(remove_index)},
        )
    return search


def search_run_start(*, connection: Connection, what: str, acting_user: User) -> SyncRun:
    """A crawl by hand: "full", "incremental" or "permissions"."""
    search = SearchConnection.objects.filter(connection=connection).first()
    if search is None or not search.published:
        raise ValidationError("Publish the Microsoft Search setup first.")
    if what == "permissions":
        return sync_run_start(connection=connection, kind=SyncRun.Kind.SEARCH_PERMISSIONS, acting_user=acting_user)
    if what not in ("full", "incremental"):
        raise ValidationError("Unknown crawl.")
    return sync_run_start(connection=connection, kind=SyncRun.Kind.SEARCH_CRAWL, mode=what, acting_user=acting_user)
