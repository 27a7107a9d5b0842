from django import forms

from tenants.models import AtlassianSite, MicrosoftTenant


class ConnectionForm(forms.Form):
    site = forms.ModelChoiceField(queryset=AtlassianSite.objects.none(), empty_label="Choose a site")
    tenant = forms.ModelChoiceField(queryset=MicrosoftTenant.objects.none(), empty_label="Choose a tenant")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this organization's sites and tenants can be chosen: another's id is "not a choice".
        self.fields["site"].queryset = organization.sites.all()
        self.fields["tenant"].queryset = organization.tenants.all()
