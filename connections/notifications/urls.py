from django.urls import path

from . import views

urlpatterns = [
    path("connections/<int:connection_id>/notifications/", views.notifications_page, name="notifications"),
    path("connections/<int:connection_id>/notifications/set/", views.notifications_set, name="notifications_set"),
    path("connections/<int:connection_id>/notifications/<int:target_id>/clear/", views.notifications_clear,
         name="notifications_clear"),
    # Jira posts here (no session; the delivery's signature is checked).
    path("hooks/jira/<uuid:receiver>/", views.jira_webhook, name="notifications_jira_webhook"),
]
