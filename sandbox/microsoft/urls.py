"""The identity platform's paths, at the origin's root: msal reads the first segment as tenant."""

from django.urls import path

from . import identity_views, signin_views

urlpatterns = [
    path(
        "<str:tenant>/v2.0/.well-known/openid-configuration",
        identity_views.openid_configuration,
        name="ms-openid-configuration",
    ),
    path("<str:tenant>/discovery/v2.0/keys", identity_views.keys, name="ms-keys"),
    path("<str:tenant>/discovery/keys", identity_views.keys),
    path("<str:tenant>/oauth2/v2.0/token", identity_views.token, name="ms-token"),
    path("<str:tenant>/oauth2/v2.0/authorize", signin_views.authorize, name="ms-authorize"),
    path("<str:tenant>/oauth2/v2.0/logout", signin_views.logout, name="ms-logout"),
    path("<str:tenant>/v2.0/adminconsent", signin_views.admin_consent, name="ms-adminconsent"),
    path("<str:tenant>/adminconsent", signin_views.admin_consent, {"version": "v1"}, name="ms-adminconsent-v1"),
]
