from django.urls import path

from . import support_views

app_name = "support"

urlpatterns = [
    path("", support_views.organization_list, name="organization_list"),
    path("organizations/<int:organization_id>/", support_views.organization_detail, name="organization_detail"),
    path("connections/<int:connection_id>/", support_views.connection_detail, name="connection_detail"),
    path("organizations/<int:organization_id>/access/", support_views.access_open, name="access_open"),
    path("audit/", support_views.audit_list, name="audit_list"),
    path("audit/export", support_views.audit_export, name="audit_export"),
]
