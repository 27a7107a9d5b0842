from django.urls import path

from . import views

urlpatterns = [
    path("connections/<int:connection_id>/users/", views.user_mapping, name="user_mapping"),
    path("connections/<int:connection_id>/users/export.csv", views.user_mapping_export, name="user_mapping_export"),
    path("connections/<int:connection_id>/users/identity/", views.identity_mode, name="user_mapping_identity"),
    path("connections/<int:connection_id>/users/manual/", views.manual_mapping, name="user_mapping_manual"),
    path("connections/<int:connection_id>/users/emails/", views.email_storage, name="user_mapping_emails"),
]
