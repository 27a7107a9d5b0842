"""The Microsoft Search jobs: connections/search/crawl.py does the work."""

from ...models import SyncRun
from ...search import crawl
from . import job

job(SyncRun.Kind.SEARCH_SETUP)(crawl.setup)
job(SyncRun.Kind.SEARCH_CRAWL)(crawl.crawl)
job(SyncRun.Kind.SEARCH_PERMISSIONS)(crawl.permissions)
