"""Invitation links: the invitation's id, signed, so nothing secret is stored or queued."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "tenants.invitation"


def make_token(invitation):
    return signing.dumps(invitation.pk, salt=_SALT, compress=False)


def read_token(token):
    """The invitation id in a token, or None if it was not made by us."""
    try:
        return int(signing.loads(token, salt=_SALT))
    except (signing.BadSignature, TypeError, ValueError):
        return None


def accept_url(invitation):
    return settings.SITE_URL + reverse("tenants:invitation_accept", args=[make_token(invitation)])
