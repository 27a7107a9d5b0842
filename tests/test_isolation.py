"""Every URL that takes an object id, tried by Acme's admin with Globex's ids: 404 or 403.

The walk covers every pattern of the project, so a new view that forgets to scope its
lookup through the signed-in member's organization fails here. A new URL keyword must be
added to OTHER_ORG_IDS (or, for capability links that are meant to be shared, to
CAPABILITY_URLS with the reason).
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tenants.models import AtlassianSite, Invitation, Membership, MicrosoftTenant

# Namespaces that are not organization-scoped: allauth's own account pages (scoped to
# the signed-in user by allauth), Django's admin (superusers only), and the sandbox
# (a stand-in for Microsoft and Atlassian, not part of the portal).
UNSCOPED_PREFIXES = ("accounts/", "django-admin/", "_sandbox/")

# URLs whose argument is a bearer capability meant to be opened by someone outside the
# organization; each checks its own signature, expiry and single use (tested elsewhere).
CAPABILITY_URLS = {
    "tenants:invitation_accept": "an emailed, signed invitation link",
    "connections:microsoft:consent_link": "a consent link for a tenant admin (random token, hash stored)",
    "connections:microsoft:consent_link_start": "the same consent link's sign-in button",
    "connections:intune_consent": "a consent link for an Atlassian app, for a tenant admin (random token, hash stored)",
    "connections:notifications_jira_webhook": "Jira's deliveries: a random receiver id, each signature checked",
}


def _invitation(world):
    return Invitation.objects.create(
        organization=world.organization,
        email="someone@globex.example",
        invited_by=world.admin,
        expires_at=timezone.now() + timedelta(days=1),
    )


def _consent_request(world):
    from connections.microsoft.consent import consent_request_create

    world.connection.features = ["user_mapping"]
    world.connection.save()
    return consent_request_create(connection=world.connection, acting_user=world.admin)[0]


def _sync_run(world):
    from connections.models import SyncRun

    return SyncRun.objects.create(
        organization=world.organization, connection=world.connection, kind=SyncRun.Kind.TEAMS_DIRECTORY,
        state=SyncRun.State.FAILED,
    )


def _project(world):
    from connections.models import ConnectionProject

    return ConnectionProject.objects.create(connection=world.connection, project_id="10000", key="IT", name="IT")


def _notification_target(world):
    from connections.models import NotificationTarget

    return NotificationTarget.objects.create(
        organization=world.organization, connection=world.connection, source="jira_project", source_id="10000",
        source_key="IT", source_name="IT", team_id="team", team_name="Team", channel_id="channel",
        channel_name="General",
    )


def _atlassian_organization(world):
    from connections.models import AtlassianOrganization

    return AtlassianOrganization.objects.create(organization=world.organization, org_id=f"org-{world.organization.pk}",
                                                name="Atlassian organization")


def _mobile_app_policy(world):
    from connections.models import MobileAppPolicy

    return MobileAppPolicy.objects.create(organization=world.organization, name="Phones", apps=["jira"],
                                          platforms=["ios"], atlassian_organization=_atlassian_organization(world))


def _app_consent_link(world):
    from connections.models import AppConsentLink

    return AppConsentLink.objects.create(
        organization=world.organization, atlassian_organization=_atlassian_organization(world), tenant_id="t",
        app="jira", token_hash=f"hash-{world.organization.pk}", created_by=world.admin,
        expires_at=timezone.now() + timedelta(days=1))


OTHER_ORG_IDS = {
    "organization_id": lambda w: w.organization.pk,
    "site_id": lambda w: w.site.pk,
    "tenant_id": lambda w: w.tenant.pk,
    "connection_id": lambda w: w.connection.pk,
    "membership_id": lambda w: Membership.objects.get(user=w.viewer, organization=w.organization).pk,
    "invitation_id": lambda w: _invitation(w).pk,
    "consent_request_id": lambda w: _consent_request(w).pk,
    "run_id": lambda w: _sync_run(w).pk,
    "project_id": lambda w: _project(w).pk,
    # Incident pages and the API name the incident and project by their Jira keys, under the ids.
    "issue_key": lambda w: "IT-1",
    "project_key": lambda w: "IT",
    "key_id": lambda w: _api_key(w).key.pk,
    # Microsoft Search: not ids, but the connection they come with is the other organization's.
    "step": lambda w: "connection",
    "what": lambda w: "full",
    "atl_org_id": lambda w: _atlassian_organization(w).pk,
    "policy_id": lambda w: _mobile_app_policy(w).pk,
    "link_id": lambda w: _app_consent_link(w).pk,
    "target_id": lambda w: _notification_target(w).pk,
}

# The API automation rules call: authenticated by an organization API key, not the session. Tried
# with Acme's own key on Globex's ids.
API_URLS = {"connections:api_chat_create", "connections:api_chat_members", "connections:api_meeting_start"}


def _api_key(world):
    from connections.chatops.apikeys import api_key_create

    return api_key_create(organization=world.organization, name="rule", acting_user=world.admin)


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}{p.name}", p


def _id_patterns():
    found = []
    for route, name, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(UNSCOPED_PREFIXES) or name in CAPABILITY_URLS:
            continue
        kwargs = list(pattern.pattern.converters)
        if kwargs:
            found.append((name, kwargs))
    return found


def test_the_walk_finds_the_organization_scoped_urls():
    names = {name for name, _ in _id_patterns()}
    assert {"tenants:site_detail", "tenants:tenant_remove", "connections:connection_detail"} <= names


@pytest.mark.parametrize("name, kwargs", _id_patterns(), ids=[n for n, _ in _id_patterns()])
def test_another_organizations_ids_are_not_found(name, kwargs, admin_client, acme, globex):
    missing = [k for k in kwargs if k not in OTHER_ORG_IDS]
    assert not missing, f"{name} takes {missing}: add them to OTHER_ORG_IDS so isolation is tested"
    url = reverse(name, kwargs={k: OTHER_ORG_IDS[k](globex) for k in kwargs})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {_api_key(acme).secret}"} if name in API_URLS else {}
    statuses = {method: getattr(admin_client, method)(url, **headers).status_code for method in ("get", "post")}
    assert set(statuses.values()) <= {403, 404, 405}, f"{url} answered {statuses} to another organization"
    assert {403, 404} & set(statuses.values()), f"{url} answered {statuses}"
    # And nothing of Globex's changed.
    assert AtlassianSite.objects.filter(pk=globex.site.pk).exists()
    assert MicrosoftTenant.objects.filter(pk=globex.tenant.pk).exists()
    assert Membership.objects.filter(organization=globex.organization).count() == 2
