"""Forms of the incident pages and of the API keys."""

from django import forms

from .services import NOTE_MAX


class NoteForm(forms.Form):
    text = forms.CharField(label="Chat message", max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="Paste the Teams chat message. It is added to the incident as an internal "
                           "note: agents see it, the customer does not.")
    author = forms.CharField(label="Written by (optional)", max_length=200, required=False)


class CreateAnywayForm(forms.Form):
    confirm = forms.BooleanField(
        label="I looked in Teams: there is no chat for this incident. Create one.",
        help_text="Microsoft does not prevent a second chat for the same incident.",
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100,
                           help_text="What uses the key, e.g. the automation rule “Major incident → Teams”.")
