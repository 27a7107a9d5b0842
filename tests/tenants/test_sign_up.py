"""Sign-up works for everyone and never tells whether an address already has an account."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from tenants.models import User

PASSPHRASE = "long-enough-passphrase"


def _sign_up(client, email):
    return client.post(reverse("account_signup"), {"email": email, "password1": PASSPHRASE, "password2": PASSPHRASE})


def test_three_people_sign_up_in_a_row(client, db):
    for email in ["ann@example.com", "bob@example.com", "cyd@example.com"]:
        response = _sign_up(client, email)
        assert response.status_code == 302, response.content[:500]
        assert mail.outbox[-1].to == [email]
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "ann@example.com", "bob@example.com", "cyd@example.com"
    ]
    # Each got an account of their own.
    assert User.objects.values("username").distinct().count() == 3


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed", "not-yet-confirmed"])
def test_signing_up_with_a_known_address_looks_exactly_like_a_new_one(client, db, confirmed):
    # Someone signed up before through the same form.
    _sign_up(client, "known@example.com")
    if confirmed:
        EmailAddress.objects.filter(email="known@example.com").update(verified=True)
    mail.outbox.clear()
    client.raise_request_exception = False
    answers = []
    for email in ["known@example.com", "unknown@example.com"]:
        client.cookies.clear()
        response = _sign_up(client, email)
        followed = client.get(response["Location"]) if response.status_code == 302 else response
        answers.append(
            (response.status_code, response.get("Location"), followed.status_code, _page(followed, email))
        )
    known, unknown = answers
    assert known == unknown
    assert known[0] == 302 and known[2] == 200
    # Both addresses get an email; the known one is told that someone tried to sign up with it.
    assert [m.to for m in mail.outbox] == [["known@example.com"], ["unknown@example.com"]]
    assert "already" in mail.outbox[0].body.lower()
    assert "already" not in mail.outbox[1].body.lower()


def _page(response, email):
    """The page as the person sees it, their own address and the CSRF token aside."""
    html = response.content.decode().replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
