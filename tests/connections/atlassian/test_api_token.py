"""API token mode through the sandbox: checked with real calls before anything is saved."""

import pytest
from django.urls import reverse

from connections.atlassian import refresh
from connections.models import Credential
from tenants.models import AtlassianSite, AuditEvent


def _token_user(world):
    for user in world.sandbox.atlassian.get("users", []):
        if user.get("api_token"):
            return user
    pytest.skip("the sandbox lists no user with an API token")


def _site_url(world, name):
    return world.site_url(name)


def _post(world, url, email, token):
    return world.client.post(
        reverse("connections:atlassian:api_token_new"), {"url": url, "email": email, "api_token": token}
    )


def test_a_working_api_token_connects_the_site(world):
    user = _token_user(world)
    name = user.get("sites", world.site_names)[0]
    response = _post(world, _site_url(world, name), user["email"], user["api_token"])
    assert response.status_code == 302, response.content.decode()[:3000]
    site = AtlassianSite.objects.get(organization=world.organization)
    assert site.auth_mode == "api_token" and site.auth_status == "authorized" and site.products
    credential = Credential.objects.get(site=site)
    assert credential.kind == "atlassian_api_token" and credential.access_token == user["api_token"]
    assert user["api_token"] not in str(list(AuditEvent.objects.values_list("details", flat=True)))
    page = world.client.get(response.url).content.decode()
    assert user["api_token"] not in page and "API token" in page
    client = refresh.jira_for(site) if "jira" in site.products else refresh.confluence_for(site)
    assert client is not None


def test_a_wrong_api_token_is_refused_and_nothing_is_saved(world):
    user = _token_user(world)
    name = user.get("sites", world.site_names)[0]
    response = _post(world, _site_url(world, name), user["email"], "not-the-token")
    assert response.status_code == 200
    assert "did not accept this email and API token" in response.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()
    event = AuditEvent.objects.get(action="site.authorization_failed")
    assert event.details["reason"] == "rejected" and "not-the-token" not in str(event.details)


def test_an_api_token_for_another_site_is_refused(world):
    candidates = [
        (u, [n for n in world.site_names if n not in (u.get("sites") or world.site_names)])
        for u in world.sandbox.atlassian.get("users", [])
        if u.get("api_token") and u.get("active", True)
    ]
    user, others = next(((u, o) for u, o in candidates if o), (None, None))
    if user is None:
        pytest.skip("every sandbox site accepts every API token")
    response = _post(world, _site_url(world, others[0]), user["email"], user["api_token"])
    assert response.status_code == 200
    assert "did not accept this email and API token" in response.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()


def test_no_site_at_the_address(world):
    user = _token_user(world)
    response = _post(world, _site_url(world, "no-such-site"), user["email"], user["api_token"])
    assert response.status_code == 200
    assert "There is no Jira or Confluence at" in response.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()


def test_the_connection_check_works_with_an_api_token(world):
    user = _token_user(world)
    name = user.get("sites", world.site_names)[0]
    response = _post(world, _site_url(world, name), user["email"], user["api_token"])
    site = AtlassianSite.objects.get(organization=world.organization)
    checked = world.client.post(reverse("connections:atlassian:check", args=[site.pk]), follow=True)
    assert "answered" in checked.content.decode() and response.status_code == 302
