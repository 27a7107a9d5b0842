"""Finding a tenant by signing in with Microsoft (no GUID to type), and its verified domains read
after consent, both as the signed-in user with delegated User.Read (GET /organization): no
permission beyond what every connection already asks for."""

from django.urls import reverse

from tenants.models import AuditEvent, MicrosoftTenant


def test_a_microsoft_sign_in_finds_the_tenant_and_fills_in_the_form(world):
    contoso = world.sandbox.tenants["contoso"]
    start = world.client.post(reverse("connections:microsoft:tenant_find"))
    assert start.status_code == 302
    back = world.sandbox.sign_in(start.url, *contoso.user, consent="accept")
    found = world.portal_get(back)
    assert found.status_code == 302 and found.url == reverse("tenants:tenant_new")
    page = world.client.get(found.url).content.decode()
    assert "data-found-tenant" in page and contoso.id in page and contoso.name in page
    assert f'value="{contoso.id}"' in page and f'value="{contoso.name}"' in page

    form = {"tenant_id": contoso.id, "display_name": contoso.name, "cloud": "public",
            "domains": f"{contoso.domain}, old.example"}
    MicrosoftTenant.objects.filter(tenant_id=contoso.id).delete()
    done = world.client.post(reverse("tenants:tenant_new"), form)
    assert done.status_code == 302
    tenant = MicrosoftTenant.objects.get(organization=world.connection.organization, tenant_id=contoso.id)
    verified = {d["name"]: d["verified"] for d in tenant.domains}
    assert verified[contoso.domain] is True and verified["old.example"] is False
    # Only User.Read was asked for, and nothing was granted or stored for a connection.
    assert "User.Read" in start.url and "Directory" not in start.url
    assert not world.connection.credentials.exists()


def test_after_consent_the_tenants_verified_domains_are_read_and_shown(world):
    contoso = world.sandbox.tenants["contoso"]
    tenant = world.connection.tenant
    tenant.domains = [{"name": "typed-by-hand.example", "verified": False}]
    tenant.save()
    start = world.client.post(reverse("connections:microsoft:give_permission", args=[world.connection.pk]))
    world.walk(start, *contoso.admin)
    tenant.refresh_from_db()
    verified = {d["name"]: d["verified"] for d in tenant.domains}
    assert verified.get(contoso.domain) is True and verified["typed-by-hand.example"] is False
    event = AuditEvent.objects.get(action="tenant.domains_read")
    assert contoso.domain in event.details["verified"]["to"] and event.actor_type == "external"
    page = world.client.get(reverse("tenants:tenant_detail", args=[tenant.pk])).content.decode()
    assert f"{contoso.domain} ✓ verified" in page
    # Read with the admin's delegated token, under the declared endpoint.
    calls = world.sandbox.requests(path_contains="/v1.0/organization")
    assert calls
