"""Graph permissions the sandbox knows: delegated (with whether only an admin may consent)
and application. Names are Microsoft's; see the permissions reference."""

import json
from pathlib import Path

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Graph's well-known appId

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

# Every Graph permission Microsoft publishes, with its id and (delegated) whether only an admin
# may consent to it, so a feature can be built against any real permission: Microsoft asks for
# consent to a permission it knows and answers invalid_scope only for a name it does not.
# Reference: https://learn.microsoft.com/graph/permissions-reference (the ids and admin-consent
# flags of that page, as Microsoft publishes them in data/graph_permissions.json's source).
_PUBLISHED = json.loads((Path(__file__).parent / "data" / "graph_permissions.json").read_text())

# Delegated permission -> True when only an admin can consent to it.
DELEGATED: dict[str, bool] = {p["value"]: p["admin_consent"] for p in _PUBLISHED["delegated"]}
APPLICATION: set[str] = {p["value"] for p in _PUBLISHED["application"]}
# Microsoft's ids: appRoles (application) and oauth2PermissionScopes (delegated) of Graph's
# service principal carry these, and an app role assignment names its role by it.
APPLICATION_IDS: dict[str, str] = {p["value"]: p["id"] for p in _PUBLISHED["application"]}
DELEGATED_IDS: dict[str, str] = {p["value"]: p["id"] for p in _PUBLISHED["delegated"]}

# The portal's registration: the union of what its features may ask for (seeds 000, 003, 004).
PORTAL_APPLICATION_PERMISSIONS = [
    "User.Read.All",
    "Team.ReadBasic.All",
    "Channel.ReadBasic.All",
    "ChannelMessage.Read.All",
    "Chat.Create",
    "ChatMember.ReadWrite.All",
    "TeamsAppInstallation.ReadWriteSelfForChat.All",
    "Domain.Read.All",
    "Organization.Read.All",
    "Application.Read.All",
    "DelegatedPermissionGrant.Read.All",
    "ExternalConnection.ReadWrite.OwnedBy",
    "ExternalItem.ReadWrite.OwnedBy",
    # Intune app protection for Atlassian's mobile apps.
    "DeviceManagementApps.ReadWrite.All",
    "GroupMember.Read.All",
]
PORTAL_DELEGATED_SCOPES = [
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "Team.ReadBasic.All",
    "Channel.ReadBasic.All",
    "ChannelMessage.Read.All",
    "Chat.Create",
    "ChatMember.ReadWrite",
    "OnlineMeetings.ReadWrite",
    "TeamsAppInstallation.ReadWriteSelfForChat",
    "TeamsAppInstallation.ReadWriteSelfForTeam",
    "Domain.Read.All",
    "Organization.Read.All",
    "Directory.Read.All",
    "Group.Read.All",
]


class ScopeError(ValueError):
    pass


def split_scopes(scope: str, app):
    """Requested scope string -> (graph delegated scopes, OIDC scopes, asked_default).

    Accepts short names ("User.Read"), full URIs ("https://graph.microsoft.com/User.Read")
    and "/.default" (the app's statically configured delegated scopes).
    """
    graph, oidc, asked_default = [], [], False
    by_lower = {name.lower(): name for name in DELEGATED}
    for item in (scope or "").split():
        if item.lower() in OIDC_SCOPES:
            oidc.append(item.lower())
            continue
        name = item
        for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/"):
            if name.lower().startswith(prefix):
                name = name[len(prefix) :]
        if name == ".default":
            asked_default = True
            graph.extend(app.delegated_scopes)
            continue
        if name.lower() not in by_lower:
            raise ScopeError(item)
        graph.append(by_lower[name.lower()])
    return list(dict.fromkeys(graph)), list(dict.fromkeys(oidc)), asked_default


def needs_admin(scopes) -> bool:
    return any(DELEGATED.get(s, True) for s in scopes)
