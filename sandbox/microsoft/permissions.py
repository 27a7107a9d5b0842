"""Graph permissions the sandbox knows: delegated (with whether only an admin may consent)
and application. Names are Microsoft's; see the permissions reference."""

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Graph's well-known appId

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

# Delegated permission -> True when only an admin can consent to it.
DELEGATED = {
    "User.Read": False,
    "User.ReadBasic.All": False,
    "User.Read.All": True,
    "Team.ReadBasic.All": False,
    "Teams.ReadBasic.All": False,
    "Channel.ReadBasic.All": False,
    "ChannelMessage.Read.All": True,
    "Chat.Create": False,
    "Chat.ReadWrite": False,
    "ChatMember.ReadWrite": False,
    "OnlineMeetings.ReadWrite": False,
    "TeamsAppInstallation.ReadForTeam": False,
    "TeamsAppInstallation.ReadWriteSelfForChat": False,
    "TeamsAppInstallation.ReadWriteSelfForTeam": True,
    "Domain.Read.All": True,
    "Organization.Read.All": True,
    "Directory.Read.All": True,
    "Group.Read.All": True,
    "Application.Read.All": True,
    "DelegatedPermissionGrant.Read.All": True,
}

APPLICATION = {
    "User.Read.All",
    "Team.ReadBasic.All",
    "Channel.ReadBasic.All",
    "ChannelMessage.Read.All",
    "Chat.Create",
    "Chat.ReadWrite.All",
    "ChatMember.ReadWrite.All",
    "OnlineMeetings.ReadWrite.All",
    "TeamsAppInstallation.ReadWriteSelfForChat.All",
    "Domain.Read.All",
    "Organization.Read.All",
    "Directory.Read.All",
    "Group.Read.All",
    "Application.Read.All",
    "DelegatedPermissionGrant.Read.All",
    "ExternalConnection.ReadWrite.OwnedBy",
    "ExternalConnection.Read.All",
    "ExternalConnection.ReadWrite.All",
    "ExternalItem.ReadWrite.OwnedBy",
}

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
