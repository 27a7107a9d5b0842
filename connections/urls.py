from django.urls import include, path

from . import views

app_name = "connections"

urlpatterns = [
    path("connections/", views.connection_list, name="connection_list"),
    path("connections/new/", views.connection_new, name="connection_new"),
    path("connections/<int:connection_id>/", views.connection_detail, name="connection_detail"),
    path("connections/<int:connection_id>/live/", views.connection_live, name="connection_live"),
    path("connections/<int:connection_id>/features/", views.connection_features, name="connection_features"),
    path("connections/<int:connection_id>/verify/", views.connection_verify, name="connection_verify"),
    path("", include("connections.sync.urls")),  # the Jobs section (issue 7)
    # User mapping (issue 7): connections/<id>/users/...
    path("", include("connections.matching.urls")),
    # Each provider's flows, callbacks and pages (connect/microsoft/callback, ...).
    path("", include("connections.microsoft.urls")),
    path("", include("connections.atlassian.urls")),
]
