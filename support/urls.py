"""An organization's pages under one URL namespace, "tenants" (the names templates and links use:
tenants:dashboard, tenants:site_detail, ...), wherever each view lives: those showing connections
too are here, the organization's own ones in tenants/."""

from django.urls import path

from tenants import urls as tenant_urls

from . import views

app_name = "tenants"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/remove/", views.site_remove, name="site_remove"),
    path("tenants/", views.tenant_list, name="tenant_list"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<int:tenant_id>/remove/", views.tenant_remove, name="tenant_remove"),
    *tenant_urls.urlpatterns,
]
