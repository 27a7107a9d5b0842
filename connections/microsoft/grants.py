"""What a connection's Microsoft grants lack, read from the grant table (no call to Microsoft)."""

from typing import Any

from .. import permissions
from ..models import Provider


def missing_permissions(connection: Any) -> list[str]:
    """Graph permissions the connection's features need that no token has shown: 'Name (kind)'."""
    observed = set(connection.grants.filter(provider=Provider.MICROSOFT, observed=True).values_list("kind", "name"))
    return [
        f"{p.name} ({p.kind})"
        for p in permissions.graph_permissions(connection.features)
        if (p.kind, p.name) not in observed
    ]
