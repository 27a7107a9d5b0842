"""The user matching job: connections/matching/job.py does the work."""

from ...matching.job import match_users
from ...models import SyncRun
from . import job

job(SyncRun.Kind.USER_MATCHING)(match_users)
