"""The Teams directory job: connections/teams/directory.py does the work."""

from ...models import SyncRun
from ...teams.directory import sync_directory
from . import job

job(SyncRun.Kind.TEAMS_DIRECTORY)(sync_directory)
