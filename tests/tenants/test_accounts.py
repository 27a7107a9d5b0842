"""Sign-up with email verification, sign-in, password reset (django-allauth)."""

import re

from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


def test_sign_up_requires_verifying_the_email(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "fresh@example.com", "password1": "long-enough-passphrase", "password2": "long-enough-passphrase"},
    )
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["fresh@example.com"]
    # Not signed in until the address is confirmed.
    assert client.get(reverse("tenants:dashboard")).status_code == 302
    link = re.search(r"http://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("testserver", 1)[-1]
    client.post(path)
    assert client.get(reverse("tenants:dashboard")).url == reverse("tenants:organization_new")


def test_sign_in_with_email_and_password(client, acme):
    response = client.post(reverse("account_login"), {"login": acme.admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert b"Acme" in client.get(reverse("tenants:dashboard")).content


def test_wrong_password_says_so(client, acme):
    response = client.post(reverse("account_login"), {"login": acme.admin.email, "password": "nope"})
    assert response.status_code == 200
    assert b"not correct" in response.content


def test_password_reset_sends_a_link(client, db):
    user = UserFactory(email="forgetful@example.com")
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert mail.outbox[-1].to == ["forgetful@example.com"]
    assert "/accounts/password/reset/key/" in mail.outbox[-1].body


def test_sign_in_never_redirects_off_the_portal(client, acme):
    response = client.post(
        reverse("account_login") + "?next=https://evil.example/phish",
        {"login": acme.admin.email, "password": PASSWORD, "next": "https://evil.example/phish"},
    )
    assert response.status_code == 302
    assert response.url.startswith("/") and "evil" not in response.url
