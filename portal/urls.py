from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import accounts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Before allauth's own: its pages that remove a second factor, behind a fresh code from it.
    path("accounts/", include(accounts.mfa_urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("", include("support.urls")),
    path("", include("connections.urls")),
    path("support/", include("support.staff_urls")),
]

if settings.SANDBOX_ENABLED:
    # The sandbox's browser-facing admin page, on the portal's own origin; its protocol
    # endpoints are served on their own HTTPS origin (see sandbox/README.md).
    urlpatterns += [path("_sandbox/", include("sandbox.urls"))]

if settings.DEBUG:
    # Django's admin exists for development only. The portal registers only the audit trail
    # there, read-only (tenants/admin.py); what it would offer in production is raw edits
    # of accounts (deleting someone's authenticator, swapping an email address) past the
    # services and the audit trail, which support staff must not have ("read everything,
    # change nothing"). Even here it signs in through the portal's own sign-in and asks for
    # the second factor (portal/accounts.py).
    urlpatterns += [path("django-admin/", accounts.secure_admin_site(admin.site).urls)]

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
