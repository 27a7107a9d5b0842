"""Microsoft Graph connector endpoints (Confluence in Microsoft Search): one typed function per
endpoint, its declaration beside it. All app-only (client credentials), through the `Graph`
transport (connections.microsoft.graph), which adds the token, the throttle and errors.

Ingestion (items, groups, members) is throttled per connection, so those calls use a throttle
key of their own (`ingest_key`): a busy connection does not hold back the tenant's other calls.
"""

from __future__ import annotations

from typing import Any

from requests import Response

from ..endpoints import declare
from .graph import Graph

CONNECTION_OWNED = ("ExternalConnection.ReadWrite.OwnedBy",)
ITEM_OWNED = ("ExternalItem.ReadWrite.OwnedBy",)
CONNECTION_FIELDS = ("id", "name", "description", "state")
# Writes whose answer has no body the portal uses: only the response status is read.
STATUS_ONLY = ("response status",)


def ingest_key(graph: Graph, connection_id: str) -> str:
    return f"{graph.key}:search:{connection_id.lower()}"


CONNECTION_CREATE = declare(
    "graph.search_connection_create", "POST", "/v1.0/external/connections",
    permissions=CONNECTION_OWNED, reads=CONNECTION_FIELDS, keeps=("id", "state"),
    reference="https://learn.microsoft.com/graph/api/externalconnectors-external-post-connections",
    purpose="Microsoft Search: create the connection Confluence content is indexed into.",
)


def create_connection(graph: Graph, *, connection_id: str, name: str, description: str) -> Response:
    """201 with the connection; 409 (returned, not raised) when one with this id exists. Graph
    documents a 503 for a first call that did create it: the caller retries and reads a 409."""
    body = {"id": connection_id, "name": name, "description": description}
    return graph.write("POST", CONNECTION_CREATE.path, body, accept=(409,))


CONNECTION_GET = declare(
    "graph.search_connection_get", "GET", "/v1.0/external/connections/{connection_id}",
    permissions=CONNECTION_OWNED, reads=CONNECTION_FIELDS, keeps=("state",),
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-get",
    purpose="Microsoft Search: whether the connection exists, is ours, and its state.",
)


def get_connection(graph: Graph, connection_id: str) -> dict[str, Any]:
    return graph.get(CONNECTION_GET.path.format(connection_id=connection_id))


CONNECTION_DELETE = declare(
    "graph.search_connection_delete", "DELETE", "/v1.0/external/connections/{connection_id}",
    reads=STATUS_ONLY, permissions=CONNECTION_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-delete",
    purpose="Microsoft Search: remove the connection and its index (only when the admin asks).",
)


def delete_connection(graph: Graph, connection_id: str) -> Response:
    """204; a 404 (already gone) is returned, not raised."""
    return graph.write("DELETE", CONNECTION_DELETE.path.format(connection_id=connection_id), accept=(404,))


SCHEMA_REGISTER = declare(
    "graph.search_schema_register", "PATCH", "/v1.0/external/connections/{connection_id}/schema",
    permissions=CONNECTION_OWNED, reads=("Location",), keeps=("Location",),
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-patch-schema",
    purpose="Microsoft Search: register the properties the admin chose (202 and an operation to poll).",
)


def register_schema(graph: Graph, connection_id: str, properties: list[dict[str, Any]]) -> str:
    """The operation's URL (the Location header of the 202)."""
    body = {"baseType": "microsoft.graph.externalItem", "properties": properties}
    response = graph.write("PATCH", SCHEMA_REGISTER.path.format(connection_id=connection_id), body)
    return response.headers.get("Location", "")


OPERATION_GET = declare(
    "graph.search_operation", "GET", "/v1.0/external/connections/{connection_id}/operations/{operation_id}",
    permissions=CONNECTION_OWNED, reads=("id", "status", "error"), keeps=("status", "error.message"),
    reference="https://learn.microsoft.com/graph/api/externalconnectors-connectionoperation-get",
    purpose="Microsoft Search: how the schema registration is going (inprogress, completed, failed).",
)


def get_operation(graph: Graph, location: str) -> dict[str, Any]:
    """The operation at the Location Graph gave (Graph's own origin only: the transport refuses
    any other)."""
    return graph.get(location)


ITEM_PUT = declare(
    "graph.search_item_put", "PUT", "/v1.0/external/connections/{connection_id}/items/{item_id}",
    reads=STATUS_ONLY, permissions=ITEM_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-put-items",
    purpose="Microsoft Search: index one Confluence page or blog post with who may find it.",
)


def put_item(graph: Graph, connection_id: str, item_id: str, item: dict[str, Any]) -> Response:
    """200 (created or replaced); a 400 or 413 (refused item) is returned for the caller to record."""
    return graph.write("PUT", ITEM_PUT.path.format(connection_id=connection_id, item_id=item_id), item,
                       key=ingest_key(graph, connection_id), accept=(400, 413))


ITEM_DELETE = declare(
    "graph.search_item_delete", "DELETE", "/v1.0/external/connections/{connection_id}/items/{item_id}",
    reads=STATUS_ONLY, permissions=ITEM_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalitem-delete",
    purpose="Microsoft Search: remove a page that is gone, trashed or out of scope.",
)


def delete_item(graph: Graph, connection_id: str, item_id: str) -> Response:
    """204; a 404 (already gone) is returned, not raised."""
    return graph.write("DELETE", ITEM_DELETE.path.format(connection_id=connection_id, item_id=item_id),
                       key=ingest_key(graph, connection_id), accept=(404,))


GROUP_CREATE = declare(
    "graph.search_group_create", "POST", "/v1.0/external/connections/{connection_id}/groups",
    permissions=ITEM_OWNED, reads=("id",), keeps=("id",),
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-post-groups",
    purpose="Microsoft Search: an external group for a Confluence group named in page permissions.",
)


def create_group(graph: Graph, connection_id: str, *, group_id: str, display_name: str) -> Response:
    """201; a 409 (it exists) is returned, not raised."""
    body = {"id": group_id, "displayName": display_name, "description": "Confluence group"}
    return graph.write("POST", GROUP_CREATE.path.format(connection_id=connection_id), body,
                       key=ingest_key(graph, connection_id), accept=(409,))


GROUP_DELETE = declare(
    "graph.search_group_delete", "DELETE", "/v1.0/external/connections/{connection_id}/groups/{group_id}",
    reads=STATUS_ONLY, permissions=ITEM_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalgroup-delete",
    purpose="Microsoft Search: remove the external group of a Confluence group that is gone.",
)


def delete_group(graph: Graph, connection_id: str, group_id: str) -> Response:
    return graph.write("DELETE", GROUP_DELETE.path.format(connection_id=connection_id, group_id=group_id),
                       key=ingest_key(graph, connection_id), accept=(404,))


MEMBER_ADD = declare(
    "graph.search_member_add", "POST", "/v1.0/external/connections/{connection_id}/groups/{group_id}/members",
    reads=STATUS_ONLY, permissions=ITEM_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalgroup-post-members",
    purpose="Microsoft Search: a Confluence group member, as their Microsoft Entra id.",
)


def add_member(graph: Graph, connection_id: str, group_id: str, *, member_id: str, kind: str = "user") -> Response:
    """201; a 409 (already a member) is returned, not raised."""
    return graph.write("POST", MEMBER_ADD.path.format(connection_id=connection_id, group_id=group_id),
                       {"id": member_id, "type": kind}, key=ingest_key(graph, connection_id), accept=(409,))


MEMBER_REMOVE = declare(
    "graph.search_member_remove", "DELETE",
    "/v1.0/external/connections/{connection_id}/groups/{group_id}/members/{member_id}",
    reads=STATUS_ONLY, permissions=ITEM_OWNED,
    reference="https://learn.microsoft.com/graph/api/externalconnectors-externalgroupmember-delete",
    purpose="Microsoft Search: someone who left a Confluence group.",
)


def remove_member(graph: Graph, connection_id: str, group_id: str, member_id: str) -> Response:
    return graph.write(
        "DELETE", MEMBER_REMOVE.path.format(connection_id=connection_id, group_id=group_id, member_id=member_id),
        key=ingest_key(graph, connection_id), accept=(404,),
    )
