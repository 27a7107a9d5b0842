"""Forms of the Intune pages: the organization and its key, a mobile app policy, groups."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from ..models import AtlassianApp
from . import protection

_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_-]{2,63}$")
_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){0,3}$")


def _end_of_day(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59)), timezone.get_current_timezone())


class KeyForm(forms.Form):
    api_key = forms.CharField(
        label="Organization API key", max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="admin.atlassian.com › Settings › API keys › Create API key (with the scope read:domains:admin, "
        "or no scopes). Kept encrypted; never shown again.")
    key_expires_on = forms.DateField(
        label="The key expires on", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="As Atlassian showed it (one week by default, at most a year): the portal warns before it expires.")

    def clean_api_key(self) -> str:
        value = self.cleaned_data["api_key"]
        if any(c.isspace() for c in value) or len(value) < 16:
            raise forms.ValidationError("This does not look like an Atlassian API key.")
        return value

    def expires_at(self) -> datetime:
        return _end_of_day(self.cleaned_data["key_expires_on"])


class OrganizationForm(KeyForm):
    name = forms.CharField(max_length=120, help_text="How the portal names it.")
    org_id = forms.CharField(
        label="Atlassian organization id", max_length=64,
        help_text="In admin.atlassian.com's address: admin.atlassian.com/o/<organization id>/…")

    field_order = ["name", "org_id", "api_key", "key_expires_on"]

    def clean_org_id(self) -> str:
        value = self.cleaned_data["org_id"].strip()
        if not _ORG_ID.match(value):
            raise forms.ValidationError("An organization id is letters, digits and dashes (copy it from the address).")
        return value


def _version(value: str) -> str:
    value = (value or "").strip()
    if value and not _VERSION.match(value):
        raise forms.ValidationError("A version such as 16.0 or 12.3.1.")
    return value


class PolicyForm(forms.Form):
    """The settings an admin expects of an app protection policy. "Start Microsoft Tunnel
    connection on app-launch" is not offered: Atlassian's apps do not support it."""

    name = forms.CharField(max_length=80)
    apps = forms.MultipleChoiceField(choices=AtlassianApp.choices, widget=forms.CheckboxSelectMultiple,
                                     initial=list(AtlassianApp.values))
    platforms = forms.MultipleChoiceField(choices=list(protection.PLATFORMS.items()),
                                          widget=forms.CheckboxSelectMultiple, initial=list(protection.PLATFORMS))
    pin_required = forms.BooleanField(required=False, label="Require a PIN for access")
    minimum_pin_length = forms.IntegerField(min_value=4, max_value=16, label="Minimum PIN length")
    pin_character_set = forms.ChoiceField(choices=protection.PIN_CHARACTERS, label="PIN type")
    maximum_pin_retries = forms.IntegerField(min_value=1, max_value=20, label="PIN attempts before reset")
    inbound = forms.ChoiceField(choices=protection.DATA_TRANSFER, label="Receive data from")
    outbound = forms.ChoiceField(choices=protection.DATA_TRANSFER, label="Send data to")
    clipboard = forms.ChoiceField(choices=protection.CLIPBOARD, label="Cut, copy and paste to")
    data_backup_blocked = forms.BooleanField(required=False, label="Block backups (iTunes, iCloud, Android backup)")
    save_as_blocked = forms.BooleanField(required=False, label="Block “Save as” of organization data")
    print_blocked = forms.BooleanField(required=False, label="Block printing of organization data")
    offline_wipe_days = forms.IntegerField(min_value=1, max_value=90,
                                           label="Wipe app data after this many days offline")
    offline_grace_minutes = forms.IntegerField(min_value=1, max_value=1440 * 7,
                                               label="Recheck access after this many minutes offline")
    minimum_os_version = forms.CharField(required=False, max_length=20, label="Minimum OS version (blocks older)")
    minimum_app_version = forms.CharField(required=False, max_length=20, label="Minimum app version (blocks older)")

    OPTION_FIELDS = tuple(protection.DEFAULTS)

    def clean_minimum_os_version(self) -> str:
        return _version(self.cleaned_data.get("minimum_os_version", ""))

    def clean_minimum_app_version(self) -> str:
        return _version(self.cleaned_data.get("minimum_app_version", ""))

    def options(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.OPTION_FIELDS}

    @classmethod
    def initial_for(cls, policy=None) -> dict[str, Any]:
        if policy is None:
            return {**protection.DEFAULTS, "apps": list(AtlassianApp.values), "platforms": list(protection.PLATFORMS)}
        return {**protection.DEFAULTS, **policy.options, "name": policy.name, "apps": policy.apps,
                "platforms": policy.platforms}


class GroupsForm(forms.Form):
    groups = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple, required=False,
                                       label="Assign to these groups")

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].choices = choices


class ConsentLinkForm(forms.Form):
    tenant_id = forms.CharField(max_length=64)
    app = forms.ChoiceField(choices=AtlassianApp.choices)
