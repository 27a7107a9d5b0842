"""The channel messages job: connections/teams/messages.py does the work."""

from ...models import SyncRun
from ...teams.messages import sync_messages
from . import job

job(SyncRun.Kind.CHANNEL_MESSAGES)(sync_messages)
