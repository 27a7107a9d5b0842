"""Where the sandbox keeps its state.

On PostgreSQL (tests, benchmarks) the sandbox's tables live in the portal's database. On the
SQLite demo they get a file of their own (the `sandbox` alias): SQLite locks the whole file
for a write, and the portal rightly holds a row lock across some calls to Microsoft or
Atlassian (the single-flight token refresh). Were the simulated providers to write into the
same file meanwhile, each would wait for the other until the lock timeout. Real providers
share no database with the portal, so neither does this one.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction

ALIAS = "sandbox"
APP_LABELS = frozenset({"sandbox", "sandbox_microsoft", "sandbox_atlassian"})


def alias():
    return ALIAS if ALIAS in settings.DATABASES else DEFAULT_DB_ALIAS


def atomic():
    """transaction.atomic on the sandbox's database (a decorator or a context manager)."""
    return transaction.atomic(using=alias())


class SandboxRouter:
    """Sends the sandbox's models to its own database when one is configured."""

    def db_for_read(self, model, **hints):
        return ALIAS if model._meta.app_label in APP_LABELS and ALIAS in settings.DATABASES else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, **hints):
        if ALIAS not in settings.DATABASES:
            return None
        return (app_label in APP_LABELS) == (db == ALIAS)
