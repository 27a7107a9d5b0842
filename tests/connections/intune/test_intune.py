"""Intune app protection for Atlassian's mobile apps, against the sandbox over real HTTPS:
domains → tenants, the apps' consent, policies in Intune, an unlicensed tenant, an expired
organization key, and who may change what."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connections.intune import selectors, services
from connections.models import (
    AppConsentLink,
    AtlassianAppConsent,
    AtlassianOrganization,
    MobileAppPolicy,
    OrganizationDomain,
    PolicyDeployment,
    TenantState,
)
from sandbox.microsoft import atlassian_apps
from tenants.models import AuditEvent

from .conftest import register

JIRA, CONFLUENCE = atlassian_apps.JIRA_CLOUD, atlassian_apps.CONFLUENCE_CLOUD

POLICY_FORM = {
    "name": "Phones", "apps": ["jira", "confluence"], "platforms": ["ios", "android"], "pin_required": "on",
    "minimum_pin_length": "6", "pin_character_set": "numeric", "maximum_pin_retries": "5", "inbound": "managedApps",
    "outbound": "managedApps", "clipboard": "managedAppsWithPasteIn", "data_backup_blocked": "on",
    "save_as_blocked": "on", "print_blocked": "on", "offline_wipe_days": "30", "offline_grace_minutes": "720",
    "minimum_os_version": "16.0", "minimum_app_version": "",
}


def _state(atl_org, tenant, app):
    return AtlassianAppConsent.objects.get(atlassian_organization=atl_org, tenant_id=tenant, app=app).state


def _check(intune, atl_org):
    return services.organization_check(atl_org=atl_org, acting_user=intune.admin)


def test_verified_domains_are_grouped_by_their_tenant_and_the_others_said_plainly(intune):
    response = intune.admin_client.post(reverse("connections:intune_org_new"), {
        "name": "Acme", "org_id": intune.org["id"], "api_key": intune.org["api_key"],
        "key_expires_on": (timezone.now() + timedelta(days=200)).date().isoformat()})
    assert response.status_code == 302, response.content.decode()[:2000]
    atl_org = AtlassianOrganization.objects.get(organization=intune.organization)
    domains = {d.name: d for d in atl_org.domains.all()}
    # Read through the cursor: more domains than one page holds.
    assert set(domains) == {"contoso.com", "acme.example", "fabrikam.com", "fabrikam.de", "acme-new.example"}
    contoso, fabrikam = intune.sandbox.tenants["contoso"].id, intune.sandbox.tenants["fabrikam"].id
    assert domains["contoso.com"].tenant_id == contoso
    assert domains["fabrikam.com"].tenant_id == domains["fabrikam.de"].tenant_id == fabrikam
    assert domains["acme.example"].resolution == OrganizationDomain.Resolution.UNKNOWN
    assert domains["acme-new.example"].claim_status == "unverified"
    assert domains["acme-new.example"].resolution == OrganizationDomain.Resolution.NOT_CHECKED
    groups = {g.tenant_id: g.domains for g in selectors.tenant_groups(atl_org)}
    assert groups == {contoso: ["contoso.com"], fabrikam: ["fabrikam.com", "fabrikam.de"]}
    page = intune.admin_client.get(response.url).content.decode()
    assert "One consent covers these domains: fabrikam.com, fabrikam.de." in page
    assert "No Microsoft tenant has verified this domain" in page
    assert "not looked up: unverified in Atlassian" in page
    # The key is neither on the page nor in the audit trail.
    assert intune.org["api_key"] not in page
    details = " ".join(str(e.details) for e in AuditEvent.objects.filter(organization=intune.organization))
    assert intune.org["api_key"] not in details
    assert AtlassianOrganization.objects.get(pk=atl_org.pk)._api_key != intune.org["api_key"]


def test_consent_goes_through_all_three_states_and_back(intune):
    atl_org = register(intune)
    contoso, sandbox = intune.sandbox.tenants["contoso"].id, intune.sandbox
    assert _state(atl_org, contoso, "jira") == AtlassianAppConsent.State.NOT_IN_ENTRA
    sandbox.mobile_sign_in("contoso", JIRA)
    _check(intune, atl_org)
    assert _state(atl_org, contoso, "jira") == AtlassianAppConsent.State.NO_TENANT_CONSENT
    # A consent link for Contoso's admin: opened, then on to Microsoft's admin consent for Jira Cloud.
    made = intune.admin_client.post(reverse("connections:intune_consent_link_new", args=[atl_org.pk]),
                                    {"tenant_id": contoso, "app": "jira"})
    assert made.status_code == 302
    link = AppConsentLink.objects.get(atlassian_organization=atl_org)
    page = intune.admin_client.get(reverse("connections:intune_org_detail", args=[atl_org.pk])).content.decode()
    url = re.search(r'class="intune-consent-link" type="text" readonly value="([^"]+)"', page).group(1)
    tenant_admin = Client()  # the tenant's admin is not signed in to the portal
    path = urlsplit(url).path
    opened = tenant_admin.get(path)
    assert opened.status_code == 200 and "Jira Cloud by Atlassian" in opened.content.decode()
    link.refresh_from_db()
    assert link.state == AppConsentLink.State.OPENED
    onward = tenant_admin.post(path)
    assert onward.status_code == 302 and f"client_id={JIRA}" in onward.url
    landing = sandbox.sign_in(onward.url, *sandbox.tenants["contoso"].admin)
    assert landing.startswith(sandbox.browser_origin + atlassian_apps.REPLY_PATH)
    assert tenant_admin.post(path).status_code == 410  # single use
    _check(intune, atl_org)
    assert _state(atl_org, contoso, "jira") == AtlassianAppConsent.State.CONSENTED
    # And back: the grant revoked in Entra, then the app deleted.
    sandbox.revoke_tenant_consent("contoso", JIRA)
    _check(intune, atl_org)
    assert _state(atl_org, contoso, "jira") == AtlassianAppConsent.State.NO_TENANT_CONSENT
    sandbox.remove_enterprise_app("contoso", JIRA)
    _check(intune, atl_org)
    assert _state(atl_org, contoso, "jira") == AtlassianAppConsent.State.NOT_IN_ENTRA
    actions = set(AuditEvent.objects.filter(organization=intune.organization).values_list("action", flat=True))
    assert {"intune.consent_link_created", "intune.consent_link_opened", "intune.consent_link_used"} <= actions
    assert link.token not in " ".join(str(e.details) for e in AuditEvent.objects.filter(
        organization=intune.organization))


def test_a_policy_is_created_assigned_edited_and_deleted_in_each_tenant(intune):
    atl_org = register(intune)
    client, sandbox = intune.admin_client, intune.sandbox
    created = client.post(reverse("connections:intune_policy_new", args=[atl_org.pk]), POLICY_FORM)
    assert created.status_code == 302, created.content.decode()[:3000]
    policy = MobileAppPolicy.objects.get(atlassian_organization=atl_org)
    for tenant in ("contoso", "fabrikam"):
        ios, android = sorted(sandbox.app_protections(tenant), key=lambda p: p.platform != "ios")
        assert (ios.platform, android.platform) == ("ios", "android")
        assert {a["bundleId"] for a in ios.apps} == {"com.atlassian.jira.app", "com.atlassian.confluence.app"}
        assert {a["packageId"] for a in android.apps} == {"com.atlassian.android.jira.core",
                                                          "com.atlassian.android.confluence.core"}
        assert ios.settings["pinRequired"] is True and ios.settings["minimumPinLength"] == 6
        assert ios.settings["periodOfflineBeforeWipeIsEnforced"] == "P30D" and ios.settings["printBlocked"] is True
        assert ios.settings["minimumRequiredOsVersion"] == "16.0"
        assert "connectToVpnOnLaunch" not in android.settings  # never offered: Atlassian's apps do not support it
    # Assign in Contoso to one of its groups.
    page = client.get(created.url).content.decode()
    contoso_id = sandbox.tenants["contoso"].id
    group = sandbox.tenant("contoso").teams.order_by("display_name").first()
    assert group.display_name in page
    prefix = re.search(r'name="(t\d+)-groups" value="' + str(group.pk), page).group(1)
    assigned = client.post(created.url, {"tenant_id": contoso_id, f"{prefix}-groups": [str(group.pk)]})
    assert assigned.status_code == 302
    for p in sandbox.app_protections("contoso"):
        assert p.assignments == [{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": str(group.pk)}]
    # Another tenant's group is refused with a form error, nothing half-written.
    other_group = sandbox.tenant("fabrikam").teams.first()
    refused = client.post(created.url, {"tenant_id": contoso_id, f"{prefix}-groups": [str(other_group.pk)]})
    assert refused.status_code == 200
    # Edit: printing allowed, Android dropped, Confluence only.
    edited = client.post(reverse("connections:intune_policy_edit", args=[policy.pk]),
                         {**POLICY_FORM, "apps": ["confluence"], "platforms": ["ios"], "print_blocked": ""})
    assert edited.status_code == 302
    (ios,) = sandbox.app_protections("contoso")
    assert ios.settings["printBlocked"] is False and ios.version > 1
    assert ios.apps == [{"@odata.type": "#microsoft.graph.iosMobileAppIdentifier",
                         "bundleId": "com.atlassian.confluence.app"}]
    assert ios.assignments[0]["groupId"] == str(group.pk)  # kept through the edit
    assert len(sandbox.app_protections("fabrikam")) == 1
    # Delete: gone from each tenant's Intune, then here.
    kept = client.post(reverse("connections:intune_org_remove", args=[atl_org.pk]))
    assert kept.status_code == 302 and AtlassianOrganization.objects.filter(pk=atl_org.pk).exists()
    deleted = client.post(reverse("connections:intune_policy_delete", args=[policy.pk]))
    assert deleted.status_code == 302
    assert sandbox.app_protections("contoso") == [] and sandbox.app_protections("fabrikam") == []
    assert not MobileAppPolicy.objects.filter(pk=policy.pk).exists()
    actions = list(AuditEvent.objects.filter(organization=intune.organization, action__startswith="intune.policy")
                   .values_list("action", flat=True))
    assert sorted(set(actions)) == ["intune.policy_assigned", "intune.policy_created", "intune.policy_deleted",
                                    "intune.policy_updated"]
    # With no policy left, the organization can go, its key with it.
    assert client.post(reverse("connections:intune_org_remove", args=[atl_org.pk])).status_code == 302
    assert not AtlassianOrganization.objects.filter(pk=atl_org.pk).exists()


def test_an_unlicensed_tenant_is_said_so_with_what_to_do(intune):
    intune.sandbox.set_intune_licensed("fabrikam", False)
    atl_org = register(intune)
    fabrikam = intune.sandbox.tenants["fabrikam"].id
    state = TenantState.objects.get(atlassian_organization=atl_org, tenant_id=fabrikam)
    assert state.intune == TenantState.Intune.UNLICENSED and "Intune licence" in state.detail
    policy = services.policy_create(atl_org=atl_org, acting_user=intune.admin, name="Phones", apps=["jira"],
                                    platforms=["ios"], options={})
    failed = PolicyDeployment.objects.get(policy=policy, tenant_id=fabrikam)
    assert failed.state == PolicyDeployment.State.FAILED and "Intune licence" in failed.remedy
    assert intune.sandbox.app_protections("fabrikam") == [] and len(intune.sandbox.app_protections("contoso")) == 1
    steps = {s.key: s for s in selectors.checklist(atl_org)}
    assert steps["licence"].state == selectors.TODO and "Fabrikam" in steps["licence"].detail
    assert steps["policies"].state == selectors.TODO
    # Said up front, with what to do.
    page = intune.admin_client.get(reverse("connections:intune_org_detail", args=[atl_org.pk])).content.decode()
    prerequisite = re.search(r'<li data-prerequisite="licence" data-state="todo">(.*?)</li>', page, re.S).group(1)
    assert "Fabrikam" in prerequisite and "Purchase services" in prerequisite


def test_an_expired_organization_key_stops_the_reads_and_says_what_to_do(intune):
    atl_org = register(intune)
    intune.sandbox.expire_organization_keys(intune.org["id"])
    _check(intune, atl_org)
    atl_org.refresh_from_db()
    assert "expired or was revoked" in atl_org.last_error
    steps = {s.key: s for s in selectors.checklist(atl_org)}
    assert steps["api_key"].state == selectors.FAILED and "API keys" in steps["api_key"].where
    # The stored expiry near: the organization page and the dashboard warn.
    AtlassianOrganization.objects.filter(pk=atl_org.pk).update(key_expires_at=timezone.now() + timedelta(days=3))
    page = intune.admin_client.get(reverse("connections:intune_org_detail", args=[atl_org.pk])).content.decode()
    assert "app-secret-warning" in page and "expires on" in page
    dashboard = intune.admin_client.get(reverse("tenants:dashboard")).content.decode()
    assert "The organization API key of the Atlassian organization Acme expires in" in dashboard
    # Saving a key Atlassian refuses is a form error, nothing changed.
    before = AtlassianOrganization.objects.get(pk=atl_org.pk)._api_key
    refused = intune.admin_client.post(reverse("connections:intune_org_key", args=[atl_org.pk]), {
        "api_key": intune.org["api_key"], "key_expires_on": (timezone.now() + timedelta(days=30)).date().isoformat()})
    assert refused.status_code == 200 and "expired or was revoked" in refused.content.decode()
    assert AtlassianOrganization.objects.get(pk=atl_org.pk)._api_key == before


def test_a_viewer_cannot_change_a_policy_and_another_organizations_ids_are_not_found(intune):
    atl_org = register(intune)
    policy = services.policy_create(atl_org=atl_org, acting_user=intune.admin, name="Phones", apps=["jira"],
                                    platforms=["ios"], options={})
    link, _ = services.consent_link_create(atl_org=atl_org, tenant_id=intune.sandbox.tenants["contoso"].id,
                                           app="jira", acting_user=intune.admin)
    before = [(p.id, p.settings) for p in intune.sandbox.app_protections("contoso")]
    writes = [
        reverse("connections:intune_policy_edit", args=[policy.pk]),
        reverse("connections:intune_policy_delete", args=[policy.pk]),
        reverse("connections:intune_policy_assign", args=[policy.pk]),
        reverse("connections:intune_policy_new", args=[atl_org.pk]),
        reverse("connections:intune_org_step", args=[atl_org.pk]),
        reverse("connections:intune_consent_link_new", args=[atl_org.pk]),
        reverse("connections:intune_consent_link_revoke", args=[link.pk]),
        reverse("connections:intune_org_key", args=[atl_org.pk]),
        reverse("connections:intune_org_remove", args=[atl_org.pk]),
    ]
    for url in writes:
        assert intune.viewer_client.post(url, {**POLICY_FORM, "step": "guard", "done": "1"}).status_code == 403, url
    assert intune.viewer_client.get(reverse("connections:intune_org_detail", args=[atl_org.pk])).status_code == 200
    for url in [*writes, reverse("connections:intune_org_detail", args=[atl_org.pk]),
                reverse("connections:intune_org_check", args=[atl_org.pk])]:
        assert intune.other_client.post(url, POLICY_FORM).status_code == 404, url
    assert [(p.id, p.settings) for p in intune.sandbox.app_protections("contoso")] == before
    assert MobileAppPolicy.objects.get(pk=policy.pk).name == "Phones"
    assert AppConsentLink.objects.get(pk=link.pk).state == AppConsentLink.State.SENT
    assert AppConsentLink.objects.count() == 1


def test_every_request_of_the_intune_flows_is_declared(intune):
    from sandbox.requestlog import entries
    from tests.connections.declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph

    since = max((row.pk for row in entries()), default=0)
    atl_org = register(intune)
    intune.sandbox.mobile_sign_in("contoso", CONFLUENCE)
    _check(intune, atl_org)
    policy = services.policy_create(atl_org=atl_org, acting_user=intune.admin, name="Phones",
                                    apps=["jira", "confluence"], platforms=["ios", "android"], options={})
    group = intune.sandbox.tenant("contoso").teams.first()
    services.policy_assign(policy=policy, acting_user=intune.admin, tenant_id=intune.sandbox.tenants["contoso"].id,
                           group_ids=[str(group.pk)])
    services.policy_update(policy=policy, acting_user=intune.admin, name="Phones", apps=["jira"], platforms=["ios"],
                           options={"print_blocked": False})
    _check(intune, atl_org)
    services.policy_delete(policy=policy, acting_user=intune.admin)
    graph = list(graph_calls(since_id=since))
    paths = {path for _, path, _ in graph}
    assert {"/v1.0/servicePrincipals", "/v1.0/oauth2PermissionGrants", "/v1.0/domains", "/v1.0/groups",
            "/v1.0/deviceAppManagement/iosManagedAppProtections"} <= paths
    assert undeclared_graph(graph) == ([], [])
    atlassian = list(atlassian_calls(since_id=since))
    assert any("/admin/v1/orgs/" in path for _, path, _ in atlassian)
    assert undeclared_atlassian(atlassian) == ([], [])


def test_the_beat_checks_every_organization_again(intune, settings):
    from connections.intune.tasks import intune_check_kickoff

    entry = settings.CELERY_BEAT_SCHEDULE["connections.intune_check_kickoff"]
    assert entry["task"] == "connections.intune_check_kickoff"
    atl_org = register(intune)
    contoso = intune.sandbox.tenants["contoso"].id
    intune.sandbox.mobile_sign_in("contoso", CONFLUENCE)
    assert _state(atl_org, contoso, "confluence") == AtlassianAppConsent.State.NOT_IN_ENTRA
    assert intune_check_kickoff() == 1  # eager in tests: each organization checked at once
    assert _state(atl_org, contoso, "confluence") == AtlassianAppConsent.State.NO_TENANT_CONSENT
    page = intune.viewer_client.get(reverse("connections:intune_org_detail", args=[atl_org.pk])).content.decode()
    assert "Verified in the tenant too (Graph): contoso.com." in page
    assert "Make a consent link" not in page  # a viewer sees the states, not the actions


def test_bad_input_gets_a_form_error_and_writes_nothing(intune):
    client = intune.admin_client
    soon = (timezone.now() + timedelta(days=30)).date().isoformat()
    good = {"name": "Acme", "org_id": intune.org["id"], "api_key": intune.org["api_key"], "key_expires_on": soon}
    for bad, words in (
        ({"api_key": "ATCTT3x" + "0" * 40}, "expired or was revoked"),  # a key Atlassian does not know
        ({"org_id": "someone-elses-org"}, "knows no organization with this id"),
        ({"org_id": "not an id!"}, "letters, digits and dashes"),
        ({"key_expires_on": "2020-01-01"}, "already expired"),
        ({"key_expires_on": (timezone.now() + timedelta(days=800)).date().isoformat()}, "within one year"),
    ):
        response = client.post(reverse("connections:intune_org_new"), {**good, **bad})
        assert response.status_code == 200 and words in response.content.decode(), bad
    assert not AtlassianOrganization.objects.filter(organization=intune.organization).exists()
    atl_org = register(intune)
    for bad in ({"minimum_pin_length": "3"}, {"minimum_os_version": "sixteen"}, {"apps": []},
                {"platforms": ["windows"]}, {"offline_wipe_days": "0"}, {"clipboard": "everywhere"}):
        response = client.post(reverse("connections:intune_policy_new", args=[atl_org.pk]), {**POLICY_FORM, **bad})
        assert response.status_code == 200, bad
    assert not MobileAppPolicy.objects.exists()
    assert intune.sandbox.app_protections("contoso") == []
    # A consent link for a tenant none of the organization's domains belongs to is refused.
    client.post(reverse("connections:intune_consent_link_new", args=[atl_org.pk]),
                {"tenant_id": intune.sandbox.tenants["northwind"].id, "app": "jira"})
    assert not AppConsentLink.objects.exists()
    assert client.get(reverse("connections:intune_consent", args=["not-a-token"])).status_code == 404
