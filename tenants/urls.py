"""The routes of this app's own views. They are mounted, together with the pages above this app
(dashboard, site and tenant pages, in support/urls.py), under the URL namespace "tenants"."""

from django.urls import path

from . import edit_views, member_views, views

urlpatterns = [
    path("organizations/new/", views.organization_new, name="organization_new"),
    path("organization/", edit_views.organization_settings, name="organization_settings"),
    path("organization/leave/", edit_views.organization_leave, name="organization_leave"),
    path("organization/remove/", views.organization_remove, name="organization_remove"),
    path("organizations/<int:organization_id>/switch/", views.organization_switch, name="organization_switch"),
    path("sites/new/", views.site_new, name="site_new"),
    path("sites/<int:site_id>/edit/", edit_views.site_edit, name="site_edit"),
    path("tenants/new/", views.tenant_new, name="tenant_new"),
    path("tenants/<int:tenant_id>/edit/", edit_views.tenant_edit, name="tenant_edit"),
    path("members/", member_views.member_list, name="member_list"),
    path("members/invite/", member_views.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", member_views.member_set_role, name="member_set_role"),
    path("members/<int:membership_id>/remove/", member_views.member_remove, name="member_remove"),
    path("invitations/<int:invitation_id>/revoke/", member_views.invitation_revoke, name="invitation_revoke"),
    path("invitations/accept/<str:token>/", member_views.invitation_accept, name="invitation_accept"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export", views.audit_export, name="audit_export"),
]
