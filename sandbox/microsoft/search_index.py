"""What Microsoft Search holds in a sandbox tenant and who may find it: the answer a test (or
the sandbox's admin) asks for "user X finds page P, user Y does not".

An item is visible to a user when one of its ACL entries grants the user and none denies them:
deny beats grant. An entry names the user, an Entra group the user is in (the sandbox's groups
are its teams), an external group of the connection the user is in (directly, through an Entra
group, or through a nested external group), everyone in the tenant, or everyone but guests.
Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-acl
Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalgroupmember
"""

from __future__ import annotations

import dataclasses

from .models import DirectoryUser, Team, Tenant
from .search_models import ExternalConnection, ExternalGroupMember, ExternalItem


@dataclasses.dataclass(frozen=True)
class Hit:
    connection_id: str
    item_id: str
    title: str
    url: str


def _external_groups_of(connection, user_id: str, entra_groups: set[str]) -> set[str]:
    """The external groups of `connection` the user belongs to, following nested external groups."""
    rows = list(ExternalGroupMember.objects.filter(group__connection=connection).values_list(
        "group__group_id", "member_id", "type"))
    member_of: set[str] = set()
    changed = True
    while changed:
        changed = False
        for group_id, member_id, kind in rows:
            if group_id in member_of:
                continue
            if (kind == "user" and member_id.lower() == user_id) or (
                kind == "group" and member_id.lower() in entra_groups
            ) or (kind == "externalGroup" and member_id in member_of):
                member_of.add(group_id)
                changed = True
    return member_of


def _matches(entry, *, user, tenant_id, entra_groups, external_groups) -> bool:
    kind, value = entry.get("type"), str(entry.get("value", ""))
    if kind == "user":
        return value.lower() == str(user.pk).lower()
    if kind == "group":
        return value.lower() in entra_groups
    if kind == "externalGroup":
        return value in external_groups
    if kind == "everyone":
        return value.lower() == tenant_id
    if kind == "everyoneExceptGuests":
        return value.lower() == tenant_id and user.user_type != "Guest"
    return False


def visible_items(tenant: Tenant | str, user_object_id: str, *, connection_id: str | None = None) -> list[Hit]:
    """Every indexed item the user may find, over the tenant's connections (or one of them)."""
    tenant_id = str(getattr(tenant, "pk", tenant)).lower()
    user = DirectoryUser.objects.filter(tenant_id=tenant_id, pk=user_object_id, deleted=False).first()
    if user is None:
        return []
    entra_groups = {str(pk).lower() for pk in Team.objects.filter(tenant_id=tenant_id, members=user)
                    .values_list("pk", flat=True)}
    connections = ExternalConnection.objects.filter(tenant_id=tenant_id)
    if connection_id:
        connections = connections.filter(connection_id__iexact=connection_id)
    hits = []
    for connection in connections:
        external_groups = _external_groups_of(connection, str(user.pk).lower(), entra_groups)
        for item in ExternalItem.objects.filter(connection=connection).order_by("item_id"):
            context = {"user": user, "tenant_id": tenant_id, "entra_groups": entra_groups,
                       "external_groups": external_groups}
            entries = [e for e in item.acl if isinstance(e, dict) and _matches(e, **context)]
            if any(e.get("accessType") == "deny" for e in entries):
                continue  # deny beats grant
            if any(e.get("accessType") == "grant" for e in entries):
                props = item.properties or {}
                hits.append(Hit(connection.connection_id, item.item_id, str(props.get("title", "")),
                                str(props.get("url", ""))))
    return hits


def indexed_items(tenant: Tenant | str, connection_id: str) -> dict[str, ExternalItem]:
    """Every item a connection holds, by item id (whoever may see it)."""
    tenant_id = str(getattr(tenant, "pk", tenant)).lower()
    return {i.item_id: i for i in ExternalItem.objects.filter(
        connection__tenant_id=tenant_id, connection__connection_id__iexact=connection_id)}
