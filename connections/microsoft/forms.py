from django import forms


class ConsentLinkSendForm(forms.Form):
    email = forms.EmailField(
        label="Tenant admin's email",
        max_length=254,
        help_text="The portal emails the link to this address; the audit trail records that it was sent, "
        "and to whom.",
    )
