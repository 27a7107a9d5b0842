from django.urls import path

from . import views

app_name = "microsoft"

urlpatterns = [
    # Registered with Microsoft exactly as SITE_URL + these paths.
    path("connect/microsoft/callback", views.callback, name="callback"),
    path("connect/microsoft/adminconsent/callback", views.adminconsent_callback, name="adminconsent_callback"),
    path("connect/microsoft/done/", views.consent_done, name="consent_done"),
    path("connect/microsoft/sign-in-again/", views.consent_retry, name="consent_retry"),
    path("tenants/find/", views.tenant_find, name="tenant_find"),
    path("connections/<int:connection_id>/give-permission/", views.give_permission, name="give_permission"),
    path("connections/<int:connection_id>/consent-links/", views.link_create, name="link_create"),
    path("consent-links/<int:consent_request_id>/", views.link_show, name="link_show"),
    path("consent-links/<int:consent_request_id>/send/", views.link_send, name="link_send"),
    path("consent-links/<int:consent_request_id>/revoke/", views.link_revoke, name="link_revoke"),
    # The shared link: no portal account needed; the token is the capability.
    path("consent/<str:token>/", views.consent_link, name="consent_link"),
    path("consent/<str:token>/start/", views.consent_link_start, name="consent_link_start"),
]
