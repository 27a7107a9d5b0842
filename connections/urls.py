from django.urls import include, path

from . import views

app_name = "connections"

urlpatterns = [
    path("connections/", views.connection_list, name="connection_list"),
    path("connections/new/", views.connection_new, name="connection_new"),
    path("connections/<int:connection_id>/", views.connection_detail, name="connection_detail"),
    # Each provider's flows, callbacks and pages (connect/microsoft/callback, ...).
    path("", include("connections.microsoft.urls")),
    path("", include("connections.atlassian.urls")),
]
