from django import forms

from tenants.validators import normalize_site_url

from ..permissions import FEATURE_CHOICES


class ConnectForm(forms.Form):
    features = forms.MultipleChoiceField(
        choices=FEATURE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The portal asks Atlassian for exactly the scopes these features need, and nothing more. "
        "Connections you add later to this site can ask for more.",
    )


class ChooseSiteForm(forms.Form):
    cloud_id = forms.ChoiceField(
        label="Site", widget=forms.RadioSelect, error_messages={"required": "Choose the site to connect."}
    )

    def __init__(self, *args, resources, **kwargs):
        super().__init__(*args, **kwargs)
        # No initial value on purpose: the admin chooses, the portal never picks the first.
        self.fields["cloud_id"].choices = [(r.cloud_id, f"{r.name} ({r.url})") for r in resources]


class ApiTokenForm(forms.Form):
    url = forms.CharField(label="Site address", max_length=255, help_text="For example https://your-site.atlassian.net")
    name = forms.CharField(max_length=120, required=False, help_text="Defaults to the site's name in the address.")
    email = forms.EmailField(help_text="The email address of the Atlassian account that created the API token.")
    api_token = forms.CharField(
        label="API token",
        widget=forms.PasswordInput(render_value=False),
        help_text="Create one at id.atlassian.com, Security, API tokens. The portal checks it with the site "
        "before saving it, stores it encrypted, and never shows it again.",
    )

    def clean_url(self):
        return normalize_site_url(self.cleaned_data["url"])


class SiteApiTokenForm(forms.Form):
    email = forms.EmailField(help_text="The email address of the Atlassian account that created the API token.")
    api_token = forms.CharField(
        label="API token",
        widget=forms.PasswordInput(render_value=False),
        help_text="Checked with the site before it is saved; stored encrypted, never shown again.",
    )
