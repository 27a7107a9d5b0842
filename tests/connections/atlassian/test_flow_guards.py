"""The OAuth flow's guards that need no Atlassian: what the portal asks for, state checks,
declines, who may start, and that none of these leaves a site behind."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from connections.atlassian import needs, oauth
from tenants.models import AtlassianSite, AuditEvent
from tests.factories import SiteFactory


def _start(client, features):
    return client.post(reverse("connections:atlassian:connect"), {"features": features})


def test_start_asks_for_exactly_the_features_scopes_with_consent_prompt(admin_client, settings):
    response = _start(admin_client, ["teams_notifications"])
    assert response.status_code == 302
    url = urlsplit(response.url)
    assert response.url.startswith(settings.ATLASSIAN_AUTH_URL + "/authorize?")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["audience"] == "api.atlassian.com"
    assert query["prompt"] == "consent" and query["response_type"] == "code"
    assert query["client_id"] == settings.ATLASSIAN_CLIENT_ID
    assert query["redirect_uri"] == settings.SITE_URL + "/connect/atlassian/callback"
    assert query["scope"].split() == ["manage:jira-webhook", "read:jira-work", "read:me", "read:space:confluence",
                                      "search:confluence",
                                      "offline_access"]
    flows = admin_client.session[oauth.SESSION_FLOWS]
    assert list(flows) == [query["state"]] and len(query["state"]) >= 40
    assert AuditEvent.objects.filter(action="site.authorization_started").count() == 1


def test_confluence_search_asks_for_the_granular_confluence_scopes(admin_client):
    response = _start(admin_client, ["confluence_search"])
    scopes = parse_qs(urlsplit(response.url).query)["scope"][0].split()
    assert "read:page:confluence" in scopes and "read:permission:confluence" in scopes
    assert "search:confluence" in scopes and scopes[-1] == "offline_access"
    assert "read:jira-work" not in scopes


def test_a_callback_with_a_state_this_browser_did_not_start_is_refused(admin_client, acme):
    _start(admin_client, ["teams_notifications"])
    sites = AtlassianSite.objects.count()
    response = admin_client.get(reverse("connections:atlassian:callback"), {"code": "x", "state": "forged"})
    assert response.status_code == 403
    assert "does not belong to an authorization started in this browser" in response.content.decode()
    assert AtlassianSite.objects.count() == sites
    event = AuditEvent.objects.get(action="site.callback_rejected")
    assert event.organization == acme.organization and event.details["reason"] == "state_mismatch"


@pytest.mark.parametrize(
    "params",
    [
        {"code": "x", "state": "forged\x00"},
        {"code": "an-auth\x00-code", "state": "forged"},
        {"code": "x", "state": "s" * 5000},
    ],
)
def test_a_callback_with_control_characters_or_an_overlong_state_is_refused_and_audited(admin_client, acme, params):
    state = parse_qs(urlsplit(_start(admin_client, ["teams_notifications"]).url).query)["state"][0]
    if params["state"] == "forged":
        params = {**params, "state": state}  # even with the right state, a NUL in the code is not believed
    response = admin_client.get(reverse("connections:atlassian:callback"), params)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="site.callback_rejected")
    assert event.details["reason"] == "malformed"
    assert state not in str(event.details) and "an-auth" not in str(event.details)


def test_a_forged_callback_with_a_nul_in_its_error_is_refused_and_audited(admin_client, acme):
    response = admin_client.get(
        reverse("connections:atlassian:callback"), {"error": "access_denied\x00" * 20, "state": "forged"}
    )
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="site.callback_rejected")
    assert event.details == {"reason": "state_mismatch", "error": ("access_denied" * 20)[:64]}


def test_an_overlong_error_with_nul_bytes_from_atlassian_is_said_and_audited(admin_client):
    state = parse_qs(urlsplit(_start(admin_client, ["user_mapping"]).url).query)["state"][0]
    response = admin_client.get(
        reverse("connections:atlassian:callback"),
        {"error": "server_error\x00" * 100, "error_description": "\x00broken" * 1000, "state": state},
    )
    assert response.status_code == 400
    assert "Atlassian did not authorize the portal" in response.content.decode()
    event = AuditEvent.objects.get(action="site.authorization_failed")
    assert event.details["reason"] == ("server_error" * 100)[:64]
    assert event.details["error_description"] == ("broken" * 1000)[:300]


def test_a_state_is_good_for_one_callback_only(admin_client):
    state = parse_qs(urlsplit(_start(admin_client, ["user_mapping"]).url).query)["state"][0]
    first = admin_client.get(reverse("connections:atlassian:callback"), {"error": "access_denied", "state": state})
    assert first.status_code == 400
    again = admin_client.get(reverse("connections:atlassian:callback"), {"error": "access_denied", "state": state})
    assert again.status_code == 403


def test_declining_at_atlassian_says_so_and_saves_nothing(admin_client):
    state = parse_qs(urlsplit(_start(admin_client, ["user_mapping"]).url).query)["state"][0]
    sites = AtlassianSite.objects.count()
    response = admin_client.get(
        reverse("connections:atlassian:callback"), {"error": "access_denied", "state": state}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Authorization declined" in body and "Nothing was saved" in body
    assert AtlassianSite.objects.count() == sites
    assert AuditEvent.objects.filter(action="site.authorization_declined").exists()


def test_viewers_cannot_connect_or_reauthorize(viewer_client, acme):
    assert viewer_client.get(reverse("connections:atlassian:connect")).status_code == 403
    assert viewer_client.post(reverse("connections:atlassian:reauthorize", args=[acme.site.pk])).status_code == 403
    assert viewer_client.get(reverse("connections:atlassian:api_token_new")).status_code == 403


@pytest.mark.parametrize("name", ["reauthorize", "site_api_token", "check"])
def test_another_organizations_site_is_not_found(admin_client, globex, name):
    response = admin_client.post(reverse(f"connections:atlassian:{name}", args=[globex.site.pk]))
    assert response.status_code == 404


def test_reauthorize_asks_for_what_the_sites_connections_need(admin_client, acme):
    acme.connection.features = ["confluence_search"]
    acme.connection.save()
    response = admin_client.post(reverse("connections:atlassian:reauthorize", args=[acme.site.pk]))
    scopes = parse_qs(urlsplit(response.url).query)["scope"][0].split()
    assert scopes == needs.scopes_for(["confluence_search"])
    flow = next(iter(admin_client.session[oauth.SESSION_FLOWS].values()))
    assert flow["site"] == acme.site.pk


def test_an_old_or_used_site_choice_is_refused(admin_client):
    response = admin_client.get(reverse("connections:atlassian:choose"), {"pending": "nothing-here"})
    assert response.status_code == 410
    assert "Start the connection again" in response.content.decode()
    assert AuditEvent.objects.filter(action="site.authorization_failed", details__reason="choice_expired").exists()


def test_the_site_page_shows_scope_drift_with_the_reason(admin_client, acme):
    site = acme.site
    site.auth_mode, site.auth_status = "oauth", "authorized"
    site.features = ["teams_notifications"]
    site.granted_scopes = needs.scopes_for(["teams_notifications"])
    site.save()
    page = admin_client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" not in page and "✓ granted" in page

    # A connection now wants Confluence in Microsoft Search: the old grant no longer covers it.
    acme.connection.features = ["confluence_search"]
    acme.connection.save()
    missing = {m.name: m for m in needs.missing_scopes(site)}
    assert "read:page:confluence" in missing and "read:permission:confluence" in missing
    assert missing["read:permission:confluence"].features == ("Confluence in Microsoft Search",)
    page = admin_client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" in page and "read:permission:confluence" in page
    assert "So search results respect who may see each page." in page
    assert "Re-authorize with Atlassian" in page


def test_a_dead_grant_shows_needs_reauthorization_with_a_button(admin_client, acme):
    site = SiteFactory(organization=acme.organization, auth_mode="oauth", auth_status="needs_reauth",
                       auth_error="Atlassian no longer accepts the portal's authorization.")
    page = admin_client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert 'data-auth-status="needs_reauth"' in page and "Needs re-authorization" in page
    assert reverse("connections:atlassian:reauthorize", args=[site.pk]) in page


def test_registering_offers_oauth_first_then_api_token(admin_client):
    page = admin_client.get(reverse("tenants:site_new")).content.decode()
    assert page.index("Connect with OAuth (recommended)") < page.index("API token")


def test_an_api_token_is_never_shown_back(admin_client):
    response = admin_client.post(
        reverse("connections:atlassian:api_token_new"),
        {"url": "not a site", "email": "ada@example.com", "api_token": "secret-token-value"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "is not an Atlassian Cloud site address" in body and "secret-token-value" not in body


def test_a_site_never_authorized_has_no_token_to_give(acme):
    from connections.atlassian import refresh

    with pytest.raises(refresh.NotAuthorized):
        refresh.access_token(acme.site)
    with pytest.raises(refresh.NotAuthorized):
        refresh.jira_for(acme.site)
