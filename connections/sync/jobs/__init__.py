"""The job registry. Each module in this package registers one job with `@job(kind)`:

    @job(SyncRun.Kind.USER_MATCHING)
    def match_users(ctx): ...

A job gets a connections.sync.context.RunContext, returns nothing, raises JobError with a
remedy for failures the user can fix.
"""

import importlib
import pkgutil
from collections.abc import Callable

JOBS: dict[str, Callable] = {}


def job(kind):
    def register(func):
        JOBS[str(kind)] = func
        return func

    return register


def load_all():
    """Import every job module once, so each registers itself."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return JOBS


def job_for(kind):
    return load_all().get(str(kind))
