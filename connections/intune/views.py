"""Thin views of Intune app protection: forms in, services out, selectors for the pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tenants.access import admin_required, member_required, scoped

from ..microsoft import intune_endpoints as graph_intune
from ..microsoft.graph import Graph, GraphError
from ..models import AppConsentLink, AtlassianApp, AtlassianOrganization, ManualStep, MobileAppPolicy
from . import protection, selectors, services
from .forms import ConsentLinkForm, GroupsForm, KeyForm, OrganizationForm, PolicyForm


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@member_required
def org_list(request):
    atl_orgs = list(selectors.organizations(request.organization))
    if len(atl_orgs) == 1:
        return redirect("connections:intune_org_detail", atl_org_id=atl_orgs[0].pk)
    return render(request, "connections/intune/org_list.html", {"atl_orgs": atl_orgs})


@admin_required
@require_http_methods(["GET", "POST"])
def org_new(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            atl_org = services.organization_register(
                organization=request.organization, acting_user=request.user, org_id=form.cleaned_data["org_id"],
                name=form.cleaned_data["name"], api_key=form.cleaned_data["api_key"],
                key_expires_at=form.expires_at())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            services.organization_check(atl_org=atl_org, acting_user=request.user)
            messages.success(request, f"{atl_org} registered; its domains were read.")
            return redirect("connections:intune_org_detail", atl_org_id=atl_org.pk)
    return render(request, "connections/intune/org_form.html", {"form": form})


@member_required
def org_detail(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    context = selectors.overview(atl_org)
    context["manual_steps"] = ManualStep
    context["apps"] = AtlassianApp
    if request.membership.is_admin:
        # An admin of the organization reads the open links to copy them for the tenant admin.
        for group in context["groups"]:
            for link in group.links:
                if link.is_usable:
                    link.url = request.build_absolute_uri(
                        reverse("connections:intune_consent", kwargs={"token": link.token}))
    return render(request, "connections/intune/org_detail.html", context)


@admin_required
@require_POST
def org_check(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    services.organization_check(atl_org=atl_org, acting_user=request.user)
    messages.success(request, "Checked again: domains, tenants, the apps' consent and Intune.")
    return redirect("connections:intune_org_detail", atl_org_id=atl_org.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def org_key(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_save_key(atl_org=atl_org, acting_user=request.user,
                                           api_key=form.cleaned_data["api_key"], key_expires_at=form.expires_at())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "API key saved; Atlassian accepted it.")
            return redirect("connections:intune_org_detail", atl_org_id=atl_org.pk)
    return render(request, "connections/intune/key_form.html", {"form": form, "atl_org": atl_org})


@admin_required
@require_POST
def org_remove(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    try:
        services.organization_remove(atl_org=atl_org, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("connections:intune_org_detail", atl_org_id=atl_org.pk)
    messages.success(request, f"{atl_org} removed from the portal, with its API key.")
    return redirect("connections:intune_org_list")


@admin_required
@require_POST
def org_step(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    try:
        services.step_confirm(atl_org=atl_org, step=request.POST.get("step", ""), acting_user=request.user,
                              done=request.POST.get("done") == "1")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect(reverse("connections:intune_org_detail", kwargs={"atl_org_id": atl_org.pk}) + "#checklist")


@admin_required
@require_POST
def consent_link_new(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    form = ConsentLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a tenant and an app.")
    else:
        try:
            services.consent_link_create(atl_org=atl_org, tenant_id=form.cleaned_data["tenant_id"],
                                         app=form.cleaned_data["app"], acting_user=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, "Consent link made: copy it for the tenant's admin (it works once).")
    return redirect(reverse("connections:intune_org_detail", kwargs={"atl_org_id": atl_org.pk}) + "#tenants")


@admin_required
@require_POST
def consent_link_revoke(request, link_id):
    link = scoped(request, AppConsentLink, pk=link_id)
    try:
        services.consent_link_revoke(link=link, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Link withdrawn.")
    return redirect(reverse("connections:intune_org_detail", kwargs={"atl_org_id": link.atlassian_organization_id})
                    + "#tenants")


@require_http_methods(["GET", "POST"])
def consent(request, token):
    """The tenant admin's page: what they are asked to grant, then on to Microsoft."""
    link = services.consent_link_find(token)
    if link is None:
        return render(request, "connections/intune/consent.html", {"unknown": True}, status=404)
    if request.method == "POST":
        try:
            url = services.consent_link_use(link=link)
        except ValidationError as exc:
            return render(request, "connections/intune/consent.html", {"link": link, "error": _errors(exc)},
                          status=410)
        return HttpResponseRedirect(url)
    link = services.consent_link_open(link=link)
    return render(request, "connections/intune/consent.html", {
        "link": link, "app_name": AtlassianApp(link.app).label,
        "app_id": protection.ENTRA_APP_IDS[AtlassianApp(link.app)],
        "domains": list(link.atlassian_organization.domains.filter(tenant_id=link.tenant_id, claim_status="verified")
                        .values_list("name", flat=True)),
    }, status=200 if link.is_usable else 410)


# --- policies -------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def policy_new(request, atl_org_id):
    atl_org = scoped(request, AtlassianOrganization, pk=atl_org_id)
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_for())
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.policy_create(atl_org=atl_org, acting_user=request.user, name=form.cleaned_data["name"],
                                            apps=form.cleaned_data["apps"], platforms=form.cleaned_data["platforms"],
                                            options=form.options())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Policy “{policy}” saved; see each tenant's result below.")
            return redirect("connections:intune_policy_assign", policy_id=policy.pk)
    return render(request, "connections/intune/policy_form.html", {"form": form, "atl_org": atl_org})


@admin_required
@require_http_methods(["GET", "POST"])
def policy_edit(request, policy_id):
    policy = scoped(request, MobileAppPolicy, pk=policy_id)
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_for(policy))
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_update(policy=policy, acting_user=request.user, name=form.cleaned_data["name"],
                                   apps=form.cleaned_data["apps"], platforms=form.cleaned_data["platforms"],
                                   options=form.options())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Policy “{policy}” changed in every tenant it could reach.")
            return redirect("connections:intune_org_detail", atl_org_id=policy.atlassian_organization_id)
    return render(request, "connections/intune/policy_form.html",
                  {"form": form, "atl_org": policy.atlassian_organization, "policy": policy})


@admin_required
@require_http_methods(["GET", "POST"])
def policy_assign(request, policy_id):
    policy = scoped(request, MobileAppPolicy, pk=policy_id)
    tenants = []
    for group in selectors.tenant_groups(policy.atlassian_organization):
        entry = {"group": group, "form": None, "error": ""}
        if group.access.usable:
            try:
                choices = [(g["id"], g["displayName"]) for g in graph_intune.groups(Graph(group.access.connection))]
            except GraphError as exc:
                entry["error"] = f"{exc.message} {exc.remedy}"
            else:
                bound = request.method == "POST" and request.POST.get("tenant_id") == group.tenant_id
                entry["form"] = GroupsForm(request.POST if bound else None, choices=choices,
                                           initial={"groups": (policy.groups or {}).get(group.tenant_id, [])},
                                           prefix=f"t{len(tenants)}")
                if bound and entry["form"].is_valid():
                    try:
                        services.policy_assign(policy=policy, acting_user=request.user, tenant_id=group.tenant_id,
                                               group_ids=entry["form"].cleaned_data["groups"])
                    except ValidationError as exc:
                        entry["form"].add_error(None, exc)
                    else:
                        messages.success(request, f"Assigned in {group.name}.")
                        return redirect("connections:intune_policy_assign", policy_id=policy.pk)
        else:
            entry["error"] = group.access.reason
        tenants.append(entry)
    deployments = list(policy.deployments.all())
    return render(request, "connections/intune/policy_assign.html",
                  {"policy": policy, "tenants": tenants, "deployments": deployments,
                   "platforms": protection.PLATFORMS})


@admin_required
@require_http_methods(["GET", "POST"])
def policy_delete(request, policy_id):
    policy = scoped(request, MobileAppPolicy, pk=policy_id)
    error = ""
    if request.method == "POST":
        atl_org_id = policy.atlassian_organization_id
        try:
            services.policy_delete(policy=policy, acting_user=request.user)
        except ValidationError as exc:
            error = _errors(exc)
        else:
            messages.success(request, "Policy deleted in Intune and here.")
            return redirect("connections:intune_org_detail", atl_org_id=atl_org_id)
    return render(request, "connections/intune/policy_delete.html",
                  {"policy": policy, "deployments": list(policy.deployments.all()), "error": error})
