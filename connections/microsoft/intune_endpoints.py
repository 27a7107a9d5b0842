"""The Graph endpoints of Intune app protection for Atlassian's mobile apps: one typed function
each, its declaration beside it (connections.endpoints), like connections.microsoft.endpoints.

All app-only, with the Graph transport of one connection (connections.microsoft.graph): the
organization's own consent in the tenant is what lets the portal call them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests

from .. import http
from ..endpoints import IDENTITY, declare
from .client import AUTHORIZE, DISCOVERY, authority_host
from .graph import Graph, GraphError, send

Page = dict[str, Any]

# --- domain → tenant (OpenID discovery, no token) ------------------------------------------------


class DomainLookupFailed(Exception):
    """Microsoft's discovery did not answer (network, 5xx): try again later."""


def tenant_of_domain(domain: str, *, cloud: str = "public") -> str | None:
    """The tenant id whose verified domain this is, from the domain's OpenID configuration
    (issuer https://login.microsoftonline.com/{tenant id}/v2.0); None when Microsoft knows no
    tenant for it (400, AADSTS90002)."""
    # Reference: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
    url = authority_host(cloud).rstrip("/") + DISCOVERY.path.format(tenant=domain)
    try:
        with http.session() as session:
            response = session.get(url)
    except requests.RequestException as exc:
        raise DomainLookupFailed(f"could not reach Microsoft ({type(exc).__name__})") from exc
    if response.status_code in (400, 404):
        return None
    if response.status_code >= 300:
        raise DomainLookupFailed(f"Microsoft answered HTTP {response.status_code}")
    try:
        issuer = str(response.json().get("issuer", ""))
    except ValueError as exc:
        raise DomainLookupFailed("Microsoft's answer was not JSON") from exc
    parts = issuer.rstrip("/").split("/")
    return parts[-2].lower() if len(parts) >= 2 and parts[-1] == "v2.0" else None


ATLASSIAN_APP_ADMIN_CONSENT = declare(
    "identity.atlassian_app_admin_consent", "GET", "/{tenant}/adminconsent",
    provider=IDENTITY,
    permissions=(),
    reads=(),
    keeps=(),
    reference="https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent#construct-the-url-for-granting-tenant-wide-admin-consent",
    purpose="A tenant admin's browser is sent here to grant tenant-wide consent to Jira Cloud or Confluence Cloud "
    "by Atlassian; Microsoft then returns them to Atlassian's reply URL, not to the portal.",
)


def atlassian_app_admin_consent_url(*, tenant_id: str, app_id: str, cloud: str = "public") -> str:
    """Where the tenant's admin grants tenant-wide admin consent to one of Atlassian's apps,
    beside the tenant's advertised (browser-facing) authorization endpoint."""
    url = authority_host(cloud).rstrip("/") + DISCOVERY.path.format(tenant=tenant_id)
    try:
        with http.session() as session:
            authorize = str(session.get(url).json()["authorization_endpoint"])
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise DomainLookupFailed(f"could not reach Microsoft ({type(exc).__name__})") from exc
    # {host}/{tenant}/oauth2/v2.0/authorize → {host}/{tenant}/adminconsent
    base = authorize.split(AUTHORIZE.path.removeprefix("/{tenant}"), 1)[0]
    return f"{base}{ATLASSIAN_APP_ADMIN_CONSENT.path.removeprefix('/{tenant}')}?{urlencode({'client_id': app_id})}"


# --- Atlassian's enterprise apps and their consent -------------------------------------------------

SERVICE_PRINCIPALS = declare(
    "graph.intune_service_principals", "GET", "/v1.0/servicePrincipals",
    permissions=("Application.Read.All",),
    reads=("id", "appId", "displayName", "accountEnabled"),
    keeps=("id", "appId"),
    reference="https://learn.microsoft.com/graph/api/serviceprincipal-list",
    purpose="Whether Jira Cloud or Confluence Cloud by Atlassian is in the tenant (filtered by its app id).",
)


def service_principal_of(graph: Graph, app_id: str) -> dict | None:
    """The tenant's service principal of one app id, or None when the enterprise app is not there."""
    page = graph.get(SERVICE_PRINCIPALS.path, {"$filter": f"appId eq '{app_id}'",
                                               "$select": ",".join(SERVICE_PRINCIPALS.reads)})
    values = page.get("value") or []
    return values[0] if values else None


PERMISSION_GRANTS = declare(
    "graph.intune_permission_grants", "GET", "/v1.0/oauth2PermissionGrants",
    permissions=("DelegatedPermissionGrant.Read.All",),
    reads=("id", "clientId", "consentType", "resourceId", "scope"),
    keeps=("consentType", "scope"),
    reference="https://learn.microsoft.com/graph/api/oauth2permissiongrant-list",
    purpose="Whether an Atlassian enterprise app has tenant-wide (AllPrincipals) admin consent.",
)


def permission_grants_of(graph: Graph, sp_id: str) -> list[dict]:
    """The delegated permission grants of one service principal (as the client)."""
    page = graph.get(PERMISSION_GRANTS.path, {"$filter": f"clientId eq '{sp_id}'"})
    return list(page.get("value") or [])


DOMAINS = declare(
    "graph.intune_domains", "GET", "/v1.0/domains",
    permissions=("Domain.Read.All",),
    reads=("id", "isVerified"),
    keeps=("id", "isVerified"),
    reference="https://learn.microsoft.com/graph/api/domain-list",
    purpose="Which of the Atlassian organization's domains the tenant has verified.",
)


def verified_domains(graph: Graph) -> set[str]:
    page = graph.get(DOMAINS.path, {"$select": "id,isVerified"})
    return {str(d.get("id", "")).lower() for d in page.get("value") or [] if d.get("isVerified")}


GROUPS = declare(
    "graph.intune_groups", "GET", "/v1.0/groups",
    permissions=("GroupMember.Read.All",),
    reads=("id", "displayName"),
    keeps=("id", "displayName"),
    reference="https://learn.microsoft.com/graph/api/group-list",
    purpose="The groups an admin can assign an app protection policy to (names and ids).",
)


def groups(graph: Graph, *, top: int = 100) -> list[dict]:
    page = graph.get(GROUPS.path, {"$select": "id,displayName", "$top": top})
    return [{"id": str(g.get("id", "")), "displayName": str(g.get("displayName", ""))} for g in page.get("value") or []]


# --- app protection policies (iOS and Android) -----------------------------------------------------

_POLICY_FIELDS = ("id", "displayName", "version", "isAssigned", "deployedAppCount")
_REF = "https://learn.microsoft.com/graph/api/"

IOS_LIST = declare(
    "graph.ios_app_protections", "GET", "/v1.0/deviceAppManagement/iosManagedAppProtections",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=_POLICY_FIELDS, keeps=(),
    reference=_REF + "intune-mam-iosmanagedappprotection-list",
    purpose="Whether Intune answers in the tenant (an Intune licence) before a policy is made.",
)
IOS_CREATE = declare(
    "graph.ios_app_protection_create", "POST", "/v1.0/deviceAppManagement/iosManagedAppProtections",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("id",), keeps=("id",),
    reference=_REF + "intune-mam-iosmanagedappprotection-create",
    purpose="Create the iOS app protection policy for Atlassian's apps.",
)
IOS_GET = declare(
    "graph.ios_app_protection", "GET", "/v1.0/deviceAppManagement/iosManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=_POLICY_FIELDS, keeps=(),
    reference=_REF + "intune-mam-iosmanagedappprotection-get",
    purpose="Check that the iOS policy the portal made is still there, targeted and assigned.",
)
IOS_UPDATE = declare(
    "graph.ios_app_protection_update", "PATCH", "/v1.0/deviceAppManagement/iosManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("id",), keeps=(),
    reference=_REF + "intune-mam-iosmanagedappprotection-update",
    purpose="Change the iOS policy's settings.",
)
IOS_DELETE = declare(
    "graph.ios_app_protection_delete", "DELETE", "/v1.0/deviceAppManagement/iosManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-iosmanagedappprotection-delete",
    purpose="Delete the iOS policy.",
)
IOS_TARGET_APPS = declare(
    "graph.ios_app_protection_target_apps", "POST",
    "/v1.0/deviceAppManagement/iosManagedAppProtections/{policy_id}/targetApps",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-targetedmanagedappprotection-targetapps",
    purpose="Target the iOS policy at the Jira and Confluence bundle ids.",
)
IOS_ASSIGN = declare(
    "graph.ios_app_protection_assign", "POST",
    "/v1.0/deviceAppManagement/iosManagedAppProtections/{policy_id}/assign",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-targetedmanagedappprotection-assign",
    purpose="Assign the iOS policy to the chosen groups.",
)
ANDROID_LIST = declare(
    "graph.android_app_protections", "GET", "/v1.0/deviceAppManagement/androidManagedAppProtections",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=_POLICY_FIELDS, keeps=(),
    reference=_REF + "intune-mam-androidmanagedappprotection-list",
    purpose="Whether Intune answers in the tenant (an Intune licence) before a policy is made.",
)
ANDROID_CREATE = declare(
    "graph.android_app_protection_create", "POST", "/v1.0/deviceAppManagement/androidManagedAppProtections",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("id",), keeps=("id",),
    reference=_REF + "intune-mam-androidmanagedappprotection-create",
    purpose="Create the Android app protection policy for Atlassian's apps.",
)
ANDROID_GET = declare(
    "graph.android_app_protection", "GET",
    "/v1.0/deviceAppManagement/androidManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=_POLICY_FIELDS, keeps=(),
    reference=_REF + "intune-mam-androidmanagedappprotection-get",
    purpose="Check that the Android policy the portal made is still there, targeted and assigned.",
)
ANDROID_UPDATE = declare(
    "graph.android_app_protection_update", "PATCH",
    "/v1.0/deviceAppManagement/androidManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("id",), keeps=(),
    reference=_REF + "intune-mam-androidmanagedappprotection-update",
    purpose="Change the Android policy's settings.",
)
ANDROID_DELETE = declare(
    "graph.android_app_protection_delete", "DELETE",
    "/v1.0/deviceAppManagement/androidManagedAppProtections/{policy_id}",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-androidmanagedappprotection-delete",
    purpose="Delete the Android policy.",
)
ANDROID_TARGET_APPS = declare(
    "graph.android_app_protection_target_apps", "POST",
    "/v1.0/deviceAppManagement/androidManagedAppProtections/{policy_id}/targetApps",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-targetedmanagedappprotection-targetapps",
    purpose="Target the Android policy at the Jira and Confluence package ids.",
)
ANDROID_ASSIGN = declare(
    "graph.android_app_protection_assign", "POST",
    "/v1.0/deviceAppManagement/androidManagedAppProtections/{policy_id}/assign",
    permissions=("DeviceManagementApps.ReadWrite.All",), reads=("status",), keeps=(),
    reference=_REF + "intune-mam-targetedmanagedappprotection-assign",
    purpose="Assign the Android policy to the chosen groups.",
)

_BY_PLATFORM: dict[str, dict[str, Any]] = {
    "ios": {"list": IOS_LIST, "create": IOS_CREATE, "get": IOS_GET, "update": IOS_UPDATE, "delete": IOS_DELETE,
            "target": IOS_TARGET_APPS, "assign": IOS_ASSIGN, "type": "#microsoft.graph.iosManagedAppProtection",
            "identifier": ("#microsoft.graph.iosMobileAppIdentifier", "bundleId")},
    "android": {"list": ANDROID_LIST, "create": ANDROID_CREATE, "get": ANDROID_GET, "update": ANDROID_UPDATE,
                "delete": ANDROID_DELETE, "target": ANDROID_TARGET_APPS, "assign": ANDROID_ASSIGN,
                "type": "#microsoft.graph.androidManagedAppProtection",
                "identifier": ("#microsoft.graph.androidMobileAppIdentifier", "packageId")},
}


# Graph's Intune API answers a tenant without an active Intune licence with 400 "Request not
# applicable to target tenant." (observed; the API pages say it "requires an active Intune license").
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-iosmanagedappprotection
UNLICENSED_MESSAGE = "Request not applicable to target tenant"
UNLICENSED_REMEDY = ("Give the tenant an Intune licence (Microsoft 365 admin center › Billing › Purchase services: "
                     "Microsoft Intune Plan 1, or a suite that includes it, such as Microsoft 365 E3/E5 or Business "
                     "Premium), then check again.")


def is_unlicensed(exc: GraphError) -> bool:
    return exc.status == 400 and UNLICENSED_MESSAGE.lower() in str(exc.message).lower()


def protections_first_page(graph: Graph, platform: str) -> Page:
    return graph.get(_BY_PLATFORM[platform]["list"].path, {"$top": 1, "$select": "id"})


def protection_create(graph: Graph, platform: str, settings: dict[str, Any]) -> str:
    """Create a policy with these settings (Graph's property names); its id."""
    body = {"@odata.type": _BY_PLATFORM[platform]["type"], **settings}
    # A create sent twice would make two policies: never retried by itself.
    answer = send(graph, "POST", _BY_PLATFORM[platform]["create"].path, body, retry_on_failure=False) or {}
    return str(answer.get("id", ""))


def protection_get(graph: Graph, platform: str, policy_id: str) -> Page:
    return graph.get(_BY_PLATFORM[platform]["get"].path.format(policy_id=policy_id))


def protection_update(graph: Graph, platform: str, policy_id: str, settings: dict[str, Any]) -> None:
    body = {"@odata.type": _BY_PLATFORM[platform]["type"], **settings}
    send(graph, "PATCH", _BY_PLATFORM[platform]["update"].path.format(policy_id=policy_id), body)


def protection_delete(graph: Graph, platform: str, policy_id: str) -> None:
    send(graph, "DELETE", _BY_PLATFORM[platform]["delete"].path.format(policy_id=policy_id))


def protection_target_apps(graph: Graph, platform: str, policy_id: str, app_ids: list[str]) -> None:
    """Target the policy at these bundle ids (iOS) or package ids (Android), replacing earlier ones."""
    odata_type, field = _BY_PLATFORM[platform]["identifier"]
    body = {"appGroupType": "selectedPublicApps",
            "apps": [{"mobileAppIdentifier": {"@odata.type": odata_type, field: app_id}} for app_id in app_ids]}
    send(graph, "POST", _BY_PLATFORM[platform]["target"].path.format(policy_id=policy_id), body)


def protection_assign(graph: Graph, platform: str, policy_id: str, group_ids: list[str]) -> None:
    """Assign the policy to these groups (the whole assignment set is replaced)."""
    body = {"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g}}
                            for g in group_ids]}
    send(graph, "POST", _BY_PLATFORM[platform]["assign"].path.format(policy_id=policy_id), body)
