"""Microsoft Search connections (Graph connectors), as Graph documents them: connections, their
schema registered through an asynchronous operation, items with ACLs, external groups and
their members, per-connection ingestion throttling, and the documented 503-then-409 creation
fault (opt-in, sandbox.microsoft.search_models.SearchFaults).

"OwnedBy" permissions reach only the connections the calling app created; the `.All` ones reach
every connection of the tenant.
Reference: https://learn.microsoft.com/graph/permissions-reference#externalconnectionreadwriteownedby
"""

import json
import math
import re
import time
import uuid

from django.db import IntegrityError
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from ... import clock
from ...db import atomic
from ...origins import graph_base
from ..search_models import (
    ConnectionOperation,
    ExternalConnection,
    ExternalGroup,
    ExternalGroupMember,
    ExternalItem,
    SearchFaults,
)
from .common import GENERIC, context_url, error, graph_endpoint, ok

# Reference: https://learn.microsoft.com/graph/api/externalconnectors-external-post-connections (permissions)
CONNECTION_WRITE = ("ExternalConnection.ReadWrite.OwnedBy", "ExternalConnection.ReadWrite.All")
# Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-get (permissions)
CONNECTION_READ = (*CONNECTION_WRITE, "ExternalConnection.Read.All")
# Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items (permissions)
ITEM_WRITE = ("ExternalItem.ReadWrite.OwnedBy", "ExternalItem.ReadWrite.All")

# Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalconnection
# (id: 3-32 characters, letters and numbers only, not beginning with Microsoft, not reserved)
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9]{3,32}$")
_RESERVED_IDS = {
    name.lower() for name in (
        "None", "Directory", "Exchange", "ExchangeArchive", "LinkedIn", "Mailbox", "OneDriveBusiness",
        "SharePoint", "Teams", "Yammer", "Connectors", "TaskFabric", "PowerBI", "Assistant", "TopicEngine",
        "MSFT_All_Connectors",
    )
}
# Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items
# (itemId: alphanumeric, at most 128 characters)
_ITEM_ID = re.compile(r"^[A-Za-z0-9]{1,128}$")
# Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-post-groups
# (group id: alphanumeric, at most 128 characters)
_GROUP_ID = _ITEM_ID
# Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits (item size 4 MB)
MAX_ITEM_BYTES = 4_000_000

# Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-property
_PROPERTY_NAME = re.compile(r"^[A-Za-z0-9]{1,32}$")
_TYPES = {
    "string", "int64", "double", "datetime", "boolean",
    "stringcollection", "int64collection", "doublecollection", "datetimecollection",
}
# Labels and the type their property must have.
# Reference: https://learn.microsoft.com/graph/connecting-external-content-manage-schema#semantic-labels
_LABEL_TYPES = {
    "title": "string", "url": "string", "createdby": "string", "lastmodifiedby": "string",
    "authors": "stringcollection", "createddatetime": "datetime", "lastmodifieddatetime": "datetime",
    "filename": "string", "fileextension": "string", "iconurl": "string",
    "containername": "string", "containerurl": "string",
}
_ACL_TYPES = {"user", "group", "everyone", "everyoneExceptGuests", "externalGroup"}
_MEMBER_TYPES = {"user", "group", "externalGroup"}


def _faults(tenant) -> SearchFaults:
    return SearchFaults.objects.filter(tenant=tenant).first() or SearchFaults(tenant=tenant)


def _body(request):
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _bad(request, message, code="BadRequest"):
    return error(400, code, message, request=request)


def _connection_json(request, version, connection):
    return {
        "@odata.context": context_url(request, version, "external/connections/$entity"),
        "id": connection.connection_id, "name": connection.name, "description": connection.description,
        "state": connection.state, "configuration": {"authorizedAppIds": [connection.owner_app_id]},
    }


def _owned(caller, permissions_all):
    """True when the caller holds only OwnedBy (not the tenant-wide .All) for this action."""
    return not (set(permissions_all) & caller.permissions)


def _find(request, caller, connection_id, *, all_permission):
    """(connection, None) or (None, the error Graph answers)."""
    connection = ExternalConnection.objects.filter(
        tenant=caller.tenant, connection_id__iexact=connection_id
    ).first()
    if connection is None:
        return None, error(404, "ItemNotFound", f"The connection '{connection_id}' was not found.", request=request)
    if _owned(caller, (all_permission,)) and connection.owner_app_id != caller.app_id:
        # OwnedBy: the connection exists but another app created it.
        return None, error(403, "accessDenied", "The application does not own this connection.", request=request)
    return connection, None


# --- connections --------------------------------------------------------------------------


@csrf_exempt
def connections(request, version):
    if request.method == "POST":
        return _create_connection(request, version=version)
    if request.method == "GET":
        return _list_connections(request, version=version)
    return error(405, "MethodNotAllowed", "Method not allowed.", request=request)


@graph_endpoint(application=CONNECTION_READ, delegated=CONNECTION_READ, workload=GENERIC)
def _list_connections(request, caller, version):
    # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-list
    rows = ExternalConnection.objects.filter(tenant=caller.tenant).order_by("connection_id")
    if _owned(caller, ("ExternalConnection.ReadWrite.All", "ExternalConnection.Read.All")):
        rows = rows.filter(owner_app_id=caller.app_id)
    value = [_connection_json(request, version, c) for c in rows]
    for entry in value:
        entry.pop("@odata.context")
    return ok({"@odata.context": context_url(request, version, "external/connections"), "value": value})


@graph_endpoint(application=CONNECTION_WRITE, delegated=CONNECTION_WRITE, workload=GENERIC)
def _create_connection(request, caller, version):
    """POST /external/connections → 201 with the connection (state draft).
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-external-post-connections"""
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    connection_id = str(payload.get("id") or "")
    name, description = payload.get("name"), payload.get("description")
    if not _CONNECTION_ID.match(connection_id):
        return _bad(request, "The connection id must be 3 to 32 letters and numbers.", "InvalidRequest")
    if connection_id.lower().startswith("microsoft") or connection_id.lower() in _RESERVED_IDS:
        return _bad(request, f"The connection id '{connection_id}' is reserved.", "InvalidRequest")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        return _bad(request, "The connection name is required, at most 128 characters.", "InvalidRequest")
    if not isinstance(description, str):
        return _bad(request, "The connection description is required.", "InvalidRequest")
    faults = _faults(caller.tenant)
    try:
        with atomic():
            connection = ExternalConnection.objects.create(
                tenant=caller.tenant, connection_id=connection_id, name=name, description=description,
                owner_app_id=caller.app_id,
            )
    except IntegrityError:
        connection = None
    if connection is None or ExternalConnection.objects.filter(
        tenant=caller.tenant, connection_id__iexact=connection_id
    ).count() > 1:
        if connection is not None:
            connection.delete()
        return error(409, "Conflict", "A connection with the same id already exists.", request=request)
    if faults.create_503 and faults.pk:
        # The known issue: created, yet the caller is told the service was unavailable.
        SearchFaults.objects.filter(pk=faults.pk).update(create_503=faults.create_503 - 1)
        return error(503, "ServiceUnavailable", "The service is temporarily unavailable.", request=request)
    # The doc's example shows "200 Created"; the text says 201 Created: 201 it is.
    return ok(_connection_json(request, version, connection), status=201)


@csrf_exempt
@graph_endpoint(application=CONNECTION_READ, delegated=CONNECTION_READ, workload=GENERIC)
def connection(request, caller, version, connection_id):
    if request.method == "GET":
        # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-get
        found, failure = _find(request, caller, connection_id, all_permission="ExternalConnection.ReadWrite.All")
        if failure and "ExternalConnection.Read.All" in caller.permissions:
            found, failure = _find(request, caller, connection_id, all_permission="ExternalConnection.Read.All")
        return failure or ok(_connection_json(request, version, found))
    if request.method == "DELETE":
        # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-delete
        if not set(CONNECTION_WRITE) & caller.permissions:
            return error(403, "accessDenied", "Either the signed-in user or the app is not allowed to do this.",
                         request=request)
        found, failure = _find(request, caller, connection_id, all_permission="ExternalConnection.ReadWrite.All")
        if failure:
            return failure
        found.delete()  # its items, groups and operations go with it
        return ok_empty()
    return error(405, "MethodNotAllowed", "Method not allowed.", request=request)


def ok_empty(status=204):
    return HttpResponse(status=status)


# --- schema and its operation ----------------------------------------------------------------


def _schema_errors(properties, registered):
    """The first rule a schema breaks, or None.
    Reference: https://learn.microsoft.com/graph/connecting-external-content-manage-schema
    Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-property"""
    if not isinstance(properties, list) or not 1 <= len(properties) <= 128:
        return "A schema has 1 to 128 properties."
    names, labels = set(), {}
    for prop in properties:
        if not isinstance(prop, dict):
            return "Each property is an object."
        name, kind = str(prop.get("name") or ""), str(prop.get("type") or "").lower()
        if not _PROPERTY_NAME.match(name):
            return f"Property name '{name}' must be 1 to 32 letters and numbers."
        if name.lower() in names:
            return f"Property '{name}' is defined twice."
        names.add(name.lower())
        # The resource page spells types lowercase, the PATCH example "String": either is accepted.
        if kind not in _TYPES:
            return f"Property '{name}' has an unknown type '{prop.get('type')}'."
        for alias in prop.get("aliases") or []:
            if not _PROPERTY_NAME.match(str(alias)):
                return f"Alias '{alias}' of '{name}' must be 1 to 32 letters and numbers."
        if prop.get("isSearchable") and kind not in ("string", "stringcollection"):
            return f"Property '{name}': only String and StringCollection properties can be searchable."
        if prop.get("isSearchable") and prop.get("isRefinable"):
            return f"Property '{name}': a refinable property cannot be searchable."
        for label in prop.get("labels") or []:
            key = str(label).lower()
            if key not in _LABEL_TYPES:
                return f"Property '{name}' has an unknown label '{label}'."
            if not prop.get("isRetrievable"):
                return f"Property '{name}' has a label, so it must be retrievable."
            if _LABEL_TYPES[key] != kind:
                return f"Label '{label}' needs a property of type {_LABEL_TYPES[key]}, not {kind}."
            if key in labels:
                return f"Label '{label}' is on both '{labels[key]}' and '{name}'."
            labels[key] = name
    if registered:
        # Schema changes can only add properties; a refiner cannot be added by a later change.
        before = {str(p.get("name", "")).lower(): p for p in registered}
        missing = sorted(set(before) - names)
        if missing:
            return f"Properties cannot be removed from a registered schema: {', '.join(missing)}."
        for prop in properties:
            old = before.get(str(prop["name"]).lower())
            if prop.get("isRefinable") and not (old and old.get("isRefinable")):
                return f"Property '{prop['name']}': a refiner cannot be added by a schema update."
            if old and str(old.get("type", "")).lower() != str(prop.get("type", "")).lower():
                return f"Property '{prop['name']}': the type of a registered property cannot change."
    return None


@csrf_exempt
@graph_endpoint(application=CONNECTION_WRITE, delegated=CONNECTION_WRITE, workload=GENERIC)
def schema(request, caller, version, connection_id):
    """PATCH .../schema → 202 Accepted with Location: the operation to poll.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-patch-schema"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalConnection.ReadWrite.All")
    if failure:
        return failure
    if request.method == "GET":
        # Reference: https://learn.microsoft.com/graph/api/externalconnectors-schema-get
        if not found.schema:
            return error(404, "ItemNotFound", "The connection has no schema.", request=request)
        return ok({"baseType": "microsoft.graph.externalItem", "properties": found.schema})
    if request.method != "PATCH":
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    if payload.get("baseType") != "microsoft.graph.externalItem":
        return _bad(request, "baseType must be microsoft.graph.externalItem.", "InvalidRequest")
    problem = _schema_errors(payload.get("properties"), found.schema)
    if problem:
        return _bad(request, problem, "InvalidRequest")
    faults = _faults(caller.tenant)
    operation = ConnectionOperation.objects.create(
        id=uuid.uuid4().hex, connection=found, pending_schema=payload["properties"],
        done_at=clock.now() + faults.schema_seconds, fails=faults.schema_fails,
    )
    response = ok_empty(202)
    response["Location"] = (
        f"{graph_base(request)}/{version}/external/connections/{found.connection_id}/operations/{operation.id}"
    )
    return response


@graph_endpoint(application=CONNECTION_READ, delegated=CONNECTION_READ, workload=GENERIC)
def operation(request, caller, version, connection_id, operation_id):
    """GET .../operations/{id}: inprogress until the sandbox clock passes its end, then completed
    (the schema is registered, the connection is ready) or failed with an error.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-connectionoperation-get"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalConnection.ReadWrite.All")
    if failure:
        return failure
    op = ConnectionOperation.objects.filter(connection=found, id=operation_id).first()
    if op is None:
        return error(404, "ItemNotFound", "The operation was not found.", request=request)
    if op.status == ConnectionOperation.Status.IN_PROGRESS and clock.now() >= op.done_at:
        with atomic():
            if op.fails:
                op.status = ConnectionOperation.Status.FAILED
                op.error = {"code": "SchemaRegistrationFailed", "message": "The schema could not be provisioned."}
            else:
                op.status = ConnectionOperation.Status.COMPLETED
                ExternalConnection.objects.filter(pk=found.pk).update(
                    schema=op.pending_schema, state=ExternalConnection.State.READY
                )
            op.save(update_fields=["status", "error"])
    return ok({
        "@odata.context": context_url(
            request, version, f"external/connections('{found.connection_id}')/operations/$entity"),
        "id": op.id, "status": op.status, "error": op.error,
    })


# --- items ------------------------------------------------------------------------------------


def _ingest_slot(connection, rate):
    """Count one ingestion request against the connection's throughput; seconds to wait when over.
    Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits (25 items/sec)"""
    with atomic():
        row = ExternalConnection.objects.select_for_update().get(pk=connection.pk)
        now = time.time()
        if now - row.ingest_window >= 1.0:
            row.ingest_window, row.ingest_count = now, 0
        row.ingest_count += 1
        row.save(update_fields=["ingest_window", "ingest_count"])
        if row.ingest_count > rate:
            return max(1, math.ceil(row.ingest_window + 1.0 - now))
    return 0


def _throttled(request, seconds):
    # Reference: https://learn.microsoft.com/graph/throttling (429 with Retry-After in seconds)
    return error(429, "TooManyRequests", "The request has been throttled.", {"Retry-After": str(seconds)}, request)


def _acl_error(acl, tenant):
    """Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-acl"""
    if not isinstance(acl, list) or not acl:
        return "An item needs an acl with at least one entry."
    for entry in acl:
        if not isinstance(entry, dict):
            return "Each acl entry is an object."
        kind, access, value = entry.get("type"), entry.get("accessType"), entry.get("value")
        if kind not in _ACL_TYPES:
            return f"Unknown acl type '{kind}'."
        if access not in ("grant", "deny"):
            return f"accessType must be grant or deny, not '{access}'."
        if not isinstance(value, str) or not value:
            return "Each acl entry needs a value."
        if kind in ("everyone", "everyoneExceptGuests") and value.lower() != str(tenant.pk).lower():
            return f"The value of an {kind} entry is the tenant id."
        if kind in ("user", "group"):
            try:
                uuid.UUID(value)
            except ValueError:
                return f"The value of a {kind} entry is a Microsoft Entra object id."
    return None


def _property_error(properties, registered):
    """Properties must match the registered schema, with @odata.type on collections and on
    non-ASCII strings. Reference:
    https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items#request-body"""
    if not isinstance(properties, dict):
        return "properties must be an object."
    schema = {str(p["name"]).lower(): str(p["type"]).lower() for p in registered}
    for key, value in properties.items():
        if "@" in key:
            continue
        kind = schema.get(key.lower())
        if kind is None:
            return f"Property '{key}' is not in the connection's schema."
        annotation = properties.get(f"{key}@odata.type")
        if kind.endswith("collection"):
            expected = {"stringcollection": "Collection(String)", "int64collection": "Collection(Int64)",
                        "doublecollection": "Collection(Double)",
                        "datetimecollection": "Collection(DateTimeOffset)"}[kind]
            if annotation != expected:
                return f"Property '{key}' needs \"{key}@odata.type\": \"{expected}\"."
            if not isinstance(value, list):
                return f"Property '{key}' must be a collection."
            items, kind = value, kind[: -len("collection")]
        else:
            items = [value]
            if kind == "string" and isinstance(value, str) and not value.isascii() and annotation != "String":
                return f"Property '{key}' holds non-ASCII text and needs \"{key}@odata.type\": \"String\"."
        for item in items:
            if kind == "string" and not isinstance(item, str):
                return f"Property '{key}' must be a string."
            if kind == "int64" and (not isinstance(item, int) or isinstance(item, bool)):
                return f"Property '{key}' must be an integer."
            if kind == "double" and (not isinstance(item, int | float) or isinstance(item, bool)):
                return f"Property '{key}' must be a number."
            if kind == "boolean" and not isinstance(item, bool):
                return f"Property '{key}' must be true or false."
            if kind == "datetime" and (not isinstance(item, str) or parse_datetime(item) is None):
                return f"Property '{key}' must be an ISO 8601 date and time."
    return None


@csrf_exempt
@graph_endpoint(application=ITEM_WRITE, delegated=ITEM_WRITE, workload=GENERIC)
def item(request, caller, version, connection_id, item_id):
    """PUT (create or replace, 200) and DELETE (204) of one externalItem.
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items
    Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalitem-delete"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalItem.ReadWrite.All")
    if failure:
        return failure
    if request.method not in ("PUT", "DELETE", "GET"):
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    if request.method == "GET":
        # Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalitem-get
        row = ExternalItem.objects.filter(connection=found, item_id=item_id).first()
        if row is None:
            return error(404, "ItemNotFound", "The item was not found.", request=request)
        return ok({"id": row.item_id, "acl": row.acl, "properties": row.properties, "content": row.content})
    wait = _ingest_slot(found, _faults(caller.tenant).ingest_rate)
    if wait:
        return _throttled(request, wait)
    if not _ITEM_ID.match(item_id):
        return _bad(request, "The item id must be 1 to 128 letters and numbers.", "InvalidRequest")
    if request.method == "DELETE":
        deleted, _ = ExternalItem.objects.filter(connection=found, item_id=item_id).delete()
        if not deleted:
            return error(404, "ItemNotFound", "The item was not found.", request=request)
        return ok_empty()
    # Graph's own limit, not Django's upload limit (2.5 MB by default), decides: read the raw body.
    raw = request.read()
    if len(raw) > MAX_ITEM_BYTES:
        return error(413, "PayloadTooLarge", "The item is larger than 4 MB.", request=request)
    if not found.schema:
        # Reference: https://learn.microsoft.com/graph/connecting-external-content-manage-items
        # (items can be added only once the schema is registered)
        return _bad(request, "The connection has no registered schema yet.", "InvalidRequest")
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return _bad(request, "Invalid request body.")
    problem = _acl_error(payload.get("acl"), caller.tenant) or _property_error(
        payload.get("properties", {}), found.schema
    )
    content = payload.get("content")
    if not problem and content is not None and (
        not isinstance(content, dict) or content.get("type", "text") not in ("text", "html")
        or not isinstance(content.get("value", ""), str)
    ):
        # Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalitemcontent
        problem = "content is {\"type\": \"text\" or \"html\", \"value\": string}."
    if problem:
        return _bad(request, problem, "InvalidRequest")
    with atomic():
        row, created = ExternalItem.objects.select_for_update().get_or_create(
            connection=found, item_id=item_id,
            defaults={"acl": payload["acl"], "properties": payload.get("properties", {}), "content": content or {}},
        )
        if not created:
            row.acl, row.properties, row.content = payload["acl"], payload.get("properties", {}), content or {}
            row.puts += 1
            row.save()
    return ok({"id": item_id, "acl": row.acl, "properties": row.properties, "content": row.content})


# --- external groups --------------------------------------------------------------------------


@csrf_exempt
@graph_endpoint(application=ITEM_WRITE, delegated=ITEM_WRITE, workload=GENERIC)
def groups(request, caller, version, connection_id):
    """POST .../groups → 201. Reference:
    https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-post-groups"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalItem.ReadWrite.All")
    if failure:
        return failure
    if request.method != "POST":
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    group_id = str(payload.get("id") or "")
    if not _GROUP_ID.match(group_id):
        return _bad(request, "The group id must be 1 to 128 letters and numbers.", "InvalidRequest")
    try:
        with atomic():
            group = ExternalGroup.objects.create(
                connection=found, group_id=group_id, display_name=str(payload.get("displayName") or ""),
                description=str(payload.get("description") or ""),
            )
    except IntegrityError:
        return error(409, "Conflict", "A group with the same id already exists.", request=request)
    return ok({"id": group.group_id, "displayName": group.display_name, "description": group.description},
              status=201)


@csrf_exempt
@graph_endpoint(application=ITEM_WRITE, delegated=ITEM_WRITE, workload=GENERIC)
def group(request, caller, version, connection_id, group_id):
    """GET / DELETE one external group. Reference:
    https://learn.microsoft.com/graph/api/externalconnectors-externalgroup-delete"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalItem.ReadWrite.All")
    if failure:
        return failure
    row = ExternalGroup.objects.filter(connection=found, group_id=group_id).first()
    if row is None:
        return error(404, "ItemNotFound", "The group was not found.", request=request)
    if request.method == "DELETE":
        row.delete()
        return ok_empty()
    if request.method == "GET":
        return ok({"id": row.group_id, "displayName": row.display_name, "description": row.description})
    return error(405, "MethodNotAllowed", "Method not allowed.", request=request)


@csrf_exempt
@graph_endpoint(application=ITEM_WRITE, delegated=ITEM_WRITE, workload=GENERIC)
def members(request, caller, version, connection_id, group_id):
    """POST .../groups/{id}/members → 201 identity. Reference:
    https://learn.microsoft.com/graph/api/externalconnectors-externalgroup-post-members"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalItem.ReadWrite.All")
    if failure:
        return failure
    row = ExternalGroup.objects.filter(connection=found, group_id=group_id).first()
    if row is None:
        return error(404, "ItemNotFound", "The group was not found.", request=request)
    if request.method != "POST":
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    payload = _body(request)
    if payload is None:
        return _bad(request, "Invalid request body.")
    member_id, kind = str(payload.get("id") or ""), payload.get("type")
    if kind not in _MEMBER_TYPES or not member_id:
        return _bad(request, "A member needs an id and a type (user, group or externalGroup).", "InvalidRequest")
    if kind in ("user", "group"):
        try:
            uuid.UUID(member_id)
        except ValueError:
            return _bad(request, f"A {kind} member's id is a Microsoft Entra object id.", "InvalidRequest")
    try:
        with atomic():
            ExternalGroupMember.objects.create(group=row, member_id=member_id, type=kind)
    except IntegrityError:
        return error(409, "Conflict", "The member is already in the group.", request=request)
    return ok({"id": member_id, "type": kind}, status=201)


@csrf_exempt
@graph_endpoint(application=ITEM_WRITE, delegated=ITEM_WRITE, workload=GENERIC)
def member(request, caller, version, connection_id, group_id, member_id):
    """DELETE .../groups/{id}/members/{memberId} → 204. Reference:
    https://learn.microsoft.com/graph/api/externalconnectors-externalgroupmember-delete"""
    found, failure = _find(request, caller, connection_id, all_permission="ExternalItem.ReadWrite.All")
    if failure:
        return failure
    if request.method != "DELETE":
        return error(405, "MethodNotAllowed", "Method not allowed.", request=request)
    deleted, _ = ExternalGroupMember.objects.filter(
        group__connection=found, group__group_id=group_id, member_id=member_id
    ).delete()
    if not deleted:
        return error(404, "ItemNotFound", "The member was not found.", request=request)
    return ok_empty()
