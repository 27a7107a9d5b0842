"""Puts the signed-in member's current organization on the request.

The current organization is remembered in the session; every organization-scoped view
resolves object ids through `request.organization`, never through the id alone.
"""

from .audit import reset_request_origin, set_request_origin
from .models import Membership

SESSION_KEY = "current_organization_id"


class CurrentOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        if request.user.is_authenticated:
            memberships = Membership.objects.filter(user=request.user).select_related("organization")
            wanted = request.session.get(SESSION_KEY)
            membership = None
            if wanted is not None:
                membership = memberships.filter(organization_id=wanted).first()
            if membership is None:
                membership = memberships.order_by("created_at", "id").first()
            if membership is not None:
                request.membership = membership
                request.organization = membership.organization
        token = set_request_origin(request)
        try:
            return self.get_response(request)
        finally:
            reset_request_origin(token)
