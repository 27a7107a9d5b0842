"""The Bot Framework connector's paths under {origin}/botframework/ (real: the serviceUrl a
conversation names, e.g. https://smba.trafficmanager.net/teams/)."""

from django.urls import path

from . import bot

urlpatterns = [
    path("<str:region>/v3/conversations/<str:conversation_id>/activities", bot.activities, name="bot-activities"),
]
