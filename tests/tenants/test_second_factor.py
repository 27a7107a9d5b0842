"""The second factor: support pages need a session that used it, only it can remove it, the
admin cannot be used to go around it, and its secret is stored encrypted."""

import importlib
import json
import re

import pytest
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import clear_url_caches, reverse

from portal import crypto
from tests.factories import PASSWORD, enrol_totp, sign_in, totp_code


def _support_list(client):
    return client.get(reverse("support:organization_list"))


def _reauthenticate_url(next_path):
    return f"{reverse('mfa_reauthenticate')}?next={next_path.replace('/', '%2F')}"


# --- support pages ----------------------------------------------------------------------


def test_a_password_only_session_is_sent_for_the_code_and_never_sees_support_data(client, staff_user, acme):
    enrol_totp(staff_user)
    # A session that proved only the password (what the admin's own login used to give).
    client.force_login(staff_user)

    response = _support_list(client)

    assert response.status_code == 302
    assert response.url == _reauthenticate_url(reverse("support:organization_list"))
    assert "Acme" not in client.get(response.url).content.decode()
    detail = client.get(reverse("support:organization_detail", args=[acme.organization.pk]))
    assert detail.status_code == 302 and detail.url.startswith(reverse("mfa_reauthenticate"))


def test_signing_in_before_enrolling_does_not_count_as_the_second_factor(client, staff_user, acme):
    sign_in(client, staff_user)  # password only: no authenticator yet
    secret = enrol_totp(staff_user)
    response = _support_list(client)
    assert response.url == _reauthenticate_url(reverse("support:organization_list"))

    # Entering a code in this session brings them back to the page they asked for.
    confirmed = client.post(response.url, {"code": totp_code(secret)})
    assert confirmed.status_code == 302 and confirmed.url == reverse("support:organization_list")
    assert "Acme" in _support_list(client).content.decode()


def test_a_session_that_used_the_code_at_sign_in_opens_support_pages(client, staff_user, acme, globex):
    sign_in(client, staff_user, enrol_totp(staff_user))
    page = _support_list(client)
    assert page.status_code == 200
    assert "Acme" in page.content.decode() and "Globex" in page.content.decode()


# --- the Django admin -----------------------------------------------------------------------


def test_the_admin_is_off_when_debug_is_off(client, staff_user, settings):
    assert settings.DEBUG is False
    staff_user.is_superuser = True
    staff_user.save()
    assert client.get("/django-admin/login/").status_code == 404
    posted = client.post("/django-admin/login/", {"username": staff_user.email, "password": PASSWORD})
    assert posted.status_code == 404
    # Nobody got signed in by it.
    assert client.get(reverse("tenants:dashboard")).url.startswith(reverse("account_login"))


@pytest.fixture
def debug_urls(settings):
    """The URLs as a development run (DEBUG on) builds them."""
    import portal.urls

    settings.DEBUG = True
    importlib.reload(portal.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(portal.urls)
    clear_url_caches()


def test_in_development_the_admin_signs_in_through_the_portal_and_asks_for_the_code(client, staff_user, debug_urls):
    staff_user.is_superuser = True
    staff_user.save()
    secret = enrol_totp(staff_user)

    # Its own password form is gone: the page sends to the portal's sign-in, posting to it signs nobody in.
    page = client.get("/django-admin/login/")
    assert page.status_code == 302 and page.url.startswith(reverse("account_login") + "?next=")
    posted = client.post("/django-admin/login/", {"username": staff_user.email, "password": PASSWORD})
    assert posted.status_code == 302 and posted.url.startswith(reverse("account_login"))
    assert client.get(reverse("tenants:dashboard")).url.startswith(reverse("account_login"))
    assert _support_list(client).url.startswith(reverse("account_login"))

    # A password-only session is not let in either: it is asked for the code.
    client.force_login(staff_user)
    index = client.get("/django-admin/")
    assert index.status_code == 302
    assert client.get(index.url).url.startswith(reverse("mfa_reauthenticate"))

    client.logout()
    sign_in(client, staff_user, secret)
    index = client.get("/django-admin/")
    assert index.status_code == 200 and "Site administration" in index.content.decode()


# --- removing the second factor ---------------------------------------------------------------


def _enrol_through_the_pages(client, user):
    """Enrol an authenticator app as a person does: confirm the password, scan, type a code."""
    start = client.get(reverse("mfa_activate_totp"))
    assert start.url.startswith(reverse("account_reauthenticate"))
    confirmed = client.post(start.url, {"password": PASSWORD})
    assert confirmed.url == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    secret = re.search(r'id="authenticator_secret"\s+value="([A-Z2-7]+)"', page.content.decode()).group(1)
    done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert done.status_code == 302, done.content[:2000]
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    return secret


def test_the_password_alone_cannot_remove_the_second_factor(client, staff_user):
    sign_in(client, staff_user)
    # Enrolling just confirmed the password: that must not be enough to take it off again.
    secret = _enrol_through_the_pages(client, staff_user)

    attempt = client.post(reverse("mfa_deactivate_totp"))
    assert attempt.status_code == 302
    assert attempt.url.startswith(reverse("mfa_reauthenticate"))
    # Confirming the password again is refused too: the password page sends to the code page.
    by_password = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert by_password.status_code == 302 and by_password.url.startswith(reverse("mfa_reauthenticate"))
    assert client.post(reverse("mfa_deactivate_totp")).url.startswith(reverse("mfa_reauthenticate"))
    assert Authenticator.objects.filter(user=staff_user, type="totp").exists()
    # Nor can the recovery codes (a second factor themselves) be read with the password.
    assert client.get(reverse("mfa_view_recovery_codes")).url.startswith(reverse("mfa_reauthenticate"))

    # A code from the authenticator app does it: the held-back removal then goes through.
    code_page = client.post(reverse("mfa_deactivate_totp")).url
    removed = client.post(code_page, {"code": totp_code(secret)})
    assert removed.status_code == 302 and removed.url == reverse("mfa_index")
    assert not Authenticator.objects.filter(user=staff_user, type="totp").exists()


@pytest.mark.parametrize(
    "page", ["mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
             "mfa_download_recovery_codes"],
)
def test_no_page_that_removes_or_reveals_the_second_factor_takes_the_password(client, staff_user, page):
    sign_in(client, staff_user)
    _enrol_through_the_pages(client, staff_user)  # the password was confirmed a moment ago
    for method in (client.get, client.post):
        response = method(reverse(page))
        assert response.status_code == 302 and response.url.startswith(reverse("mfa_reauthenticate")), method
    assert Authenticator.objects.filter(user=staff_user, type="totp").exists()


def test_signing_in_with_the_code_still_asks_for_a_fresh_one_to_remove_it(client, staff_user):
    secret = enrol_totp(staff_user)
    sign_in(client, staff_user, secret)
    code_page = client.post(reverse("mfa_deactivate_totp")).url
    assert code_page == _reauthenticate_url(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=staff_user, type="totp").exists()
    assert client.post(code_page, {"code": totp_code(secret)}).url == reverse("mfa_index")
    assert not Authenticator.objects.filter(user=staff_user, type="totp").exists()


# --- the secret at rest -----------------------------------------------------------------------


def _stored_data(authenticator):
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text FROM mfa_authenticator WHERE id = %s", [authenticator.pk])
        return cursor.fetchone()[0]


def test_the_stored_secret_is_encrypted_and_signing_in_with_the_code_still_works(client, staff_user, acme):
    sign_in(client, staff_user)
    secret = _enrol_through_the_pages(client, staff_user)

    totp = Authenticator.objects.get(user=staff_user, type="totp")
    assert secret not in _stored_data(totp)
    assert crypto.decrypt(json.loads(_stored_data(totp))["secret"]) == secret
    seed = Authenticator.objects.get(user=staff_user, type="recovery_codes").data["seed"]
    assert re.fullmatch(r"[0-9a-f]{80}", seed) is None and len(crypto.decrypt(seed)) == 80

    client.logout()
    sign_in(client, staff_user, secret)
    assert "Acme" in _support_list(client).content.decode()


def _encrypt_migration():
    return importlib.import_module("tenants.migrations.0006_encrypt_two_factor_secrets")


def test_secrets_stored_in_the_clear_are_encrypted_by_the_migration(client, staff_user, acme):
    from django.apps import apps

    # As stored before the portal encrypted them (allauth's default adapter).
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    totp = Authenticator.objects.create(user=staff_user, type="totp", data={"secret": secret})
    codes = Authenticator.objects.create(
        user=staff_user, type="recovery_codes", data={"seed": "ab" * 40, "used_mask": 0}
    )

    _encrypt_migration().encrypt_secrets(apps, None)
    once = _stored_data(totp), _stored_data(codes)
    _encrypt_migration().encrypt_secrets(apps, None)  # again: nothing encrypted twice

    assert (_stored_data(totp), _stored_data(codes)) == once
    assert secret not in once[0] and "ab" * 40 not in once[1]
    sign_in(client, staff_user, secret)
    assert "Acme" in _support_list(client).content.decode()


def test_rotating_the_key_keeps_the_second_factor_working(client, staff_user, acme, settings):
    secret = enrol_totp(staff_user)
    old_key = settings.CREDENTIAL_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIAL_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_credentials")
    settings.CREDENTIAL_ENCRYPTION_KEYS = [new_key]  # the old key is gone

    sign_in(client, staff_user, secret)
    assert "Acme" in _support_list(client).content.decode()


def test_after_enrolling_the_recovery_codes_page_leads_on_to_the_support_home(client, staff_user):
    sign_in(client, staff_user)
    start = client.get(reverse("mfa_activate_totp"))
    client.post(start.url, {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret"\s+value="([A-Z2-7]+)"', page).group(1)
    done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)}, follow=True)
    # Showing the codes asks for a code of the new authenticator first (a second factor themselves).
    if done.redirect_chain[-1][0].startswith(reverse("mfa_reauthenticate")):
        done = client.post(done.redirect_chain[-1][0], {"code": totp_code(secret)}, follow=True)
    page = done.content.decode()
    assert "Recovery Codes" in page, done.redirect_chain
    continue_link = page.split("data-continue", 1)[1].split("</p>", 1)[0]
    assert f'href="{reverse("support:organization_list")}"' in continue_link
    assert "Continue to the support home" in continue_link
