from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("", include("tenants.urls")),
    path("", include("connections.urls")),
    path("support/", include("tenants.support_urls")),
]

if settings.SANDBOX_ENABLED:
    # The sandbox's browser-facing admin page, on the portal's own origin; its protocol
    # endpoints are served on their own HTTPS origin (see sandbox/README.md).
    urlpatterns += [path("_sandbox/", include("sandbox.urls"))]

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
