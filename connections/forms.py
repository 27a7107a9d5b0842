from django import forms

from tenants.models import AtlassianSite, MicrosoftTenant

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
