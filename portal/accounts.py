"""Accounts (django-allauth): two-factor secrets encrypted at rest, and a second factor that
only the second factor can remove.

Allauth keeps, per session, a record of every authentication step it passed (password, "mfa"
with the authenticator's type, and whether it was a reauthentication), read with
allauth.account.authentication.get_authentication_records (see the record_authentication
docstring in allauth/account/internal/flows/login.py for the records' shape).
"""

import time
from functools import wraps

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.decorators import secure_admin_login
from allauth.core.exceptions import ReauthenticationRequired
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes import views as recovery_code_views
from allauth.mfa.totp import views as totp_views
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from . import crypto
from .client_ip import client_ip

# Authenticator types whose codes a person types; WebAuthn is not offered (MFA_SUPPORTED_TYPES).
CODE_TYPES = [Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored encrypted, with the provider tokens' keys.

    https://docs.allauth.org/en/latest/mfa/adapter.html (encrypt / decrypt)
    """

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request):
        # Login and sign-up rate limits count the same address as the audit trail and the
        # consent-link limit (portal/client_ip.py), not allauth's own X-Forwarded-For reading.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def get_login_redirect_url(self, request):
        # Support staff who belong to no organization have no dashboard: their home is support.
        user = request.user
        if user.is_staff and not user.memberships.exists():
            return reverse("support:organization_list")
        return super().get_login_redirect_url(request)

    def get_reauthentication_methods(self, user):
        """Someone with a second factor confirms sensitive steps with it, never with the password
        alone: otherwise a stolen password could remove the second factor it is meant to back up.

        Allauth sends a reauthentication to the first method listed and lets the password page
        run only while it is listed (allauth.account.views.BaseReauthenticateView).
        """
        methods = super().get_reauthentication_methods(user)
        if user.is_authenticated and is_mfa_enabled(user, CODE_TYPES):
            methods = [m for m in methods if m["id"] != "reauthenticate"]
        return methods


def passed_second_factor(request) -> bool:
    """Did this session (not merely this account) pass a second factor, at sign-in or since?"""
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


def second_factor_redirect(request, what):
    """None when this session passed a second factor; otherwise where to go for one.

    Without an authenticator: to set one up. With one, in a session that signed in with the
    password alone (or before the authenticator existed): to enter a code, then back here.
    """
    user = request.user
    if not is_mfa_enabled(user, [Authenticator.Type.TOTP]):
        messages.warning(request, f"{what} need two-factor authentication: set up an authenticator app first.")
        return redirect("mfa_activate_totp")
    if not passed_second_factor(request):
        messages.info(request, f"{what} need this sign-in confirmed: enter the code from your authenticator app.")
        return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': request.get_full_path()})}")
    return None


def recently_reconfirmed_second_factor(request) -> bool:
    cutoff = time.time() - account_settings.REAUTHENTICATION_TIMEOUT
    return any(
        r.get("method") == "mfa" and r.get("reauthenticated") and r.get("at", 0) >= cutoff
        for r in get_authentication_records(request, request.user)
    )


def second_factor_reauthentication_required(view):
    """For someone with a second factor: a code from it in the last few minutes, not a password.

    Allauth's own check accepts any recent reauthentication, a password one included (see
    allauth.account.internal.flows.reauthentication.did_recently_reauthenticate); this one
    asks for the second factor. ReauthenticationRequired makes allauth's middleware keep the
    request and send the person to the code page (AccountAdapter lists only that one).
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if (
            user.is_authenticated
            and is_mfa_enabled(user, CODE_TYPES)
            and not recently_reconfirmed_second_factor(request)
        ):
            raise ReauthenticationRequired()
        return view(request, *args, **kwargs)

    return wrapper


# allauth's pages that remove a second factor or reveal its recovery codes, at their own
# paths (mounted before allauth.urls, so these resolve first), each behind a fresh code. Should
# allauth move one, tests/tenants/test_second_factor.py fails rather than the guard going quiet.
mfa_urlpatterns = [
    path(
        "2fa/totp/deactivate/",
        second_factor_reauthentication_required(totp_views.deactivate_totp),
        name="mfa_deactivate_totp",
    ),
    path(
        "2fa/recovery-codes/",
        second_factor_reauthentication_required(recovery_code_views.view_recovery_codes),
        name="mfa_view_recovery_codes",
    ),
    path(
        "2fa/recovery-codes/generate/",
        second_factor_reauthentication_required(recovery_code_views.generate_recovery_codes),
        name="mfa_generate_recovery_codes",
    ),
    path(
        "2fa/recovery-codes/download/",
        second_factor_reauthentication_required(recovery_code_views.download_recovery_codes),
        name="mfa_download_recovery_codes",
    ),
]


def transform_authenticator_secrets(authenticator_model, transform) -> int:
    """Apply `transform` to every stored TOTP secret and recovery-code seed; returns the count.

    The same fields as tenants/migrations/0006_encrypt_two_factor_secrets.py encrypted.
    """
    done = 0
    with transaction.atomic():
        for authenticator in authenticator_model.objects.select_for_update().iterator(chunk_size=500):
            data = dict(authenticator.data)
            for key in ("secret", "seed"):
                if data.get(key):
                    data[key] = transform(data[key])
            if data.get("migrated_codes"):
                data["migrated_codes"] = [transform(code) for code in data["migrated_codes"]]
            if data != authenticator.data:
                authenticator.data = data
                authenticator.save(update_fields=["data"])
                done += 1
    return done


def rotate_authenticator_secrets() -> int:
    return transform_authenticator_secrets(Authenticator, crypto.rotate)


def _admin_signed_in(request, extra_context=None):
    """What the admin's sign-in page becomes once allauth signed the person in: never a
    password form of its own, only the second factor and then on to where they were going."""
    if not request.user.is_staff or not request.user.is_active:
        raise PermissionDenied
    missing = second_factor_redirect(request, "The admin pages")
    if missing:
        return missing
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = reverse("admin:index")
    return redirect(next_url)


def secure_admin_site(site):
    """Django's admin behind the portal's sign-in: allauth's (second factor, rate limits) instead
    of the admin's own password-only form, and a session that passed the second factor.
    https://docs.allauth.org/en/latest/common/admin.html (secure_admin_login)
    """
    if getattr(site, "portal_secured", False):
        return site
    has_permission = site.has_permission
    site.login = secure_admin_login(_admin_signed_in)
    site.has_permission = lambda request: has_permission(request) and passed_second_factor(request)
    site.portal_secured = True
    return site
