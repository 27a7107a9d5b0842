"""Intune app protection's pages: mounted by connections/urls.py (names prefixed intune_)."""

from django.urls import path

from . import views

urlpatterns = [
    path("intune/", views.org_list, name="intune_org_list"),
    path("intune/organizations/new/", views.org_new, name="intune_org_new"),
    path("intune/organizations/<int:atl_org_id>/", views.org_detail, name="intune_org_detail"),
    path("intune/organizations/<int:atl_org_id>/check/", views.org_check, name="intune_org_check"),
    path("intune/organizations/<int:atl_org_id>/key/", views.org_key, name="intune_org_key"),
    path("intune/organizations/<int:atl_org_id>/step/", views.org_step, name="intune_org_step"),
    path("intune/organizations/<int:atl_org_id>/remove/", views.org_remove, name="intune_org_remove"),
    path("intune/organizations/<int:atl_org_id>/consent-links/", views.consent_link_new,
         name="intune_consent_link_new"),
    path("intune/consent-links/<int:link_id>/revoke/", views.consent_link_revoke, name="intune_consent_link_revoke"),
    path("intune/consent/<str:token>/", views.consent, name="intune_consent"),
    path("intune/organizations/<int:atl_org_id>/policies/new/", views.policy_new, name="intune_policy_new"),
    path("intune/policies/<int:policy_id>/edit/", views.policy_edit, name="intune_policy_edit"),
    path("intune/policies/<int:policy_id>/assign/", views.policy_assign, name="intune_policy_assign"),
    path("intune/policies/<int:policy_id>/delete/", views.policy_delete, name="intune_policy_delete"),
]
