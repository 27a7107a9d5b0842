"""Every Atlassian request of an API-token connect is a declared endpoint."""

from django.urls import reverse

from tenants.models import AtlassianSite

from ..declared import atlassian_calls, undeclared_atlassian


def test_every_atlassian_request_of_an_api_token_connect_is_declared(world):
    ada = world.sandbox.atlassian["admin"]
    response = world.client.post(
        reverse("connections:atlassian:api_token_new"),
        {"url": world.site_url(world.site_names[0]), "email": ada["email"], "api_token": ada["api_token"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AtlassianSite.objects.get(organization=world.organization).auth_mode == "api_token"
    calls = list(atlassian_calls())
    assert any(path.startswith("/rest/") or path.startswith("/wiki/") for _, path, _ in calls), calls
    undeclared, extra_fields = undeclared_atlassian(calls)
    assert not undeclared, f"requests no endpoint declares: {undeclared}"
    assert not extra_fields, f"fields asked for but not declared: {extra_fields}"


