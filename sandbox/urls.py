"""The sandbox's admin page, mounted by the portal at /_sandbox/ when SANDBOX_ENABLED is on."""

from django.urls import path

from . import admin_views, notification_admin

app_name = "sandbox"
urlpatterns = [
    path("", admin_views.index, name="index"),
    path("teams/", notification_admin.teams, name="teams"),
]
