"""OAuth 2.0 (3LO) end to end through the sandbox: the admin grants at Atlassian, chooses the
site in the portal, and the portal records it and works with it through atlassian-python-api."""

from urllib.parse import parse_qs, urlsplit

from django.db import connection as db
from django.urls import reverse

from connections.atlassian import refresh
from connections.models import Credential
from tenants.models import AtlassianSite, AuditEvent
from tests.factories import SiteFactory


def test_the_admin_chooses_the_site_and_the_others_are_only_listed(world):
    first, second = world.site_names[:2]
    page, done = world.connect(sites=[first, second], choose=second, features=["teams_notifications"])
    body = page.content.decode()
    assert first in body and second in body
    assert "checked" not in body  # nothing chosen for the admin
    assert AtlassianSite.objects.filter(organization=world.organization).count() == 1
    site = AtlassianSite.objects.get(organization=world.organization)
    assert site.name == second and site.cloud_id and site.auth_mode == "oauth"
    assert site.auth_status == "authorized" and "jira" in site.products
    assert {"read:jira-work", "offline_access"} <= set(site.granted_scopes)
    assert site.account_id and site.authorized_by == world.admin
    assert done.url == reverse("tenants:site_detail", args=[site.pk])

    credential = Credential.objects.get(site=site, kind="atlassian_oauth")
    assert credential.refresh_token and credential.expires_at
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM connections_credential WHERE id = %s", [credential.pk])
        stored = " ".join(cursor.fetchone())
    assert credential.access_token not in stored and credential.refresh_token not in stored

    event = AuditEvent.objects.get(action="site.authorized")
    assert event.details["cloud_id"] == site.cloud_id and len(event.details["also_covered_not_added"]) == 1
    everything = str(list(AuditEvent.objects.values_list("details", flat=True)))
    assert credential.access_token not in everything and credential.refresh_token not in everything

    page = world.client.get(done.url).content.decode()
    assert "Re-authentication required" not in page and "✓ granted" in page
    assert f"The authorization also covers {first}: not added." in page
    assert credential.access_token not in page and credential.refresh_token not in page


def test_clients_work_with_a_fresh_token(world):
    first = world.site_names[0]
    world.connect(sites=[first], choose=first, features=["teams_notifications", "confluence_search"])
    site = AtlassianSite.objects.get(organization=world.organization)
    projects = refresh.jira_for(site).get("rest/api/3/project/search", params={"maxResults": 5})["values"]
    assert projects and all(p["key"] for p in projects)
    spaces = refresh.confluence_for(site).get_spaces(limit=5)
    assert spaces and all(s["key"] for s in spaces)


def test_a_reused_code_is_refused_and_saves_nothing(world):
    first = world.site_names[0]
    back = world.authorize(world.start(), sites=[first])
    assert world.back_to_portal(back).status_code == 302
    code = parse_qs(urlsplit(back).query)["code"][0]
    state = parse_qs(urlsplit(world.start()).query)["state"][0]
    response = world.client.get(reverse("connections:atlassian:callback"), {"code": code, "state": state})
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()
    assert AuditEvent.objects.filter(action="site.authorization_failed", details__reason="code_rejected").exists()


def test_declining_at_atlassian(world):
    back = world.authorize(world.start(), decision="cancel")
    assert "error=access_denied" in back
    response = world.back_to_portal(back)
    assert response.status_code == 400 and "Authorization declined" in response.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()


def test_reauthorizing_with_a_grant_for_another_site_changes_nothing(world):
    first, second = world.site_names[:2]
    site = SiteFactory(organization=world.organization, name=first, url=world.site_url(first))
    start = world.client.post(reverse("connections:atlassian:reauthorize", args=[site.pk]))
    response = world.back_to_portal(world.authorize(start.url, sites=[second]))
    assert response.status_code == 400
    body = response.content.decode()
    assert "does not cover this site" in body and site.url in body
    site.refresh_from_db()
    assert site.auth_mode == "" and not site.cloud_id and not site.credentials.exists()
    assert AuditEvent.objects.filter(action="site.authorization_failed", details__reason="site_not_covered").exists()


def test_a_choice_outside_the_grant_is_refused(world):
    first = world.site_names[0]
    back = world.authorize(world.start(), sites=[first])
    response = world.back_to_portal(back)
    pending = parse_qs(urlsplit(response.url).query)["pending"][0]
    forged = world.client.post(reverse("connections:atlassian:choose"), {"pending": pending, "cloud_id": "other"})
    assert forged.status_code == 400 and "does not cover that site" in forged.content.decode()
    assert not AtlassianSite.objects.filter(organization=world.organization).exists()


def test_scope_drift_asks_for_reauthentication_and_reauthorizing_clears_it(world):
    from connections.models import PermissionGrant
    from tests.factories import ConnectionFactory, TenantFactory

    first = world.site_names[0]
    world.connect(sites=[first], choose=first, features=["teams_notifications"])
    site = AtlassianSite.objects.get(organization=world.organization)
    # Later, a connection of this site wants Confluence in Microsoft Search: the catalog
    # now requires the granular Confluence scopes the first grant never held.
    connection = ConnectionFactory(
        organization=world.organization,
        site=site,
        tenant=TenantFactory(organization=world.organization),
        features=["confluence_search"],
    )
    page = world.client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" in page and "read:page:confluence" in page
    assert "(for Confluence in Microsoft Search)" in page

    start = world.client.post(reverse("connections:atlassian:reauthorize", args=[site.pk]))
    assert "read%3Apage%3Aconfluence" in start.url
    back = world.back_to_portal(world.authorize(start.url, sites=[first]))
    assert back.status_code == 302
    page = world.client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" not in page
    grant = PermissionGrant.objects.get(connection=connection, provider="atlassian", name="read:page:confluence")
    assert grant.granted_at and grant.observed
    messages = world.client.post(reverse("connections:atlassian:check", args=[site.pk]), follow=True)
    assert "Jira answered" in messages.content.decode()


def test_a_jira_service_management_site_is_saved_as_such_and_a_jira_site_is_not(world):
    world.connect(sites=["acme-support"], choose="acme-support", features=["jsm_chatops"])
    support = AtlassianSite.objects.get(organization=world.organization, name="acme-support")
    assert support.products == ["jira", "jsm"]
    world.connect(sites=["acme"], choose="acme", features=["teams_notifications"])
    plain = AtlassianSite.objects.get(organization=world.organization, name="acme")
    assert "jira" in plain.products and "jsm" not in plain.products
    # The question was asked of the site, under its declaration.
    calls = [r for r in world.sandbox.requests(path_contains="/rest/servicedeskapi/info")]
    assert len(calls) == 2
