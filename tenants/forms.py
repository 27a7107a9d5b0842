from collections.abc import Iterable
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from .models import AuditAction, Organization, Role
from .models.directory import AtlassianProduct, MicrosoftCloud
from .validators import normalize_site_url, parse_domains, parse_tenant_id, site_name_from_url


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Usually your company's name.")


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="Admins change sites, tenants and connections; viewers only look.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SiteForm(forms.Form):
    url = forms.CharField(
        label="Site address", max_length=255, help_text="The address you open Jira or Confluence at."
    )
    name = forms.CharField(max_length=120, required=False, help_text="Defaults to the site's name in the address.")
    products = forms.MultipleChoiceField(
        choices=AtlassianProduct.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Which products run on this site.",
    )

    def clean_url(self):
        return normalize_site_url(self.cleaned_data["url"])

    def clean(self):
        data = super().clean()
        if data.get("url") and not data.get("name"):
            data["name"] = site_name_from_url(data["url"])
        return data


class TenantForm(forms.Form):
    tenant_id = forms.CharField(label="Tenant id", max_length=40, help_text="A GUID, from the Entra admin center.")
    display_name = forms.CharField(max_length=120, help_text="For example Contoso.")
    cloud = forms.ChoiceField(
        choices=MicrosoftCloud.choices,
        initial=MicrosoftCloud.PUBLIC,
        help_text="US Government tenants sign in at their own Microsoft hosts.",
    )
    domains = forms.CharField(
        required=False,
        help_text="The tenant's domains, separated by commas (e.g. contoso.com). Which are verified is read "
        "from Microsoft when you find the tenant by signing in, and when a tenant admin grants consent.",
    )

    def clean_tenant_id(self):
        return parse_tenant_id(self.cleaned_data["tenant_id"])

    def clean_domains(self):
        return parse_domains(self.cleaned_data["domains"])


class AuditFilterForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all(), required=False)
    actor = forms.CharField(required=False, help_text="Part of an email or name.")
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, with_organization=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_organization:
            del self.fields["organization"]

    def filter(self, queryset):
        """The valid filters applied; an invalid one is left out and its error shown by its field."""
        if not self.is_bound:
            return queryset
        self.is_valid()
        data = self.cleaned_data
        if data.get("organization"):
            queryset = queryset.filter(organization=data["organization"])
        if data.get("actor"):
            queryset = queryset.filter(actor_label__icontains=data["actor"])
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        # Day bounds as times (not created_at::date), so the time index serves the range.
        if data.get("date_from"):
            queryset = queryset.filter(created_at__gte=_start_of(data["date_from"]))
        if data.get("date_to"):
            queryset = queryset.filter(created_at__lt=_start_of(data["date_to"] + timedelta(days=1)))
        return queryset


def _start_of(day):
    """Midnight of `day` in the current time zone (what the date filter's days mean)."""
    return timezone.make_aware(datetime.combine(day, time.min))


class SearchForm(forms.Form):
    """A list's search boxes (GET), by default one named `q`. A value that cannot be searched
    (too long, a NUL byte) is ignored and its error shown by the box."""

    def __init__(self, *args, fields: Iterable[str] = ("q",), **kwargs):
        super().__init__(*args, **kwargs)
        for name in fields:
            self.fields[name] = forms.CharField(
                label="Search" if name == "q" else f"{name.capitalize()}s matching", required=False,
                max_length=120, widget=forms.TextInput(attrs={"type": "search"}),
            )

    def text(self, name: str) -> str:
        if not self.is_bound:
            return ""
        self.is_valid()
        return self.cleaned_data.get(name, "").strip()


class SiteEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    products = forms.MultipleChoiceField(
        choices=AtlassianProduct.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Which products run on this site. Features that need a product the site does not run are "
        "refused, and connections using them are shown as degraded.",
    )


class TenantEditForm(forms.Form):
    display_name = forms.CharField(max_length=120)
    domains = forms.CharField(
        required=False,
        help_text="The tenant's domains, separated by commas (e.g. contoso.com). A domain kept keeps what "
        "Microsoft said of it.",
    )

    def clean_domains(self):
        return parse_domains(self.cleaned_data["domains"])


class SupportAccessForm(forms.Form):
    ticket = forms.RegexField(
        label="Ticket reference", max_length=64, regex=r"^[A-Za-z0-9][A-Za-z0-9#._/-]*$",
        help_text="The support ticket this look is for, e.g. SUP-1234.",
        error_messages={"invalid": "Enter a ticket reference: letters, digits and - _ . / # (e.g. SUP-1234)."},
    )
    reason = forms.CharField(
        min_length=10, max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One sentence the organization's admins will read: why you need to look.",
    )


class OrganizationRemoveForm(forms.Form):
    name = forms.CharField(max_length=120, label="Type the organization's name to confirm")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_name(self):
        if self.cleaned_data["name"].strip() != self.organization.name:
            raise forms.ValidationError(f"Type {self.organization.name} exactly to remove it.")
        return self.cleaned_data["name"]
