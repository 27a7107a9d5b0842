"""Graph's paths under {origin}/graph: v1.0 and beta share the views."""

from django.urls import re_path

from .graph import batch, chats, connectors, intune, team_apps, teams, tenant_views, users

V = r"(?P<version>v1\.0|beta)"
MAP = r"(?P<kind>iosManagedAppProtections|androidManagedAppProtections)"
ONE = r"(?:/(?P<policy_id>[^/()']+)|\('(?P<quoted_id>[^/()']+)'\))"

urlpatterns = [
    re_path(rf"^{V}/users$", users.list_users),
    re_path(rf"^{V}/users/delta$", users.users_delta),
    re_path(rf"^{V}/users/delta\(\)$", users.users_delta),
    re_path(rf"^{V}/users/(?P<user_id>[^/]+)/joinedTeams$", teams.user_joined_teams),
    re_path(rf"^{V}/users/(?P<user_id>[^/]+)$", users.get_user),
    re_path(rf"^{V}/me$", users.me),
    re_path(rf"^{V}/me/joinedTeams$", teams.my_joined_teams),
    re_path(rf"^{V}/teams$", teams.list_teams),
    re_path(rf"^{V}/teams/(?P<team_id>[^/]+)/channels$", teams.channels),
    # Channel messages are served under v1.0 as well as beta, with their delta function.
    # Reference: https://learn.microsoft.com/graph/api/channel-list-messages
    re_path(rf"^{V}/teams/(?P<team_id>[^/]+)/channels/(?P<channel_id>[^/]+)/messages$", teams.channel_messages),
    re_path(
        rf"^{V}/teams/(?P<team_id>[^/]+)/channels/(?P<channel_id>[^/]+)/messages/(?:microsoft\.graph\.)?delta(?:\(\))?$",
        teams.channel_messages_delta,
    ),
    re_path(rf"^{V}/chats$", chats.create_chat),
    re_path(rf"^{V}/teams/(?P<team_id>[^/]+)/installedApps$", team_apps.installed_apps),
    re_path(rf"^{V}/domains$", tenant_views.domains),
    re_path(rf"^{V}/organization$", tenant_views.organization),
    re_path(rf"^{V}/servicePrincipals$", tenant_views.service_principals),
    re_path(rf"^{V}/servicePrincipals/(?P<sp_id>[^/]+)/appRoleAssignments$", tenant_views.app_role_assignments),
    re_path(rf"^{V}/oauth2PermissionGrants$", tenant_views.oauth2_permission_grants),
    re_path(rf"^{V}/external/connections$", connectors.connections),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)$", connectors.connection),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/schema$", connectors.schema),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/operations/(?P<operation_id>[^/]+)$",
            connectors.operation),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/items/(?P<item_id>[^/]+)$", connectors.item),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/groups$", connectors.groups),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/groups/(?P<group_id>[^/]+)$", connectors.group),
    re_path(rf"^{V}/external/connections/(?P<connection_id>[^/]+)/groups/(?P<group_id>[^/]+)/members$",
            connectors.members),
    re_path(
        rf"^{V}/external/connections/(?P<connection_id>[^/]+)/groups/(?P<group_id>[^/]+)/members/(?P<member_id>[^/]+)$",
        connectors.member,
    ),
    re_path(rf"^{V}/\$batch$", batch.batch),
    # Intune app protection policies; a policy is addressed as /{id} or, as Graph also takes, ('{id}').
    re_path(rf"^{V}/groups$", intune.groups),
    re_path(rf"^{V}/deviceAppManagement/{MAP}$", intune.collection),
    re_path(rf"^{V}/deviceAppManagement/{MAP}{ONE}$", intune.item),
    re_path(rf"^{V}/deviceAppManagement/{MAP}{ONE}/targetApps$", intune.target_apps),
    re_path(rf"^{V}/deviceAppManagement/{MAP}{ONE}/assign$", intune.assign),
    re_path(rf"^{V}/deviceAppManagement/{MAP}{ONE}/apps$", intune.apps),
    re_path(rf"^{V}/deviceAppManagement/{MAP}{ONE}/assignments$", intune.assignments),
]

# Incident chats: members, installed apps, the app catalog and online meetings (graph/chats.py).
urlpatterns += [
    re_path(rf"^{V}/chats/(?P<chat_id>[^/]+)/members$", chats.chat_members),
    re_path(rf"^{V}/chats/(?P<chat_id>[^/]+)/installedApps$", chats.chat_installed_apps),
    re_path(rf"^{V}/appCatalogs/teamsApps$", chats.teams_apps),
    re_path(rf"^{V}/me/onlineMeetings$", chats.my_online_meetings),
    re_path(rf"^{V}/users/(?P<user_id>[^/]+)/onlineMeetings$", chats.user_online_meetings),
]
urlpatterns += [
    re_path(rf"^{V}/users/(?P<user_id>[^/]+)/teamwork/installedApps$", chats.user_installed_apps),
]
