"""What an app protection policy for Atlassian's mobile apps is made of: the apps' ids and the
settings the portal offers, in Graph's property names.

Reference: https://support.atlassian.com/security-and-access-policies/docs/integrate-intune-security-in-a-mobile-app-policy
Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-iosmanagedappprotection
"""

from __future__ import annotations

from typing import Any

from ..models import AtlassianApp

# The Atlassian apps' Entra application ids (their enterprise apps in each tenant).
ENTRA_APP_IDS = {
    AtlassianApp.JIRA: "def4cf53-d350-4ec9-b39e-96cd612c301e",
    AtlassianApp.CONFLUENCE: "6337eee3-da0f-4c22-a340-9b72146c78ff",
}
# Bundle ids (iOS/iPadOS) and package ids (Android) an Intune policy targets.
TARGET_IDS = {
    (AtlassianApp.JIRA, "ios"): "com.atlassian.jira.app",
    (AtlassianApp.JIRA, "android"): "com.atlassian.android.jira.core",
    (AtlassianApp.CONFLUENCE, "ios"): "com.atlassian.confluence.app",
    (AtlassianApp.CONFLUENCE, "android"): "com.atlassian.android.confluence.core",
}
PLATFORMS = {"ios": "iOS/iPadOS", "android": "Android"}
APP_SHORT = {AtlassianApp.JIRA: "Jira", AtlassianApp.CONFLUENCE: "Confluence"}

# Atlassian's apps do not support "Start Microsoft Tunnel connection on app-launch" (Graph's
# connectToVpnOnLaunch, beta): never offered, never sent.
UNSUPPORTED = ("connectToVpnOnLaunch",)

DATA_TRANSFER = [("managedApps", "Policy-managed apps only"), ("allApps", "All apps"), ("none", "None")]
CLIPBOARD = [("managedAppsWithPasteIn", "Policy-managed apps, with paste in from any app"),
             ("managedApps", "Policy-managed apps only"), ("blocked", "Blocked"), ("allApps", "Any app")]
PIN_CHARACTERS = [("numeric", "Numbers"), ("alphanumericAndSymbol", "Passcode (letters, numbers, symbols)")]

# Intune's recommended starting point ("level 2, enhanced data protection").
# Reference: https://learn.microsoft.com/mem/intune/apps/app-protection-framework
DEFAULTS: dict[str, Any] = {
    "pin_required": True, "minimum_pin_length": 6, "pin_character_set": "numeric", "maximum_pin_retries": 5,
    "inbound": "managedApps", "outbound": "managedApps", "clipboard": "managedAppsWithPasteIn",
    "data_backup_blocked": True, "save_as_blocked": True, "print_blocked": True,
    "offline_wipe_days": 90, "offline_grace_minutes": 720, "minimum_os_version": "", "minimum_app_version": "",
}


def graph_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The policy's options in Graph's property names (the same for iOS and Android)."""
    values = {**DEFAULTS, **(options or {})}
    settings: dict[str, Any] = {
        "pinRequired": bool(values["pin_required"]),
        "minimumPinLength": int(values["minimum_pin_length"]),
        "pinCharacterSet": values["pin_character_set"],
        "maximumPinRetries": int(values["maximum_pin_retries"]),
        "allowedInboundDataTransferSources": values["inbound"],
        "allowedOutboundDataTransferDestinations": values["outbound"],
        "allowedOutboundClipboardSharingLevel": values["clipboard"],
        "dataBackupBlocked": bool(values["data_backup_blocked"]),
        "saveAsBlocked": bool(values["save_as_blocked"]),
        "printBlocked": bool(values["print_blocked"]),
        # ISO 8601 durations, as Graph takes them.
        "periodOfflineBeforeWipeIsEnforced": f"P{int(values['offline_wipe_days'])}D",
        "periodOfflineBeforeAccessCheck": f"PT{int(values['offline_grace_minutes'])}M",
        "periodOnlineBeforeAccessCheck": "PT30M",
    }
    # Empty means "no minimum": Graph takes null.
    settings["minimumRequiredOsVersion"] = values["minimum_os_version"] or None
    settings["minimumRequiredAppVersion"] = values["minimum_app_version"] or None
    for name in UNSUPPORTED:
        settings.pop(name, None)
    return settings


def target_ids(apps: list[str], platform: str) -> list[str]:
    return [TARGET_IDS[(AtlassianApp(a), platform)] for a in apps]


def display_name(name: str, platform: str) -> str:
    return f"{name} ({PLATFORMS[platform]})"
