from django import forms

from tenants.models import AtlassianSite, MicrosoftTenant

from .permissions import FEATURE_CHOICES


class ConnectionForm(forms.Form):
    site = forms.ModelChoiceField(queryset=AtlassianSite.objects.none(), empty_label="Choose a site")
    tenant = forms.ModelChoiceField(queryset=MicrosoftTenant.objects.none(), empty_label="Choose a tenant")
    features = forms.MultipleChoiceField(
        choices=FEATURE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The connection asks for exactly the permissions these need, and nothing more.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this organization's sites and tenants can be chosen: another's id is "not a choice".
        self.fields["site"].queryset = organization.sites.all()
        self.fields["tenant"].queryset = organization.tenants.all()


class FeaturesForm(forms.Form):
    features = forms.MultipleChoiceField(
        choices=FEATURE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Adding a feature may need new permissions: the connection then asks for re-consent.",
    )
