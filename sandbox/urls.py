"""The sandbox's admin page, mounted by the portal at /_sandbox/ when SANDBOX_ENABLED is on."""

from django.urls import path

from . import admin_views

app_name = "sandbox"
urlpatterns = [path("", admin_views.index, name="index")]
