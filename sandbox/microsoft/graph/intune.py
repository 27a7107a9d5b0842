"""Intune app protection policies (deviceAppManagement) and the groups they are assigned to.

iosManagedAppProtections and androidManagedAppProtections: list, create, get, update, delete,
and the targetApps and assign actions, with the apps and assignments navigation properties.
Only in a tenant with an Intune licence; validated as Graph validates: the @odata.type, the
properties each type defines (an unknown one is refused, as OData refuses it), enum values,
ISO 8601 durations, and the identifier type of each targeted app.

Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-iosmanagedappprotection
Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-androidmanagedappprotection
"""

import datetime
import json
import re
import uuid

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..models import IntuneLicence, ManagedAppProtection, Team
from .common import GENERIC, context_url, error, graph_endpoint, ok, parse_top

# Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-list (permissions)
READ = ("DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All")
# Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-create (permissions)
WRITE = ("DeviceManagementApps.ReadWrite.All",)
# Reference: https://learn.microsoft.com/graph/api/group-list (least to most privileged)
GROUPS = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All")

KINDS = {"iosManagedAppProtections": "ios", "androidManagedAppProtections": "android"}
ODATA_TYPES = {"ios": "#microsoft.graph.iosManagedAppProtection",
               "android": "#microsoft.graph.androidManagedAppProtection"}
IDENTIFIERS = {"ios": ("#microsoft.graph.iosMobileAppIdentifier", "bundleId"),
               "android": ("#microsoft.graph.androidMobileAppIdentifier", "packageId")}

_DURATION = re.compile(r"^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_DATA_TRANSFER = ("allApps", "managedApps", "none")
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-managedappclipboardsharinglevel
_CLIPBOARD = ("allApps", "managedAppsWithPasteIn", "managedApps", "blocked")
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-managedapppincharacterset
_PIN_SET = ("numeric", "alphanumericAndSymbol")
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-managedappdataencryptiontype
_ENCRYPTION = ("useDeviceSettings", "afterDeviceRestart", "whenDeviceLockedExceptOpenFiles", "whenDeviceLocked")
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-targetedmanagedappgrouptype
_APP_GROUP_TYPES = ("selectedPublicApps", "allCoreMicrosoftApps", "allMicrosoftApps", "allApps")
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-managedappdatastoragelocation
_STORAGE = ("oneDriveForBusiness", "sharePoint", "localStorage")

# The properties each type defines (v1.0), with how a value is checked. Read-only ones
# (id, createdDateTime, lastModifiedDateTime, version, isAssigned, deployedAppCount) are ignored on write.
_COMMON = {
    "displayName": "string", "description": "string",
    "periodOfflineBeforeAccessCheck": "duration", "periodOnlineBeforeAccessCheck": "duration",
    "allowedInboundDataTransferSources": _DATA_TRANSFER, "allowedOutboundDataTransferDestinations": _DATA_TRANSFER,
    "organizationalCredentialsRequired": "bool", "allowedOutboundClipboardSharingLevel": _CLIPBOARD,
    "dataBackupBlocked": "bool", "deviceComplianceRequired": "bool", "managedBrowserToOpenLinksRequired": "bool",
    "saveAsBlocked": "bool", "periodOfflineBeforeWipeIsEnforced": "duration", "pinRequired": "bool",
    "maximumPinRetries": "int", "simplePinBlocked": "bool", "minimumPinLength": "int", "pinCharacterSet": _PIN_SET,
    "periodBeforePinReset": "duration", "allowedDataStorageLocations": "storage", "contactSyncBlocked": "bool",
    "printBlocked": "bool", "fingerprintBlocked": "bool", "disableAppPinIfDevicePinIsSet": "bool",
    "minimumRequiredOsVersion": "string", "minimumWarningOsVersion": "string",
    "minimumRequiredAppVersion": "string", "minimumWarningAppVersion": "string",
}
PROPERTIES = {
    "ios": {**_COMMON, "appDataEncryptionType": _ENCRYPTION, "minimumRequiredSdkVersion": "string",
            "faceIdBlocked": "bool", "customBrowserProtocol": "string"},
    "android": {**_COMMON, "screenCaptureBlocked": "bool", "disableAppEncryptionIfDeviceEncryptionIsEnabled": "bool",
                "encryptAppData": "bool", "minimumRequiredPatchVersion": "string",
                "minimumWarningPatchVersion": "string", "customBrowserPackageId": "string",
                "customBrowserDisplayName": "string"},
}
# beta only: "Start Microsoft Tunnel connection on app-launch" (Android). v1.0 does not define it.
# Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-androidmanagedappprotection?view=graph-rest-beta
BETA_ONLY = {"android": {"connectToVpnOnLaunch": "bool"}, "ios": {}}
READ_ONLY = {"id", "createdDateTime", "lastModifiedDateTime", "version", "isAssigned", "deployedAppCount",
             "roleScopeTagIds", "targetedAppManagementLevels", "@odata.type"}


def _when(value):
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bad(request, message):
    return error(400, "BadRequest", message, request=request)


def _unlicensed(request, caller):
    """Graph's Intune API answers a tenant without an Intune licence with 400 "Request not
    applicable to target tenant." (what clients observe; the resource pages say an active Intune license
    is required). Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-iosmanagedappprotection"""
    licence = IntuneLicence.objects.filter(tenant=caller.tenant).first()
    if licence is None or not licence.licensed:
        return _bad(request, "Request not applicable to target tenant.")
    return None


def _check_value(name, rule, value):
    if value is None:
        return None
    wrong = f"Cannot convert the literal '{value}' to the expected type"
    if rule == "string":
        return None if isinstance(value, str) else f"{wrong} 'Edm.String'."
    if rule == "bool":
        return None if isinstance(value, bool) else f"{wrong} 'Edm.Boolean'."
    if rule == "int":
        ok_int = isinstance(value, int) and not isinstance(value, bool)
        return None if ok_int else f"{wrong} 'Edm.Int32'."
    if rule == "duration":
        if isinstance(value, str) and _DURATION.match(value):
            return None
        return f"The value '{value}' is not a valid duration value for property '{name}'."
    if rule == "storage":
        if isinstance(value, list) and all(v in _STORAGE for v in value):
            return None
        return f"Requested value '{value}' was not found for property '{name}'."
    if isinstance(rule, tuple):
        return None if value in rule else f"Requested value '{value}' was not found."
    return None


def _validate(request, platform, body, version, *, creating):
    """The settings to store, or an error response (OData's wording for each refusal)."""
    if not isinstance(body, dict):
        return None, _bad(request, "Invalid request body.")
    odata_type = body.get("@odata.type")
    if creating and odata_type not in (None, ODATA_TYPES[platform]):
        return None, _bad(request, f"A resource of type '{odata_type}' cannot be created in this collection.")
    allowed = dict(PROPERTIES[platform])
    if version == "beta":
        allowed.update(BETA_ONLY[platform])
    settings = {}
    for name, value in body.items():
        if name in READ_ONLY or name.startswith("@odata"):
            continue
        if name not in allowed:
            # Reference: https://learn.microsoft.com/graph/errors (OData refuses undefined properties)
            type_name = ODATA_TYPES[platform][1:]
            return None, _bad(request, f"The property '{name}' does not exist on type '{type_name}'. Make sure to only "
                                       "use property names that are defined by the type.")
        problem = _check_value(name, allowed[name], value)
        if problem:
            return None, _bad(request, problem)
        settings[name] = value
    if creating and not str(settings.get("displayName") or "").strip():
        return None, _bad(request, "The displayName property is required.")
    pin_length = settings.get("minimumPinLength")
    if isinstance(pin_length, int) and not 4 <= pin_length <= 16:
        # Reference: https://learn.microsoft.com/mem/intune/apps/app-protection-policy-settings-ios (PIN length 4-16)
        return None, _bad(request, "The value of 'minimumPinLength' must be between 4 and 16.")
    return settings, None


def _json(policy, request, version):
    body = {
        "@odata.type": ODATA_TYPES[policy.platform],
        "id": policy.id,
        "displayName": policy.display_name,
        "description": policy.description,
        "createdDateTime": _when(policy.created),
        "lastModifiedDateTime": _when(policy.modified),
        "version": f'"{policy.version:08x}"',
        "isAssigned": bool(policy.assignments),
        "deployedAppCount": len(policy.apps),
        "roleScopeTagIds": ["0"],
    }
    body.update({k: v for k, v in policy.settings.items() if k not in ("displayName", "description")})
    return body


def _find(caller, kind, policy_id):
    return ManagedAppProtection.objects.filter(tenant=caller.tenant, platform=KINDS[kind], id=policy_id).first()


def _not_found(request, policy_id):
    return error(404, "ResourceNotFound", f"No managed app protection with id '{policy_id}' was found.",
                 request=request)


def _policy(request, caller, kind, policy_id):
    """(the caller's policy, None), or (None, the answer Graph gives: unlicensed tenant, not found)."""
    refused = _unlicensed(request, caller)
    if refused:
        return None, refused
    policy = _find(caller, kind, policy_id)
    if policy is None:
        return None, _not_found(request, policy_id)
    return policy, None


def _body(request):
    try:
        return json.loads(request.body or b"{}"), None
    except ValueError:
        return None, _bad(request, "Invalid JSON in the request body.")


@csrf_exempt
@require_http_methods(["GET", "POST"])
@graph_endpoint(application=READ, delegated=READ, workload=GENERIC)
def collection(request, caller, version, kind):
    """GET the tenant's policies of one platform; POST creates one (201 with the object)."""
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-list
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-create
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-androidmanagedappprotection-create
    refused = _unlicensed(request, caller)
    if refused:
        return refused
    platform = KINDS[kind]
    if request.method == "GET":
        policies = ManagedAppProtection.objects.filter(tenant=caller.tenant, platform=platform).order_by("created")
        return ok({"@odata.context": context_url(request, version, f"deviceAppManagement/{kind}"),
                   "value": [_json(p, request, version) for p in policies]})
    if not set(WRITE) & caller.permissions:
        return error(403, "accessDenied", "Either the signed-in user or the app is not allowed to do this.",
                     request=request)
    body, failure = _body(request)
    if failure:
        return failure
    settings, failure = _validate(request, platform, body, version, creating=True)
    if failure:
        return failure
    policy = ManagedAppProtection.objects.create(
        id="T_" + str(uuid.uuid4()),  # Intune's ids of app protections look like this
        tenant=caller.tenant, platform=platform,
        display_name=settings.pop("displayName"), description=settings.pop("description", "") or "",
        settings=settings,
    )
    return ok(_json(policy, request, version), status=201)


@csrf_exempt
@require_http_methods(["GET", "PATCH", "DELETE"])
@graph_endpoint(application=READ, delegated=READ, workload=GENERIC)
def item(request, caller, version, kind, policy_id=None, quoted_id=None):
    """One policy: GET, PATCH (200 with the updated object), DELETE (204)."""
    policy_id = policy_id or quoted_id
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-get
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-update
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-iosmanagedappprotection-delete
    policy, refused = _policy(request, caller, kind, policy_id)
    if refused:
        return refused
    if request.method == "GET":
        return ok({"@odata.context": context_url(request, version, f"deviceAppManagement/{kind}/$entity"),
                   **_json(policy, request, version)})
    if not set(WRITE) & caller.permissions:
        return error(403, "accessDenied", "Either the signed-in user or the app is not allowed to do this.",
                     request=request)
    if request.method == "DELETE":
        policy.delete()
        return ok_empty()
    body, failure = _body(request)
    if failure:
        return failure
    settings, failure = _validate(request, policy.platform, body, version, creating=False)
    if failure:
        return failure
    if "displayName" in settings:
        if not str(settings["displayName"] or "").strip():
            return _bad(request, "The displayName property is required.")
        policy.display_name = settings.pop("displayName")
    if "description" in settings:
        policy.description = settings.pop("description") or ""
    policy.settings = {**policy.settings, **settings}
    policy.version += 1
    policy.save()
    return ok(_json(policy, request, version))


def ok_empty():
    return HttpResponse(status=204)


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(application=WRITE, delegated=WRITE, workload=GENERIC)
def target_apps(request, caller, version, kind, policy_id=None, quoted_id=None):
    """The targetApps action: replaces the policy's apps (204)."""
    policy_id = policy_id or quoted_id
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-targetedmanagedappprotection-targetapps
    policy, refused = _policy(request, caller, kind, policy_id)
    if refused:
        return refused
    body, failure = _body(request)
    if failure:
        return failure
    apps = body.get("apps") if isinstance(body, dict) else None
    group_type = body.get("appGroupType", "selectedPublicApps") if isinstance(body, dict) else None
    if not isinstance(apps, list):
        return _bad(request, "The parameter 'apps' is required.")
    if group_type not in _APP_GROUP_TYPES:
        return _bad(request, f"Requested value '{group_type}' was not found.")
    odata_type, id_field = IDENTIFIERS[policy.platform]
    identifiers = []
    for app in apps:
        identifier = app.get("mobileAppIdentifier") if isinstance(app, dict) else None
        if not isinstance(identifier, dict) or identifier.get("@odata.type") != odata_type:
            return _bad(request, f"Each app of this policy needs a mobileAppIdentifier of type '{odata_type[1:]}'.")
        value = identifier.get(id_field)
        if not isinstance(value, str) or not value.strip():
            return _bad(request, f"The property '{id_field}' is required.")
        identifiers.append({"@odata.type": odata_type, id_field: value.strip()})
    policy.apps, policy.app_group_type = identifiers, group_type
    policy.save()
    return ok_empty()


_ASSIGNMENT_TYPES = ("#microsoft.graph.groupAssignmentTarget", "#microsoft.graph.exclusionGroupAssignmentTarget",
                     "#microsoft.graph.allLicensedUsersAssignmentTarget")


@csrf_exempt
@require_http_methods(["POST"])
@graph_endpoint(application=WRITE, delegated=WRITE, workload=GENERIC)
def assign(request, caller, version, kind, policy_id=None, quoted_id=None):
    """The assign action: replaces the policy's assignments (204)."""
    policy_id = policy_id or quoted_id
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-targetedmanagedappprotection-assign
    policy, refused = _policy(request, caller, kind, policy_id)
    if refused:
        return refused
    body, failure = _body(request)
    if failure:
        return failure
    assignments = body.get("assignments") if isinstance(body, dict) else None
    if not isinstance(assignments, list):
        return _bad(request, "The parameter 'assignments' is required.")
    kept = []
    for assignment in assignments:
        target = assignment.get("target") if isinstance(assignment, dict) else None
        if not isinstance(target, dict) or target.get("@odata.type") not in _ASSIGNMENT_TYPES:
            return _bad(request, "Each assignment needs a target of a known assignment target type.")
        if target["@odata.type"] != _ASSIGNMENT_TYPES[2]:
            try:
                group_id = str(uuid.UUID(str(target.get("groupId", ""))))
            except ValueError:
                return _bad(request, f"Invalid groupId '{target.get('groupId')}'.")
            kept.append({"@odata.type": target["@odata.type"], "groupId": group_id})
        else:
            kept.append({"@odata.type": target["@odata.type"]})
    policy.assignments = kept
    policy.save()
    return ok_empty()


@require_GET
@graph_endpoint(application=READ, delegated=READ, workload=GENERIC)
def apps(request, caller, version, kind, policy_id=None, quoted_id=None):
    policy_id = policy_id or quoted_id
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-managedmobileapp-list
    policy, refused = _policy(request, caller, kind, policy_id)
    if refused:
        return refused
    _, id_field = IDENTIFIERS[policy.platform]
    return ok({"@odata.context": context_url(request, version, f"deviceAppManagement/{kind}('{policy_id}')/apps"),
               "value": [{"@odata.type": "#microsoft.graph.managedMobileApp",
                          "id": f"{a[id_field]}.{policy.platform}", "mobileAppIdentifier": a, "version": "1"}
                         for a in policy.apps]})


@require_GET
@graph_endpoint(application=READ, delegated=READ, workload=GENERIC)
def assignments(request, caller, version, kind, policy_id=None, quoted_id=None):
    policy_id = policy_id or quoted_id
    # Reference: https://learn.microsoft.com/graph/api/intune-mam-targetedmanagedapppolicyassignment-list
    policy, refused = _policy(request, caller, kind, policy_id)
    if refused:
        return refused
    return ok({"@odata.context": context_url(request, version,
                                             f"deviceAppManagement/{kind}('{policy_id}')/assignments"),
               "value": [{"@odata.type": "#microsoft.graph.targetedManagedAppPolicyAssignment",
                          "id": f"{policy.id}_{i}", "target": t} for i, t in enumerate(policy.assignments)]})


@require_GET
@graph_endpoint(application=GROUPS, delegated=GROUPS)
def groups(request, caller, version):
    """The tenant's groups (the sandbox's are its teams' Microsoft 365 groups)."""
    # Reference: https://learn.microsoft.com/graph/api/group-list
    top, failure = parse_top(request, 999, 100)
    if failure:
        return failure
    teams = Team.objects.filter(tenant=caller.tenant).order_by("display_name")[:top]
    return ok({"@odata.context": context_url(request, version, "groups"),
               "value": [{"id": str(t.pk), "displayName": t.display_name, "description": t.description,
                          "groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False}
                         for t in teams]})
