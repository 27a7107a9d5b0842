"""The six steps of the Microsoft Search setup, one form each (the sixth is a button)."""

from __future__ import annotations

import re

from django import forms

from ..matching import keys
from ..models import ALWAYS_ON, SEARCH_PROPERTIES, SearchConnection

# Reference: https://learn.microsoft.com/graph/api/resources/externalconnectors-externalconnection
# (id: 3 to 32 letters and digits, not beginning with "Microsoft", not a reserved name)
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9]{3,32}$")
_RESERVED = {
    "none", "directory", "exchange", "exchangearchive", "linkedin", "mailbox", "onedrivebusiness", "sharepoint",
    "teams", "yammer", "connectors", "taskfabric", "powerbi", "assistant", "topicengine", "msft_all_connectors",
}
# Confluence space keys: letters, digits (and ~ for personal spaces).
_SPACE_KEY = re.compile(r"^~?[A-Za-z0-9_]{1,255}$")
MAX_MINUTES = 30 * 24 * 60


class ConnectionStepForm(forms.Form):
    name = forms.CharField(label="Connection name", max_length=128,
                           help_text="What people see as the source of results in Microsoft Search.")
    graph_connection_id = forms.CharField(
        label="Connection id", max_length=32,
        help_text="3 to 32 letters and digits; cannot begin with “Microsoft”. It cannot change once created.")
    description = forms.CharField(label="Description", max_length=500, required=False)

    def clean_graph_connection_id(self):
        value = self.cleaned_data["graph_connection_id"].strip()
        if not _CONNECTION_ID.match(value):
            raise forms.ValidationError("Use 3 to 32 letters and digits only (no spaces or dashes).")
        if value.lower().startswith("microsoft") or value.lower() in _RESERVED:
            raise forms.ValidationError("Microsoft reserves this id; choose another.")
        return value

    def clean_name(self):
        value = self.cleaned_data["name"].strip()
        if not value:
            raise forms.ValidationError("Enter a name.")
        return value


class PropertiesStepForm(forms.Form):
    properties = forms.MultipleChoiceField(
        label="Properties to index", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(key, label) for key, label in SEARCH_PROPERTIES.items()],
        help_text="Title and URL are always indexed.")

    def clean_properties(self):
        return sorted(set(self.cleaned_data["properties"]) | set(ALWAYS_ON))


class FilterStepForm(forms.Form):
    space_keys = forms.CharField(label="Spaces to include", required=False, max_length=4000,
                                 help_text="Space keys separated by commas or spaces; empty: every space.")
    cql = forms.CharField(label="CQL filter", required=False, max_length=2000,
                          widget=forms.Textarea(attrs={"rows": 2}),
                          help_text='Optional, e.g. lastModified >= "2018/12/31". Preview checks it with Confluence.')

    def clean_space_keys(self):
        keys_ = [k for k in re.split(r"[\s,]+", self.cleaned_data["space_keys"]) if k]
        bad = [k for k in keys_ if not _SPACE_KEY.match(k)]
        if bad:
            raise forms.ValidationError(f"Not a space key: {', '.join(bad[:3])}.")
        return sorted(set(keys_))

    def clean_cql(self):
        return self.cleaned_data["cql"].strip()


class PermissionsStepForm(forms.Form):
    permission_mode = forms.ChoiceField(label="Who can see the results", widget=forms.RadioSelect,
                                        choices=SearchConnection.PermissionMode.choices)
    identity_type = forms.ChoiceField(label="Identity type", widget=forms.RadioSelect,
                                      choices=SearchConnection.IdentityType.choices,
                                      initial=SearchConnection.IdentityType.ENTRA)
    upn_pattern = forms.CharField(
        label="Regular expression (non-Entra)", required=False, max_length=keys.MAX_PATTERN,
        help_text=r"Matches the whole Confluence email, e.g. (?P<name>[^@]+)@acme\.example.")
    upn_formula = forms.CharField(label="UPN formula (non-Entra)", required=False, max_length=300,
                                  help_text=r"e.g. \g<name>@contoso.com.")
    anonymous_except_guests = forms.BooleanField(
        label="Anonymous spaces: everyone except guests", required=False,
        help_text="Off: pages of spaces open to anonymous users are visible to everyone in the tenant.")

    def clean(self):
        data = super().clean()
        if data.get("identity_type") == SearchConnection.IdentityType.NON_ENTRA and not {
            "upn_pattern", "upn_formula"} & set(self.errors):
            try:
                keys.compile_rule(data.get("upn_pattern"), data.get("upn_formula"))
            except keys.RuleError as exc:
                self.add_error("upn_formula" if exc.field == "upn_replacement" else "upn_pattern", exc.message)
        elif data.get("identity_type") == SearchConnection.IdentityType.ENTRA:
            data["upn_pattern"] = data["upn_formula"] = ""
        return data


class RefreshStepForm(forms.Form):
    full_every_minutes = forms.IntegerField(label="Full crawl every (minutes)", min_value=0, max_value=MAX_MINUTES,
                                            help_text="Everything again, and removes deleted pages. 0: off.")
    incremental_every_minutes = forms.IntegerField(
        label="Incremental crawl every (minutes)", min_value=0, max_value=MAX_MINUTES,
        help_text="Only what changed (content and properties), and trashed pages. 0: off.")
    permissions_every_minutes = forms.IntegerField(
        label="Permissions crawl every (minutes)", min_value=0, max_value=MAX_MINUTES,
        help_text="Only who may see each page; cheaper than a full crawl. 0: off.")

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("full_every_minutes"):
            self.add_error("full_every_minutes", "Keep a full crawl: it is what removes deleted pages from the index.")
        return data


class DisconnectForm(forms.Form):
    remove_index = forms.BooleanField(
        label="Also remove the index", required=False,
        help_text="Deletes the connection from Microsoft Search with everything indexed. Off: people keep "
                  "finding what was indexed, and it is no longer updated.")


STEP_FORMS = {
    "connection": ConnectionStepForm,
    "properties": PropertiesStepForm,
    "filter": FilterStepForm,
    "permissions": PermissionsStepForm,
    "refresh": RefreshStepForm,
}


def initial_for(step: str, search: SearchConnection) -> dict:
    if step == "filter":
        return {"space_keys": ", ".join(search.space_keys or []), "cql": search.cql}
    form = STEP_FORMS[step]
    return {name: getattr(search, name) for name in form.base_fields}
