from django.urls import path

from . import api, views

urlpatterns = [
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/", views.incidents,
         name="chatops_incidents"),
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/<str:issue_key>/", views.incident,
         name="chatops_incident"),
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/<str:issue_key>/chat/",
         views.chat_create, name="chatops_chat_create"),
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/<str:issue_key>/chat/members/",
         views.chat_members_sync, name="chatops_chat_members"),
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/<str:issue_key>/meeting/",
         views.meeting_start, name="chatops_meeting_start"),
    path("connections/<int:connection_id>/projects/<int:project_id>/incidents/<str:issue_key>/note/",
         views.note_add, name="chatops_note_add"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    # The API automation rules call, with an organization API key (Authorization: Bearer).
    path("api/v1/connections/<int:connection_id>/projects/<str:project_key>/incidents/<str:issue_key>/chat",
         api.chat_create, name="api_chat_create"),
    path("api/v1/connections/<int:connection_id>/projects/<str:project_key>/incidents/<str:issue_key>/chat/members",
         api.chat_members_sync, name="api_chat_members"),
    path("api/v1/connections/<int:connection_id>/projects/<str:project_key>/incidents/<str:issue_key>/meeting",
         api.meeting_start, name="api_meeting_start"),
]
