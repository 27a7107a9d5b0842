from django.urls import path

from . import notification_views, staff_views

app_name = "support"

urlpatterns = [
    path("", staff_views.organization_list, name="organization_list"),
    path("organizations/<int:organization_id>/", staff_views.organization_detail, name="organization_detail"),
    path("connections/<int:connection_id>/", staff_views.connection_detail, name="connection_detail"),
    path("connections/<int:connection_id>/notifications/", notification_views.connection_notifications,
         name="connection_notifications"),
    path("organizations/<int:organization_id>/access/", staff_views.access_open, name="access_open"),
    path("audit/", staff_views.audit_list, name="audit_list"),
    path("audit/export", staff_views.audit_export, name="audit_export"),
]
