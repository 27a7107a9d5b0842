from django import forms

from ..models import NotificationTarget


class TargetForm(forms.Form):
    source = forms.ChoiceField(choices=NotificationTarget.Source.choices)
    source_id = forms.RegexField(regex=r"^[0-9A-Za-z_-]{1,64}$", max_length=64)
    source_key = forms.CharField(max_length=64)
    source_name = forms.CharField(max_length=256)
    team_id = forms.RegexField(regex=r"^[0-9a-fA-F-]{36}$", error_messages={"invalid": "Choose a team."})
    channel_id = forms.CharField(max_length=200, error_messages={"required": "Choose a channel."})
