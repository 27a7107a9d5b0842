"""The site admin's consent links: several can be open at once, each with its state; reloading
shows and never makes or withdraws one; a link is shown again, emailed, or withdrawn on purpose."""

import json
import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import ConsentRequest
from tenants.models import AuditEvent


def _make(world):
    response = world.client.post(reverse("connections:microsoft:link_create", args=[world.connection.pk]))
    assert response.status_code == 302  # post, redirect, get
    return response.url


def _link_on(page):
    found = re.search(r'id="consent-link" type="text" readonly value="http://testserver(/consent/[^"]+/)"', page)
    return found.group(1)


def _connection_page(world):
    return world.client.get(reverse("connections:connection_detail", args=[world.connection.pk])).content.decode()


def test_reloading_the_link_page_shows_the_same_link_and_makes_none(world):
    show = _make(world)
    first = world.client.get(show).content.decode()
    again = world.client.get(show).content.decode()
    assert _link_on(first) == _link_on(again)
    assert ConsentRequest.objects.count() == 1 and ConsentRequest.objects.get().is_usable
    assert 'data-copy="#consent-link"' in first and "Copy link for the tenant admin" in first
    # The connection page offers the same link to copy, on the button of that name.
    page = _connection_page(world)
    assert _link_on(page) == _link_on(first)
    assert re.search(r'<button type="button" data-copy="#consent-link">Copy link for the tenant admin</button>', page)


def test_a_new_link_leaves_the_one_already_sent_working(world):
    first = _link_on(world.client.get(_make(world)).content.decode())
    second = _link_on(world.client.get(_make(world)).content.decode())
    assert first != second
    assert Client().get(first).status_code == 200 and Client().get(second).status_code == 200
    assert ConsentRequest.objects.filter(state__in=ConsentRequest.OPEN_STATES).count() == 2


def test_withdrawing_asks_first_and_only_the_confirmation_withdraws(world):
    show = _make(world)
    path = _link_on(world.client.get(show).content.decode())
    request = ConsentRequest.objects.get()
    revoke = reverse("connections:microsoft:link_revoke", args=[request.pk])
    confirm = world.client.get(revoke)
    assert confirm.status_code == 200 and "Withdraw this consent link?" in confirm.content.decode()
    world.client.get(revoke)
    request.refresh_from_db()
    assert request.is_usable and Client().get(path).status_code == 200

    done = world.client.post(revoke)
    assert done.status_code == 302
    request.refresh_from_db()
    assert request.state == "revoked" and Client().get(path).status_code == 410
    assert 'data-link-state="withdrawn"' in _connection_page(world)


def test_the_connection_page_lists_every_link_with_its_state(world):
    used, expired, withdrawn, open_ = (ConsentRequest.objects.get(pk=_make(world).rstrip("/").split("/")[-1])
                                       for _ in range(4))
    ConsentRequest.objects.filter(pk=used.pk).update(state="consented", consented_at=timezone.now())
    ConsentRequest.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    world.client.post(reverse("connections:microsoft:link_revoke", args=[withdrawn.pk]))
    page = _connection_page(world)
    table = page[page.index('<table class="consent-links">'):]
    table = table[:table.index("</table>")]
    for state in ("open", "used: permission granted", "expired", "withdrawn"):
        assert f'data-link-state="{state}"' in table, state
    # Only the open one can be shown again or withdrawn.
    assert table.count("Show or send") == 1
    assert reverse("connections:microsoft:link_show", args=[open_.pk]) in table


def test_a_link_is_sent_by_email_and_the_token_stays_out_of_the_audit_trail(world, django_capture_on_commit_callbacks):
    show = _make(world)
    path = _link_on(world.client.get(show).content.decode())
    request = ConsentRequest.objects.get()
    send = reverse("connections:microsoft:link_send", args=[request.pk])

    refused = world.client.post(send, {"email": "not an address"})
    assert refused.status_code == 400 and "Enter a valid email address" in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        sent = world.client.post(send, {"email": "admin@contoso.com"})
    assert sent.status_code == 302
    assert "sent to admin@contoso.com" in world.client.get(sent.url).content.decode()
    message = mail.outbox[-1]
    assert message.to == ["admin@contoso.com"] and "http://testserver" + path in message.body
    assert "Acme" in message.subject and "Contoso" in message.subject

    token = path.split("/")[2]
    event = AuditEvent.objects.get(action="consent.link_sent")
    assert event.details["to"] == "admin@contoso.com"
    assert not any(token in json.dumps(e.details) for e in AuditEvent.objects.all())
    assert ConsentRequest.objects.filter(pk=request.pk, _token__contains=token).count() == 0  # encrypted at rest


def test_a_withdrawn_link_is_neither_shown_nor_sent_again(world):
    show = _make(world)
    request = ConsentRequest.objects.get()
    world.client.post(reverse("connections:microsoft:link_revoke", args=[request.pk]))
    page = world.client.get(show).content.decode()
    assert 'id="consent-link"' not in page and "can no longer be used (withdrawn)" in page
    refused = world.client.post(reverse("connections:microsoft:link_send", args=[request.pk]), {"email": "a@b.example"})
    assert refused.status_code == 400 and "withdrawn" in refused.content.decode()
    assert not mail.outbox
