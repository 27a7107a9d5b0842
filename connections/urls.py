from django.urls import include, path

from . import lifecycle_views, statement_views, views

app_name = "connections"

urlpatterns = [
    path("connections/", views.connection_list, name="connection_list"),
    path("data-statement/", statement_views.data_statement, name="data_statement"),
    path("data-statement/public/", statement_views.data_statement_public, name="data_statement_public"),
    path("connections/new/", views.connection_new, name="connection_new"),
    path("connections/<int:connection_id>/", views.connection_detail, name="connection_detail"),
    path("connections/<int:connection_id>/live/", views.connection_live, name="connection_live"),
    path("connections/<int:connection_id>/features/", views.connection_features, name="connection_features"),
    path("connections/<int:connection_id>/verify/", views.connection_verify, name="connection_verify"),
    path("", include("connections.sync.urls")),  # the Jobs section
    path("", include("connections.notifications.urls")),  # Teams notifications
    # User mapping: connections/<id>/users/...
    path("", include("connections.matching.urls")),
    # Confluence in Microsoft Search: connections/<id>/search/...
    path("", include("connections.search.urls")),
    path("connections/<int:connection_id>/disconnect/", lifecycle_views.connection_disconnect,
         name="connection_disconnect"),
    path("connections/<int:connection_id>/reconnect/", lifecycle_views.connection_reconnect,
         name="connection_reconnect"),
    path("connections/<int:connection_id>/projects/refresh/", lifecycle_views.projects_refresh,
         name="projects_refresh"),
    path("projects/<int:project_id>/teams/", lifecycle_views.project_teams, name="project_teams"),
    path("tenants/<int:tenant_id>/disconnect/", lifecycle_views.tenant_disconnect, name="tenant_disconnect"),
    path("sites/<int:site_id>/disconnect/", lifecycle_views.site_disconnect, name="site_disconnect"),
    path("connections/<int:connection_id>/health/", views.connection_health_run, name="connection_health_run"),
    # Incident chats and meetings, the organization's API keys, and the API automation rules call.
    path("", include("connections.chatops.urls")),
    # Each provider's flows, callbacks and pages (connect/microsoft/callback, ...).
    path("", include("connections.microsoft.urls")),
    path("", include("connections.atlassian.urls")),
    # Intune app protection for Atlassian's mobile apps: intune/...
    path("", include("connections.intune.urls")),
]
