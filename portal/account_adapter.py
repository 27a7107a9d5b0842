"""django-allauth's adapter: its login and sign-up rate limits count per client."""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied

from .client_ip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request):
        # The same address as the audit trail and the consent-link limit (see client_ip.py),
        # not allauth's own X-Forwarded-For reading.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
