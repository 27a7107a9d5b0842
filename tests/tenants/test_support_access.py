"""Support opens an organization's pages only with a reason, for a limited time; its admins
see who looked, when and why."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditEvent, SupportAccess
from tests.factories import enrol_totp, sign_in

REASON = "The customer says the Teams directory sync fails since Monday."


def _staff_client(client, staff_user):
    sign_in(client, staff_user, enrol_totp(staff_user))
    return client


def _open(client, org, **data):
    return client.post(reverse("support:access_open", args=[org.pk]), {"ticket": "SUP-4711", "reason": REASON,
                                                                        **data})


def test_organization_pages_are_refused_without_a_reason(client, staff_user, acme):
    _staff_client(client, staff_user)
    for url in (
        reverse("support:organization_detail", args=[acme.organization.pk]),
        reverse("support:connection_detail", args=[acme.connection.pk]),
        reverse("support:audit_list") + f"?organization={acme.organization.pk}",
        reverse("support:audit_export") + f"?organization={acme.organization.pk}&format=csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(
            reverse("support:access_open", args=[acme.organization.pk])
        ), url
    assert not AuditEvent.objects.filter(action="support.viewed", organization=acme.organization).exists()

    # A ticket alone, or a reason too short to say anything, opens nothing.
    for data in ({"reason": ""}, {"ticket": ""}, {"reason": "because"}, {"ticket": "<script>"}):
        response = _open(client, acme.organization, **data)
        assert response.status_code == 200 and response.context["form"].errors
    assert not SupportAccess.objects.exists()
    # The cross-organization trail shows nothing of an organization without an access.
    listing = client.get(reverse("support:audit_list"))
    assert acme.organization not in {e.organization for e in listing.context["page"].object_list}


def test_a_reason_opens_the_pages_for_a_limited_time_and_each_look_names_the_access(client, staff_user, acme,
                                                                                    settings):
    settings.SUPPORT_ACCESS_MINUTES = 30
    _staff_client(client, staff_user)
    detail = reverse("support:organization_detail", args=[acme.organization.pk])
    asked = client.get(detail)
    form_page = client.get(asked.url)
    assert "Why do you need to look inside Acme" in form_page.content.decode()
    opened = client.post(asked.url, {"ticket": "SUP-4711", "reason": REASON, "next": detail})
    assert opened.status_code == 302 and opened.url == detail

    access = SupportAccess.objects.get()
    assert (access.staff, access.organization, access.ticket, access.reason) == (
        staff_user, acme.organization, "SUP-4711", REASON)
    assert timedelta(minutes=29) < access.expires_at - timezone.now() <= timedelta(minutes=30)
    assert AuditEvent.objects.get(action="support.access_opened").details["reason"] == REASON

    assert client.get(detail).status_code == 200
    assert client.get(reverse("support:connection_detail", args=[acme.connection.pk])).status_code == 200
    looks = AuditEvent.objects.filter(action="support.viewed", organization=acme.organization)
    assert looks.count() == 2 and {e.details["access"] for e in looks} == {access.pk}


def test_the_pages_are_refused_after_the_access_expires(client, staff_user, acme):
    _staff_client(client, staff_user)
    _open(client, acme.organization)
    detail = reverse("support:organization_detail", args=[acme.organization.pk])
    assert client.get(detail).status_code == 200
    SupportAccess.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(detail)
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Your access for SUP-4711 ended" in page
    assert AuditEvent.objects.filter(action="support.viewed", organization=acme.organization).count() == 1


def test_an_access_to_one_organization_opens_no_other(client, staff_user, acme, globex):
    _staff_client(client, staff_user)
    _open(client, acme.organization)
    response = client.get(reverse("support:organization_detail", args=[globex.organization.pk]))
    assert response.status_code == 302


def test_the_organizations_admins_see_which_support_person_looked_when_and_why(client, staff_user, acme, globex):
    _staff_client(client, staff_user)
    _open(client, acme.organization)
    client.get(reverse("support:organization_detail", args=[acme.organization.pk]))
    client.get(reverse("support:connection_detail", args=[acme.connection.pk]))
    _open(client, globex.organization, ticket="SUP-9999", reason="Globex asked about its consent link.")
    client.get(reverse("support:organization_detail", args=[globex.organization.pk]))

    client.force_login(acme.admin)
    page = client.get(reverse("tenants:audit_list"))
    visits = page.context["support_visits"]
    assert len(visits) == 1 and visits[0].access.staff == staff_user
    assert [look.target_label for look in visits[0].looks] == ["Acme", str(acme.connection)]
    html = page.content.decode()
    assert staff_user.email in html and "SUP-4711" in html and REASON in html
    assert "SUP-9999" not in html and "Globex asked" not in html  # another organization's access
    # A viewer does not see the audit page at all.
    client.force_login(acme.viewer)
    assert client.get(reverse("tenants:audit_list")).status_code == 403
