"""Consent links: a tenant admin with no portal account grants through a shared link."""

import re
from datetime import timedelta

import requests
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConsentRequest
from tenants.models import AuditEvent


def _create_link(world, django_capture_on_commit_callbacks=None):
    response = world.client.post(reverse("connections:microsoft:link_create", args=[world.connection.pk]), follow=True)
    assert response.status_code == 200 and response.redirect_chain
    url = re.search(r'value="(http://testserver/consent/[^"]+/)"', response.content.decode()).group(1)
    return url.removeprefix("http://testserver")


def test_a_tenant_admin_grants_through_the_link_and_the_site_admin_is_told(world, django_capture_on_commit_callbacks):
    path = _create_link(world)
    request = ConsentRequest.objects.get()
    assert request.state == "sent" and len(request.token_hash) == 64
    assert path.split("/")[2] not in request.token_hash  # only the hash is kept

    stranger = Client()  # the tenant admin: no portal account
    page = stranger.get(path).content.decode()
    assert world.admin.email in page and "Acme" in page and "acme-jira" in page
    assert "User.Read.All" in page and "Email addresses are used for matching and not stored" in page
    # Application permissions: said up front who can grant them.
    assert "Global Administrator or Privileged Role Administrator</strong> of that tenant" in page
    request.refresh_from_db()
    assert request.state == "opened" and request.opened_at

    admin_upn, password = world.sandbox.tenants["contoso"].admin
    with django_capture_on_commit_callbacks(execute=True):
        start = stranger.post(path + "start/")
        done = world.walk(start, admin_upn, password, client=stranger)
    assert done.url == reverse("connections:microsoft:consent_done")
    result = stranger.get(done.url).content.decode()
    assert "permissions granted" in result and "User.Read.All" in result

    request.refresh_from_db()
    world.connection.refresh_from_db()
    assert request.state == "consented" and request.granted_by_upn.lower() == admin_upn.lower()
    assert world.connection.status == Connection.Status.ACTIVE
    assert mail.outbox[-1].to == [world.admin.email]
    assert "granted the permissions" in mail.outbox[-1].body
    assert AuditEvent.objects.filter(action="consent.link_opened", actor_type="external").exists()

    # Single use.
    again = stranger.get(path)
    assert again.status_code == 410 and "already used" in again.content.decode()


def test_a_declined_link_tells_the_site_admin_what_to_do(world, django_capture_on_commit_callbacks):
    path = _create_link(world)
    stranger = Client()
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    with django_capture_on_commit_callbacks(execute=True):
        world.walk(stranger.post(path + "start/"), admin_upn, password, client=stranger, consent="cancel")
    assert ConsentRequest.objects.get().state == "declined"
    assert "declined" in mail.outbox[-1].subject and "What to do" in mail.outbox[-1].body
    live = world.client.get(reverse("connections:connection_live", args=[world.connection.pk])).content.decode()
    assert 'data-consent-state="declined"' in live and "declined to grant" in live


def test_an_admin_of_another_tenant_is_refused(world):
    path = _create_link(world)
    stranger = Client()
    other_admin, password = world.sandbox.tenants["fabrikam"].admin
    final = world.walk(stranger.post(path + "start/"), other_admin, password, client=stranger)
    assert final.status_code == 403
    body = final.content.decode()
    assert "an account of another Microsoft 365 tenant" in body and "The link still works" in body
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    assert not world.connection.grants.filter(observed=True).exists()
    assert AuditEvent.objects.get(action="consent.failed").details["error_code"] == "wrong_tenant"

    # The right admin can still use the same link.
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    world.walk(stranger.post(path + "start/"), admin_upn, password, client=stranger, browser=requests.Session())
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE


def test_expired_revoked_and_unknown_links_say_so_and_who_to_ask(world):
    path = _create_link(world)
    request = ConsentRequest.objects.get()
    ConsentRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = Client().get(path)
    assert expired.status_code == 410 and "has expired" in expired.content.decode()
    assert world.admin.email in expired.content.decode()
    assert Client().post(path + "start/").status_code == 410

    path = _create_link(world)
    request = ConsentRequest.objects.filter(state="sent").first()  # the newest
    world.client.post(reverse("connections:microsoft:link_revoke", args=[request.pk]))
    revoked = Client().get(path)
    assert revoked.status_code == 410 and "withdrawn" in revoked.content.decode()

    unknown = Client().get("/consent/not-a-real-token/")
    assert unknown.status_code == 404 and "not valid" in unknown.content.decode()


def test_a_replayed_or_forged_callback_changes_nothing_and_is_audited(world):
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    start = world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk]))
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True)
    world.portal_get(back)  # the real callback: on to admin consent
    replay = world.portal_get(back)  # the same code and state again
    assert replay.status_code == 403

    forged = world.client.get(
        "/connect/microsoft/adminconsent/callback",
        {"admin_consent": "True", "tenant": world.sandbox.tenants["fabrikam"].id, "state": "made-up"},
    )
    assert forged.status_code == 403
    assert "did not match" in forged.content.decode()
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    assert AuditEvent.objects.filter(action="consent.callback_rejected").count() == 2


def test_a_callback_naming_another_tenant_is_not_believed(world):
    """Admin consent comes back with a valid state but a `tenant` other than the link's."""
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    start = world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk]))
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True)
    to_admin_consent = world.portal_get(back)
    state = re.search(r"state=([^&]+)", to_admin_consent.url).group(1)
    forged = world.client.get(
        "/connect/microsoft/adminconsent/callback",
        {"admin_consent": "True", "tenant": world.sandbox.tenants["fabrikam"].id, "state": state},
    )
    assert forged.status_code == 403
    assert not world.connection.grants.filter(kind="application", observed=True).exists()
    assert AuditEvent.objects.get(action="consent.callback_rejected").details["reason"] == "tenant mismatch"


def test_a_grant_revoked_in_the_tenant_shows_as_drift_and_re_consent_recovers(world):
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    world.walk(
        world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk])),
        admin_upn,
        password,
    )
    world.sandbox.revoke("contoso", "User.Read.All", delegated=False)
    world.client.post(reverse("connections:connection_verify", args=[world.connection.pk]))
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.DEGRADED
    page = world.client.get(reverse("connections:connection_detail", args=[world.connection.pk])).content.decode()
    assert "Needs re-consent" in page and "User.Read.All (application)" in page
    assert AuditEvent.objects.get(action="connection.verified").details["lost"] == ["User.Read.All"]

    world.walk(
        world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk])),
        admin_upn,
        password,
        browser=requests.Session(),
    )
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.ACTIVE


def test_adding_a_feature_asks_for_re_consent(world):
    site = world.connection.site
    site.products = ["jira", "jsm"]  # incident chats need a Jira Service Management site
    site.save(update_fields=["products"])
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    world.walk(
        world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk])),
        admin_upn,
        password,
    )
    response = world.client.post(
        reverse("connections:connection_features", args=[world.connection.pk]),
        {"features": ["user_mapping", "teams_notifications", "jsm_chatops"]},
        follow=True,
    )
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.DEGRADED
    assert "Chat.Create (delegated)" in response.content.decode()


def test_link_pages_are_rate_limited(world, settings):
    settings.CONSENT_LINK_RATE_LIMIT = 5
    stranger = Client(REMOTE_ADDR="198.51.100.7")
    statuses = [stranger.get(f"/consent/guess-{n}/").status_code for n in range(7)]
    assert statuses[:5] == [404] * 5 and statuses[5:] == [429, 429]


def test_a_link_withdrawn_while_the_admin_is_at_microsoft_records_nothing(world):
    path = _create_link(world)
    stranger = Client()
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    start = stranger.post(path + "start/")
    back = world.sandbox.sign_in(start.url, admin_upn, password, for_organization=True, session=requests.Session())
    # Meanwhile the site admin withdraws the link (or disconnects the connection).
    world.client.post(reverse("connections:microsoft:link_revoke", args=[ConsentRequest.objects.get().pk]))

    done = world.walk(world.portal_get(back, stranger), admin_upn, password, client=stranger)

    page = done.content.decode()
    assert done.status_code == 409
    assert "withdrawn" in page and "Nothing was recorded" in page and world.admin.email in page
    world.connection.refresh_from_db()
    assert world.connection.status == Connection.Status.PENDING_CONSENT
    assert not world.connection.credentials.exists()
    assert not world.connection.grants.filter(granted_at__isnull=False).exists()


def test_no_consent_is_asked_for_a_disconnected_connection(world):
    Connection.objects.filter(pk=world.connection.pk).update(status=Connection.Status.DISCONNECTED)

    response = world.client.post(reverse("connections:microsoft:link_create", args=[world.connection.pk]), follow=True)

    assert "This connection is disconnected: reconnect it first" in response.content.decode()
    assert not ConsentRequest.objects.exists()


def test_a_tenant_admin_can_consent_while_the_cache_is_down(world, settings, caplog):
    """The rate limit's counters live in the cache; when it is unreachable the link pages
    still work (fail open), and the warning logged carries no token."""
    path = _create_link(world)
    # A Redis cache where nothing listens: every call raises ConnectionError.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    stranger = Client()
    page = stranger.get(path)
    assert page.status_code == 200 and "acme-jira" in page.content.decode()
    start = stranger.post(path + "start/")
    assert start.status_code == 302

    admin_upn, password = world.sandbox.tenants["contoso"].admin
    done = world.walk(start, admin_upn, password, client=stranger)
    assert done.url == reverse("connections:microsoft:consent_done")
    assert ConsentRequest.objects.get().state == "consented"
    warnings = [r for r in caplog.records if r.name == "connections.ratelimit"]
    assert warnings and all(r.levelname == "WARNING" for r in warnings)
    token = path.split("/")[2]
    assert all(token not in r.getMessage() for r in warnings)


def test_a_member_who_is_not_an_admin_leaves_the_link_usable_and_can_sign_in_with_another_account(world):
    # Only features whose delegated scopes a member may consent to: then the portal's own admin
    # check refuses (Teams notifications' TeamsAppInstallation.ReadWriteSelfForTeam needs an admin,
    # so Microsoft's page would stop a member before the portal ever sees them).
    Connection.objects.filter(pk=world.connection.pk).update(features=["user_mapping"])
    path = _create_link(world)
    holder = Client()
    member, password = world.sandbox.tenants["contoso"].user
    refused = world.walk(holder.post(path + "start/"), member, password, client=holder)
    assert refused.status_code == 403
    assert "holds no role" in refused.content.decode() and "The link still works" in refused.content.decode()
    request = ConsentRequest.objects.get()
    assert request.is_usable and not request.granted_by_upn

    # "Sign in with another account", from that page: the admin of the tenant grants.
    again = holder.post(reverse("connections:microsoft:consent_retry"))
    assert again.status_code == 302 and "prompt=select_account" in again.url
    admin_upn, password = world.sandbox.tenants["contoso"].admin
    world.walk(again, admin_upn, password, client=holder, browser=requests.Session())
    request.refresh_from_db()
    world.connection.refresh_from_db()
    assert request.state == "consented" and request.granted_by_upn.lower() == admin_upn.lower()
    assert world.connection.status == Connection.Status.ACTIVE
    # The retry works once, and only in the browser that was refused.
    assert Client().post(reverse("connections:microsoft:consent_retry")).status_code == 410


def test_the_link_page_points_to_the_statement_of_its_connection_only(world):
    path = _create_link(world)
    token = path.split("/")[2]
    stranger = Client()  # the tenant admin, before granting: no portal account
    page = stranger.get(path).content.decode()
    href = re.search(r'href="(/data-statement/public/\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert token not in href and str(world.connection.pk) not in href.split("?")[1]
    statement_page = stranger.get(href)
    assert statement_page.status_code == 200
    keys = {f["key"] for f in statement_page.context["statement"]["features"]}
    assert keys == set(world.connection.features)
    others = {"confluence_search"} - set(world.connection.features)
    if others:  # a feature this connection does not have is not in its statement
        assert "ExternalItem.ReadWrite.OwnedBy" not in statement_page.content.decode()
