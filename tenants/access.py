"""Who may see what. Every organization-scoped view uses one of these decorators and
resolves object ids through `request.organization` (see `scoped`)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect

from portal.accounts import second_factor_redirect


def member_required(view):
    """Signed in and a member of some organization (else: create or join one)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.organization is None:
            return redirect("tenants:organization_new")
        return view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    """An admin of the current organization; viewers get 403."""

    @member_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_admin:
            raise PermissionDenied("Only an admin of this organization can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def scoped(request, model, **lookup):
    """The current organization's object, or 404: another organization's id is not found."""
    return get_object_or_404(model, organization=request.organization, **lookup)


def staff_required(view):
    """Support staff whose session passed the second factor; others get 404.

    Staff see every organization's records, so a stolen password alone must not be enough:
    having an authenticator is not it either, this sign-in must have used it. A session that
    signed in with the password alone is sent for a code first, then comes back here.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404
        missing = second_factor_redirect(request, "Support pages")
        if missing:
            return missing
        return view(request, *args, **kwargs)

    return wrapper
