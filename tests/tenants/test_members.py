"""Invitations by email, roles, several organizations per person."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditEvent, Invitation, Membership, Role
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    def send(client, email, role="viewer"):
        # The invitation email is queued on commit: run those callbacks as a commit would.
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("tenants:member_invite"), {"email": email, "role": role})

    return send


def _link_from_last_email():
    return re.search(r"http://\S+/invitations/accept/\S+/", mail.outbox[-1].body).group(0)


def test_an_admin_invites_by_email_and_the_invitee_joins(admin_client, client, acme, invite):
    response = invite(admin_client, "newcomer@example.com", "admin")
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["newcomer@example.com"]
    assert acme.organization.name in mail.outbox[-1].subject
    link = _link_from_last_email()

    newcomer = UserFactory(email="Newcomer@example.com")
    client.force_login(newcomer)
    path = link.split("127.0.0.1:8000", 1)[-1]
    assert b"Join Acme" in client.get(path).content
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer, organization=acme.organization).role == Role.ADMIN
    assert AuditEvent.objects.filter(action="invitation.accepted", actor_user=newcomer).exists()
    # Single use.
    response = client.get(path)
    assert response.status_code == 410
    assert b"accepted" in response.content


def test_the_invitation_is_for_the_invited_address_only(admin_client, client, acme, invite):
    invite(admin_client, "invited@example.com")
    path = _link_from_last_email().split("127.0.0.1:8000", 1)[-1]
    client.force_login(UserFactory(email="someone-else@example.com"))
    response = client.post(path)
    assert b"was sent to invited@example.com" in response.content
    assert not Membership.objects.filter(user__email="someone-else@example.com").exists()


def test_revoked_expired_and_forged_links_say_so(admin_client, client, acme, invite):
    invite(admin_client, "late@example.com")
    invitation = Invitation.objects.get(email="late@example.com")
    path = _link_from_last_email().split("127.0.0.1:8000", 1)[-1]
    admin_client.post(reverse("tenants:invitation_revoke", args=[invitation.pk]))
    client.force_login(UserFactory(email="late@example.com"))
    assert b"is revoked" in client.get(path).content

    yesterday = timezone.now() - timedelta(days=1)
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=None, expires_at=yesterday)
    assert b"is expired" in client.get(path).content
    response = client.get(reverse("tenants:invitation_accept", args=["forged-token"]))
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_inviting_an_existing_member_is_an_error_next_to_the_email(admin_client, acme, invite):
    response = invite(admin_client, acme.viewer.email)
    assert response.status_code == 400
    assert "already a member" in response.context["form"].errors["email"][0]


def test_a_new_invitation_replaces_the_pending_one(admin_client, acme, invite):
    invite(admin_client, "twice@example.com")
    invite(admin_client, "twice@example.com")
    statuses = sorted(i.status for i in Invitation.objects.filter(email="twice@example.com"))
    assert statuses == ["pending", "revoked"]


def test_roles_change_but_the_last_admin_stays(admin_client, acme):
    viewer_membership = Membership.objects.get(user=acme.viewer, organization=acme.organization)
    admin_client.post(reverse("tenants:member_set_role", args=[viewer_membership.pk]), {"role": "admin"})
    viewer_membership.refresh_from_db()
    assert viewer_membership.role == Role.ADMIN

    admin_client.post(reverse("tenants:member_set_role", args=[viewer_membership.pk]), {"role": "viewer"})
    own = Membership.objects.get(user=acme.admin, organization=acme.organization)
    response = admin_client.post(reverse("tenants:member_remove", args=[own.pk]), follow=True)
    assert b"needs at least one admin" in response.content
    assert Membership.objects.filter(pk=own.pk).exists()


def test_a_person_in_two_organizations_switches_between_them(client, acme, globex):
    MembershipFactory(user=acme.admin, organization=globex.organization, role=Role.VIEWER)
    client.force_login(acme.admin)
    assert b"Acme" in client.get(reverse("tenants:dashboard")).content
    client.post(reverse("tenants:organization_switch", args=[globex.organization.pk]))
    page = client.get(reverse("tenants:dashboard")).content
    assert globex.site.name.encode() in page and acme.site.name.encode() not in page
    # A viewer in Globex: no registering there.
    assert client.get(reverse("tenants:site_new")).status_code == 403


def test_a_new_account_creates_its_organization_and_becomes_its_admin(client, db):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("tenants:dashboard")).url == reverse("tenants:organization_new")
    client.post(reverse("tenants:organization_new"), {"name": "Initech"})
    membership = Membership.objects.get(user=user)
    assert membership.organization.name == "Initech" and membership.role == Role.ADMIN
    assert AuditEvent.objects.filter(action="organization.created", organization=membership.organization).exists()


def test_removing_a_member_asks_first_and_says_what_they_lose(admin_client, acme):
    viewer_membership = Membership.objects.get(user=acme.viewer, organization=acme.organization)
    listing = admin_client.get(reverse("tenants:member_list")).content.decode()
    url = reverse("tenants:member_remove", args=[viewer_membership.pk])
    assert f'href="{url}"' in listing  # a link to the question, not a one-click form
    question = admin_client.get(url)
    assert question.status_code == 200 and "loses access to Acme at once" in question.content.decode()
    assert Membership.objects.filter(pk=viewer_membership.pk).exists()  # asking removed nothing
    admin_client.post(url)
    assert not Membership.objects.filter(pk=viewer_membership.pk).exists()


def test_an_invitation_opened_while_signed_out_says_who_invited_whom_and_leads_on(admin_client, acme, invite):
    invite(admin_client, "fresh@example.com")
    path = _link_from_last_email().split("127.0.0.1:8000", 1)[-1]
    stranger = Client()
    page = stranger.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert acme.admin.email in body and "fresh@example.com" in body and "Join Acme" in body
    # Sign-up comes back here, with the invited address filled in.
    signup = re.search(r'href="(/accounts/signup/\?[^"]+)"', body).group(1).replace("&amp;", "&")
    form = stranger.get(signup).content.decode()
    assert 'value="fresh@example.com"' in form
    # Joining still needs an account: a signed-out POST is sent to sign in, nothing joins.
    response = stranger.post(path)
    assert response.status_code == 302 and reverse("account_login") in response.url
    assert not Membership.objects.filter(user__email="fresh@example.com").exists()
