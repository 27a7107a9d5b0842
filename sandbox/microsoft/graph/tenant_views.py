"""Graph directory endpoints about the tenant itself: domains, organization, service
principals with their app-role assignments, and delegated permission grants."""

import re
import uuid

from django.views.decorators.http import require_GET

from ..models import DelegatedGrant, ServicePrincipal
from ..permissions import APPLICATION, APPLICATION_IDS, DELEGATED, DELEGATED_IDS, GRAPH_APP_ID
from .common import context_url, error, graph_endpoint, ok

DOMAINS = ("Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All")
ORGANIZATION_APP = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All")
ORGANIZATION_DELEGATED = ("User.Read", *ORGANIZATION_APP)
APPLICATIONS = ("Application.Read.All", "Directory.Read.All", "Application.ReadWrite.All")
GRANTS = ("DelegatedPermissionGrant.Read.All", "Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All")


def role_id(name):
    """The id of Graph's app role (or, for "scp:<name>", delegated scope): Microsoft's published id."""
    if name.startswith("scp:") and name[4:] in DELEGATED_IDS:
        return DELEGATED_IDS[name[4:]]
    if name in APPLICATION_IDS:
        return APPLICATION_IDS[name]
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-permission:{name}"))


def graph_sp_id(tenant):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant.pk}/graph-service-principal"))


@require_GET
@graph_endpoint(application=DOMAINS, delegated=DOMAINS)
def domains(request, caller, version):
    return ok(
        {
            "@odata.context": context_url(request, version, "domains"),
            "value": [
                {
                    "id": d.name,
                    "authenticationType": "Managed",
                    "isAdminManaged": True,
                    "isDefault": d.is_default,
                    "isInitial": d.is_initial,
                    "isRoot": True,
                    "isVerified": d.is_verified,
                    "supportedServices": ["Email", "OfficeCommunicationsOnline"] if d.is_verified else [],
                    "passwordValidityPeriodInDays": None,
                    "passwordNotificationWindowInDays": None,
                }
                for d in caller.tenant.domains.order_by("name")
            ],
        }
    )


@require_GET
@graph_endpoint(application=ORGANIZATION_APP, delegated=ORGANIZATION_DELEGATED)
def organization(request, caller, version):
    tenant = caller.tenant
    return ok(
        {
            "@odata.context": context_url(request, version, "organization"),
            "value": [
                {
                    "id": str(tenant.pk),
                    "displayName": tenant.display_name,
                    "tenantType": "AAD",
                    "countryLetterCode": "DE",
                    "preferredLanguage": "en",
                    "createdDateTime": tenant.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "verifiedDomains": [
                        {
                            "capabilities": "Email, OfficeCommunicationsOnline",
                            "isDefault": d.is_default,
                            "isInitial": d.is_initial,
                            "name": d.name,
                            "type": "Managed",
                        }
                        for d in tenant.domains.filter(is_verified=True).order_by("name")
                    ],
                }
            ],
        }
    )


def _graph_sp(tenant):
    return {
        "id": graph_sp_id(tenant),
        "appId": GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appRoles": [
            {
                "id": role_id(n),
                "value": n,
                "displayName": n,
                "allowedMemberTypes": ["Application"],
                "isEnabled": True,
                "description": n,
            }
            for n in sorted(APPLICATION)
        ],
        "oauth2PermissionScopes": [
            {
                "id": role_id("scp:" + n),
                "value": n,
                "adminConsentDisplayName": n,
                "type": "Admin" if admin else "User",
                "isEnabled": True,
            }
            for n, admin in sorted(DELEGATED.items())
        ],
    }


def _sp_json(sp):
    return {
        "id": str(sp.pk),
        "appId": sp.app_id,
        "displayName": sp.app.display_name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appRoles": [],
        "appOwnerOrganizationId": None,
        "signInAudience": "AzureADMultipleOrgs",
    }


_APP_ID_FILTER = re.compile(r"^\s*appId\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)


@require_GET
@graph_endpoint(application=APPLICATIONS, delegated=APPLICATIONS)
def service_principals(request, caller, version):
    raw = request.GET.get("$filter", "")
    match = _APP_ID_FILTER.match(raw) if raw else None
    if raw and not match:
        return error(400, "Request_UnsupportedQuery", "Only appId eq '...' is supported here.", request=request)
    items = [_sp_json(sp) for sp in ServicePrincipal.objects.filter(tenant=caller.tenant).select_related("app")]
    items.append(_graph_sp(caller.tenant))
    if match:
        items = [sp for sp in items if sp["appId"].lower() == match.group(1).lower()]
    return ok({"@odata.context": context_url(request, version, "servicePrincipals"), "value": items})


@require_GET
@graph_endpoint(application=APPLICATIONS, delegated=APPLICATIONS)
def app_role_assignments(request, caller, version, sp_id):
    try:
        sp = ServicePrincipal.objects.filter(pk=uuid.UUID(sp_id), tenant=caller.tenant).first()
    except ValueError:
        sp = None
    if sp is None:
        if sp_id == graph_sp_id(caller.tenant):
            return ok({"@odata.context": context_url(request, version, "appRoleAssignments"), "value": []})
        return error(404, "Request_ResourceNotFound", f"Resource '{sp_id}' does not exist.", request=request)
    return ok(
        {
            "@odata.context": context_url(request, version, f"servicePrincipals('{sp_id}')/appRoleAssignments"),
            "value": [
                {
                    "id": str(uuid.uuid5(sp.pk, name)),
                    "appRoleId": role_id(name),
                    "createdDateTime": sp.updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "deletedDateTime": None,
                    "principalDisplayName": sp.app.display_name,
                    "principalId": str(sp.pk),
                    "principalType": "ServicePrincipal",
                    "resourceDisplayName": "Microsoft Graph",
                    "resourceId": graph_sp_id(caller.tenant),
                }
                for name in sp.application_permissions
            ],
        }
    )


_GRANT_FILTER = re.compile(r"^\s*(clientId|principalId|consentType)\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)


@require_GET
@graph_endpoint(application=GRANTS, delegated=GRANTS)
def oauth2_permission_grants(request, caller, version):
    grants = DelegatedGrant.objects.filter(service_principal__tenant=caller.tenant)
    raw = request.GET.get("$filter", "")
    if raw:
        match = _GRANT_FILTER.match(raw)
        if not match:
            return error(400, "Request_UnsupportedQuery", "Unsupported filter.", request=request)
        field, value = match.group(1).lower(), match.group(2)
        if field == "consenttype":
            grants = grants.filter(principal__isnull=value == "AllPrincipals")
        else:
            try:
                value = uuid.UUID(value)
            except ValueError:
                grants = grants.none()
            else:
                grants = grants.filter(**{"service_principal_id" if field == "clientid" else "principal_id": value})
    return ok(
        {
            "@odata.context": context_url(request, version, "oauth2PermissionGrants"),
            "value": [
                {
                    "id": str(g.pk),
                    "clientId": str(g.service_principal_id),
                    "consentType": "Principal" if g.principal_id else "AllPrincipals",
                    "principalId": str(g.principal_id) if g.principal_id else None,
                    "resourceId": graph_sp_id(caller.tenant),
                    "scope": " ".join(g.scopes),
                }
                for g in grants
            ],
        }
    )
