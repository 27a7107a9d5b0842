"""Forms of the user mapping page."""

from django import forms

from ..models import IdentityMode, MatchMethod, MatchOutcome
from . import keys

SHOW_CHOICES = (
    [("", "Everyone")]
    + [(f"matched:{m.value}", f"Matched {m.label}") for m in MatchMethod]
    + [(o.value, o.label) for o in MatchOutcome if o != MatchOutcome.MATCHED]
)


class IdentityModeForm(forms.Form):
    identity_mode = forms.ChoiceField(choices=IdentityMode.choices, widget=forms.RadioSelect, label="Identity mode")
    upn_pattern = forms.CharField(
        label="Regular expression (non-Entra)",
        required=False,
        max_length=keys.MAX_PATTERN,
        help_text=(
            "Must match the whole Atlassian email, case-insensitively; name the parts you need. "
            r"Example: (?P<name>[^@]+)@acme\.example. No backreferences or lookarounds; \w and \d mean "
            "ASCII letters and digits."
        ),
    )
    upn_replacement = forms.CharField(
        label="UPN made of",
        required=False,
        max_length=300,
        help_text=r"Example: \g<name>@contoso.com turns jane.doe@acme.example into jane.doe@contoso.com.",
    )

    def clean(self):
        data = super().clean()
        # A field its own checks refused (too long) already says why: nothing to add to it.
        if data.get("identity_mode") == IdentityMode.NON_ENTRA and not {"upn_pattern", "upn_replacement"} & set(
            self.errors
        ):
            try:
                keys.compile_rule(data.get("upn_pattern"), data.get("upn_replacement"))
            except keys.RuleError as exc:
                self.add_error(exc.field, exc.message)
        return data


class ManualMappingForm(forms.Form):
    account_id = forms.CharField(label="Atlassian account id", max_length=128)
    microsoft_user = forms.CharField(
        label="Microsoft user (object id or UPN)",
        max_length=320,
        help_text="As in the tenant's directory at the last run, e.g. jane.doe@contoso.com.",
    )


class EmailStorageForm(forms.Form):
    store_emails = forms.BooleanField(
        label="Store email addresses of matched users",
        required=False,
        help_text="Off (the default): addresses are only used while matching; the portal keeps ids.",
    )


class FilterForm(forms.Form):
    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False, label="Show")
    q = forms.CharField(required=False, label="Name or account id", max_length=100)
