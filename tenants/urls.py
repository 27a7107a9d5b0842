from django.urls import path

from . import edit_views, member_views, views

app_name = "tenants"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("organizations/new/", views.organization_new, name="organization_new"),
    path("organization/", edit_views.organization_settings, name="organization_settings"),
    path("organization/leave/", edit_views.organization_leave, name="organization_leave"),
    path("organization/remove/", views.organization_remove, name="organization_remove"),
    path("organizations/<int:organization_id>/switch/", views.organization_switch, name="organization_switch"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/new/", views.site_new, name="site_new"),
    path("sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/edit/", edit_views.site_edit, name="site_edit"),
    path("sites/<int:site_id>/remove/", views.site_remove, name="site_remove"),
    path("tenants/", views.tenant_list, name="tenant_list"),
    path("tenants/new/", views.tenant_new, name="tenant_new"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<int:tenant_id>/edit/", edit_views.tenant_edit, name="tenant_edit"),
    path("tenants/<int:tenant_id>/remove/", views.tenant_remove, name="tenant_remove"),
    path("members/", member_views.member_list, name="member_list"),
    path("members/invite/", member_views.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", member_views.member_set_role, name="member_set_role"),
    path("members/<int:membership_id>/remove/", member_views.member_remove, name="member_remove"),
    path("invitations/<int:invitation_id>/revoke/", member_views.invitation_revoke, name="invitation_revoke"),
    path("invitations/accept/<str:token>/", member_views.invitation_accept, name="invitation_accept"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export", views.audit_export, name="audit_export"),
]
