"""The sandbox's own admin page on the portal's origin (/_sandbox/): see the tenants, apps and
grants, revoke a grant, switch faults on and off, read the request log.

It lists every tenant admin's password, so only the demo's own admins see it: a signed-in
portal user who is an admin of an organization (the sandbox runs only in a demo or test
portal, where every organization is a demo one), or staff. Anyone else is sent to sign in,
or refused.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from . import faults, intune_admin
from .info import sandbox_info
from .microsoft import directory
from .microsoft.models import App, ServicePrincipal, Tenant
from .models import Fault, RequestLog


def _params(text):
    params = {}
    for item in text.replace(",", " ").split():
        name, _, value = item.partition("=")
        try:
            params[name] = float(value) if "." in value else int(value)
        except ValueError:
            params[name] = value
    return params


def _act(request):
    action = request.POST.get("action")
    if action in ("revoke", "consent"):
        tenant = get_object_or_404(Tenant, pk=request.POST.get("tenant"))
        app = get_object_or_404(App, pk=request.POST.get("app"))
        if action == "revoke":
            count = directory.revoke(tenant=tenant, app=app, permission=request.POST.get("permission") or None)
            messages.success(request, f"Revoked {count} permission(s) in {tenant.display_name}.")
        else:
            admin = tenant.users.filter(is_admin=True, deleted=False).first()
            directory.grant_admin_consent(tenant=tenant, app=app, admin=admin)
            messages.success(request, f"Admin consent granted in {tenant.display_name}.")
    elif action == "fault_set":
        kind, target = request.POST.get("kind", ""), request.POST.get("target", "").strip()
        if kind not in faults.Kind.values or not target:
            messages.error(request, "Choose a kind and a target (tenant:<id>, site:<name> or *).")
        else:
            faults.set_fault(kind, target, **_params(request.POST.get("params", "")))
            messages.success(request, f"Fault {kind} set on {target}.")
    elif action == "fault_clear":
        Fault.objects.filter(pk=request.POST.get("fault")).delete()
        messages.success(request, "Fault cleared.")
    elif action in intune_admin.ACTIONS:
        intune_admin.act(request, action)
    elif action == "log_clear":
        RequestLog.objects.all().delete()
        messages.success(request, "Request log cleared.")


def _demo_admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        from tenants.models import Role

        user = request.user
        if not (user.is_staff or user.memberships.filter(role=Role.ADMIN).exists()):
            raise PermissionDenied("The sandbox's admin page is for the demo's admins.")
        return view(request, *args, **kwargs)

    return wrapper


@_demo_admin_required
@require_http_methods(["GET", "POST"])
def index(request):
    if request.method == "POST":
        _act(request)
        return redirect("sandbox:index")
    sps = ServicePrincipal.objects.select_related("tenant", "app").prefetch_related("grants")
    return render(
        request,
        "sandbox/admin.html",
        {
            "info": sandbox_info(),
            "service_principals": sps.order_by("tenant__display_name"),
            "tenants": Tenant.objects.order_by("display_name"),
            "apps": App.objects.order_by("display_name"),
            "faults": Fault.objects.order_by("target", "kind"),
            "fault_kinds": faults.Kind.choices,
            "log": RequestLog.objects.order_by("-pk")[:100],
            **intune_admin.context(),
        },
    )
