"""Microsoft's callbacks with what an attacker (or a mangled redirect) can put in them, and
callbacks that arrive too late: a page saying what happened, an audit row, never a 500.
On PostgreSQL, which refuses what SQLite would store."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from connections.microsoft.oauth import SESSION_FLOWS
from connections.models import Connection, ConsentRequest
from tenants import services as tenant_services
from tenants.models import AuditEvent

CALLBACK = "/connect/microsoft/callback"
ADMINCONSENT = "/connect/microsoft/adminconsent/callback"


def _rejected():
    return AuditEvent.objects.filter(action="consent.callback_rejected")


def _start(world):
    """Give permission: the portal sends the admin to Microsoft; returns the flow's state."""
    start = world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk]))
    assert start.status_code == 302
    return start, parse_qs(urlsplit(start.url).query)["state"][0]


@pytest.mark.parametrize(
    "path, params",
    [
        (CALLBACK, {"state": "made-up\x00", "code": "abc"}),
        (CALLBACK, {"state": "s" * 5000, "code": "abc"}),
        (CALLBACK, {"state": "made-up", "code": "an-auth\x00-code"}),
        (ADMINCONSENT, {"state": "made-up", "tenant": "contoso\x00.com", "admin_consent": "True"}),
        (ADMINCONSENT, {"state": "x\x01y", "tenant": "t" * 400}),
    ],
)
def test_a_callback_with_control_characters_or_overlong_identifiers_is_refused_and_audited(world, path, params):
    response = world.client.get(path, params)

    assert response.status_code == 403
    assert "did not match" in response.content.decode()
    event = _rejected().get()
    assert event.details["reason"] == "malformed callback"
    # The audit row names which parameter was wrong, never what it held.
    stored = json.dumps(event.details)
    for value in params.values():
        assert value not in stored and value.replace("\x00", "") not in stored
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT


def test_an_overlong_error_and_description_are_recorded_cut_to_their_columns(world):
    _, state = _start(world)
    description = "AADSTS" + "9" * 3000 + ": made up\x00 " + "z" * 5000

    response = world.client.get(CALLBACK, {"state": state, "error": "e" * 5000, "error_description": description})

    assert response.status_code == 400
    request = ConsentRequest.objects.get()
    assert request.state == ConsentRequest.State.FAILED
    assert request.error_code == "e" * 64  # not a real AADSTS code: the error, cut to its column
    assert len(request.error_description) == 2000 and "\x00" not in request.error_description
    assert AuditEvent.objects.get(action="consent.failed").details["error_code"] == "e" * 64


def test_a_sign_in_whose_nonce_does_not_match_is_refused_start_again(world):
    start, state = _start(world)
    # The id_token Microsoft returns carries the nonce of the sign-in it was issued for; one
    # injected from another sign-in carries another. Simulated by changing the flow's own.
    session = world.client.session
    flows = session[SESSION_FLOWS]
    flows[state]["flow"]["nonce"] = "a-nonce-of-another-sign-in"
    session[SESSION_FLOWS] = flows
    session.save()
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True)

    response = world.portal_get(back)

    assert response.status_code == 403
    page = response.content.decode()
    assert "could not be verified" in page and "Start again" in page
    assert "a-nonce-of-another-sign-in" not in page
    event = _rejected().get()
    assert event.details["reason"] == "The sign-in could not be verified."
    assert "nonce" not in json.dumps(event.details)
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    assert not world.connection.credentials.exists()


def _link(world):
    response = world.client.post(reverse("connections:microsoft:link_create", args=[world.connection.pk]), follow=True)
    return re.search(r'value="http://testserver(/consent/[^"]+/)"', response.content.decode()).group(1)


def test_a_callback_after_the_tenant_was_removed_says_the_connection_is_gone_and_whom_to_ask(world):
    path = _link(world)
    stranger = Client()  # the tenant admin, with no portal account
    start = stranger.post(path + "start/")
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True)
    # Meanwhile the site admin removes the tenant, and with it the connection and the link.
    tenant_services.tenant_remove(tenant=world.connection.tenant, acting_user=world.admin)

    response = world.portal_get(back, stranger)

    assert response.status_code == 410
    page = response.content.decode()
    assert "no longer exists" in page and world.admin.email in page and "Nothing was recorded" in page
    event = _rejected().get()
    assert event.organization == world.connection.organization
    assert event.details["reason"] == "connection removed"


def test_admin_consent_returning_after_the_connection_was_removed_says_so(world):
    start, _ = _start(world)
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True)
    to_admin_consent = world.portal_get(back)
    assert to_admin_consent.status_code == 302 and "adminconsent" in to_admin_consent.url
    state = parse_qs(urlsplit(to_admin_consent.url).query)["state"][0]
    Connection.objects.filter(pk=world.connection.pk).delete()

    response = world.client.get(
        ADMINCONSENT, {"state": state, "tenant": world.sandbox.tenants["contoso"].id, "admin_consent": "True"}
    )

    assert response.status_code == 410
    assert "no longer exists" in response.content.decode()
    assert _rejected().get().details["reason"] == "connection removed"
