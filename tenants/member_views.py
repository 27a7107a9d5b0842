"""People: the member list, invitations, roles."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .access import admin_required, member_required, scoped
from .forms import InvitationForm, RoleForm
from .invitations import read_token
from .middleware import SESSION_KEY
from .models import Invitation, Membership


def _member_page(request, form, status=200):
    org = request.organization
    return render(
        request,
        "tenants/member_list.html",
        {
            "memberships": org.memberships.select_related("user").order_by("user__email"),
            "invitations": list(org.invitations.select_related("invited_by")[:50]),
            "form": form,
            "role_form": RoleForm(),
        },
        status=status,
    )


@member_required
def member_list(request):
    return _member_page(request, InvitationForm())


@admin_required
@require_POST
def member_invite(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                organization=request.organization, acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("tenants:member_list")
    return _member_page(request, form, status=400)


@admin_required
@require_POST
def member_set_role(request, membership_id):
    membership = scoped(request, Membership, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin or viewer.")
        return redirect("tenants:member_list")
    try:
        services.membership_set_role(membership=membership, role=form.cleaned_data["role"], acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()}.")
    return redirect("tenants:member_list")


@admin_required
@require_http_methods(["GET", "POST"])
def member_remove(request, membership_id):
    """GET asks first (what the person loses); POST removes."""
    membership = scoped(request, Membership, pk=membership_id)
    if request.method == "GET":
        return render(request, "tenants/member_remove_confirm.html", {"membership": membership})
    try:
        services.membership_remove(membership=membership, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user} was removed from {request.organization}.")
    return redirect("tenants:member_list")


@admin_required
@require_POST
def invitation_revoke(request, invitation_id):
    invitation = scoped(request, Invitation, pk=invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The invitation to {invitation.email} no longer works.")
    return redirect("tenants:member_list")


def invitation_accept(request, token):
    """The emailed link. Anyone with it sees who invited whom to what; joining needs the invited
    person signed in, with an account of the invited email."""
    invitation_id = read_token(token)
    invitation = Invitation.objects.select_related("organization", "invited_by").filter(pk=invitation_id).first()
    if request.method == "POST" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.method == "POST" and invitation is not None:
        try:
            membership = services.invitation_accept(invitation_id=invitation.pk, acting_user=request.user)
        except ValidationError as exc:
            return render(
                request, "tenants/invitation_accept.html", {"invitation": invitation, "error": exc.messages[0]}
            )
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, f"Welcome to {membership.organization}.")
        return redirect("tenants:dashboard")
    error = None
    if invitation is None:
        error = "This invitation link is not valid. Ask an admin of the organization to send a new one."
    elif invitation.status != Invitation.Status.PENDING:
        error = (
            f"This invitation is {invitation.status.label.lower()}. "
            f"Ask an admin of {invitation.organization} to send a new one."
        )
    status = 200 if error is None else 410 if invitation is not None else 404
    context = {"invitation": invitation, "error": error}
    if error is None and not request.user.is_authenticated:
        here = request.get_full_path()
        context["sign_in_url"] = f"{reverse('account_login')}?{urlencode({'next': here})}"
        context["sign_up_url"] = f"{reverse('account_signup')}?{urlencode({'next': here, 'email': invitation.email})}"
    return render(request, "tenants/invitation_accept.html", context, status=status)
