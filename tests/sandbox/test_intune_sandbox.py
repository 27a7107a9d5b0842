"""The sandbox's Intune app protection policies, Atlassian's mobile apps in Entra, and the
Atlassian Organizations API, driven over real HTTPS with msal and requests."""

import pytest

from sandbox.microsoft import atlassian_apps

JIRA = atlassian_apps.JIRA_CLOUD


def _token(sandbox, tenant):
    result = sandbox.msal_app(tenant).acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    return result["access_token"]


@pytest.fixture
def contoso(sandbox):
    sandbox.grant_admin_consent("contoso")
    session = sandbox.http()
    session.headers["Authorization"] = f"Bearer {_token(sandbox, 'contoso')}"
    return session


def _ios(sandbox):
    return f"{sandbox.graph_url}/v1.0/deviceAppManagement/iosManagedAppProtections"


def test_a_policy_is_created_targeted_assigned_updated_and_deleted(sandbox, contoso):
    created = contoso.post(_ios(sandbox), json={
        "@odata.type": "#microsoft.graph.iosManagedAppProtection", "displayName": "Jira on phones",
        "pinRequired": True, "minimumPinLength": 6, "periodOfflineBeforeWipeIsEnforced": "P30D",
        "allowedOutboundClipboardSharingLevel": "managedAppsWithPasteIn"})
    assert created.status_code == 201, created.text
    policy_id = created.json()["id"]
    target = contoso.post(f"{_ios(sandbox)}/{policy_id}/targetApps", json={"appGroupType": "selectedPublicApps",
                                                                            "apps": [
        {"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier",
                                 "bundleId": "com.atlassian.jira.app"}}]})
    assert target.status_code == 204, target.text
    group = "8d3b2a5e-0000-4000-8000-000000000001"
    assigned = contoso.post(f"{_ios(sandbox)}('{policy_id}')/assign", json={"assignments": [
        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}}]})
    assert assigned.status_code == 204, assigned.text
    patched = contoso.patch(f"{_ios(sandbox)}/{policy_id}", json={"printBlocked": True})
    assert patched.status_code == 200 and patched.json()["printBlocked"] is True
    (policy,) = sandbox.app_protections("contoso")
    assert policy.apps == [
        {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.atlassian.jira.app"}]
    assert policy.assignments[0]["groupId"] == group and policy.settings["minimumPinLength"] == 6
    assert contoso.delete(f"{_ios(sandbox)}/{policy_id}").status_code == 204
    assert sandbox.app_protections("contoso") == []


def test_graph_refuses_what_it_refuses(sandbox, contoso):
    unknown = contoso.post(_ios(sandbox), json={"displayName": "x", "connectToVpnOnLaunch": True})
    assert unknown.status_code == 400 and "does not exist on type" in unknown.json()["error"]["message"]
    assert contoso.post(_ios(sandbox), json={"displayName": "x", "pinCharacterSet": "emoji"}).status_code == 400
    assert contoso.post(_ios(sandbox), json={"displayName": "x", "periodOfflineBeforeWipeIsEnforced": "30 days"}
                        ).status_code == 400
    assert contoso.post(_ios(sandbox), json={"pinRequired": True}).status_code == 400
    policy_id = contoso.post(_ios(sandbox), json={"displayName": "ok"}).json()["id"]
    wrong_platform = contoso.post(f"{_ios(sandbox)}/{policy_id}/targetApps", json={"apps": [
        {"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.androidMobileAppIdentifier", "packageId": "x"}}]})
    assert wrong_platform.status_code == 400


def test_an_unlicensed_tenant_and_a_token_without_the_permission_are_refused(sandbox, contoso):
    sandbox.set_intune_licensed("contoso", False)
    refused = contoso.get(_ios(sandbox))
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Request not applicable to target tenant."
    sandbox.set_intune_licensed("contoso", True)
    sandbox.revoke("contoso", "DeviceManagementApps.ReadWrite.All", delegated=False)
    session = sandbox.http()
    session.headers["Authorization"] = f"Bearer {_token(sandbox, 'contoso')}"
    assert session.post(_ios(sandbox), json={"displayName": "x"}).status_code == 403


def test_atlassian_apps_appear_on_first_sign_in_and_admin_consent_makes_a_tenant_wide_grant(sandbox, contoso):
    graph = sandbox.graph_url + "/v1.0"
    found = contoso.get(f"{graph}/servicePrincipals", params={"$filter": f"appId eq '{JIRA}'"}).json()["value"]
    assert found == []
    sp = sandbox.mobile_sign_in("contoso", JIRA)
    grants = contoso.get(f"{graph}/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp.pk}'"}).json()
    assert [g["consentType"] for g in grants["value"]] == ["Principal"]
    admin, password = sandbox.tenants["contoso"].admin
    url = f"{sandbox.browser_origin}/{sandbox.tenants['contoso'].id}/adminconsent?client_id={JIRA}"
    landing = sandbox.sign_in(url, admin, password)
    assert landing.startswith(sandbox.browser_origin + atlassian_apps.REPLY_PATH), landing
    grants = contoso.get(f"{graph}/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp.pk}'"}).json()
    assert sorted(g["consentType"] for g in grants["value"]) == ["AllPrincipals", "Principal"]


def test_discovery_of_an_unverified_domain_fails_like_an_unknown_one(sandbox):
    session = sandbox.http()
    assert session.get(f"{sandbox.origin}/contoso.com/v2.0/.well-known/openid-configuration").status_code == 200
    for domain in ("contoso-legacy.com", "acme.example"):
        answer = session.get(f"{sandbox.origin}/{domain}/v2.0/.well-known/openid-configuration")
        assert answer.status_code == 400 and "AADSTS90002" in answer.json()["error_description"]


def test_the_organizations_api_pages_domains_by_cursor_and_refuses_an_expired_key(sandbox):
    org = sandbox.atlassian_organization()
    session = sandbox.http()
    session.headers["Authorization"] = f"Bearer {org['api_key']}"
    url = f"{sandbox.atlassian_api_url}/admin/v1/orgs/{org['id']}/domains"
    names = []
    while url:
        page = session.get(url)
        assert page.status_code == 200 and int(page.headers["X-RateLimit-Remaining"]) >= 0
        names += [d["attributes"]["name"] for d in page.json()["data"]]
        url = page.json()["links"]["next"]
    assert names == [d["name"] for d in org["domains"]] and len(names) > 2
    assert session.get(f"{sandbox.atlassian_api_url}/admin/v1/orgs/not-this-one/domains").status_code == 404
    sandbox.expire_organization_keys(org["id"])
    assert session.get(f"{sandbox.atlassian_api_url}/admin/v1/orgs").status_code == 401
