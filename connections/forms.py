from django import forms

from tenants.models import AtlassianSite, MicrosoftTenant

from .models import Connection
from .permissions import FEATURE_CHOICES, unfit_features, unfit_in_words


class ConnectionForm(forms.Form):
    site = forms.ModelChoiceField(queryset=AtlassianSite.objects.none(), empty_label="Choose a site")
    tenant = forms.ModelChoiceField(queryset=MicrosoftTenant.objects.none(), empty_label="Choose a tenant")
    features = forms.MultipleChoiceField(
        choices=FEATURE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The connection uses only the permissions these features need. Microsoft's consent screen "
        "lists every application permission of the portal's app registration, more than one feature needs.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this organization's sites and tenants can be chosen: another's id is "not a choice".
        self.fields["site"].queryset = organization.sites.all()
        self.fields["tenant"].queryset = organization.tenants.all()

    def clean(self):
        data = super().clean()
        site, features = data.get("site"), data.get("features")
        if site and features:
            unfit = unfit_features(features, site.products)
            if unfit:
                self.add_error("features", "; ".join(unfit_in_words(f, site.products) for f in unfit) + ".")
        return data


class FeaturesForm(forms.Form):
    features = forms.MultipleChoiceField(
        choices=FEATURE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Adding a feature may need new permissions: the connection then asks for re-consent.",
    )


class ConnectionFilterForm(forms.Form):
    """The connection list's search and status filter (GET); a bad value is ignored with an error."""

    q = forms.CharField(label="Search", required=False, max_length=120,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Site or tenant"}))
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Connection.Status.choices]
    )

    # A site's or a tenant's page links here for "all its connections" (ids of the organization's own).
    site = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    tenant = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def values(self) -> tuple[str, str]:
        """(search text, status) of the valid fields; an invalid one counts as empty."""
        if not self.is_bound:
            return "", ""
        self.is_valid()
        data = self.cleaned_data
        return data.get("q", "").strip(), data.get("status", "")

    def scope(self) -> dict[str, int]:
        """The site or tenant the list is narrowed to, as selector keywords."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return {f"{name}_id": data[name] for name in ("site", "tenant") if data.get(name)}
