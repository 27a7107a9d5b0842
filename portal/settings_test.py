"""Test settings: the real PostgreSQL and Redis (127.0.0.1 by default), the sandbox on.

Any variable already in the environment wins, so CI or a developer can point the suite
elsewhere (e.g. DATABASE_URL=postgres://user@host:5433/db).
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
# Random-looking on purpose: with DEBUG off the settings refuse placeholder and weak secrets.
os.environ.setdefault(
    "SECRET_KEY", "MjrFjACnYn1d_vN6NFHehWlGlkoXxTrnx1UUqLmRyft7VGDKoL2m6JBJvvoqLSYw4X4y0vXXzu-KDbMQmqM76w"
)
os.environ.setdefault("CREDENTIAL_ENCRYPTION_KEYS", "ZhQu4T_lBYMk8yIf-A3QRUlQCWP4rZ3gcM9YzAd0yyY=")
os.environ.setdefault("AUDIT_CHAIN_KEYS", "t1:Qm3v9Zq2LrX8cT5wYb1Hn7Kd4Fs6Pj0Ga2Ue8Mi5Rx")
os.environ.setdefault("SANDBOX_ENABLED", "true")
os.environ.setdefault("SANDBOX_FORCE", "true")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("EMAIL_URL", "memorymail://")
# Tests send the browser to {ATLASSIAN_AUTH_URL}/authorize (the demo uses the sandbox http port).
os.environ.setdefault("ATLASSIAN_AUTHORIZE_URL", "")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
ACCOUNT_RATE_LIMITS = False  # type: ignore[assignment]  # allauth: False turns them off
# The trail refuses TRUNCATE (tenants/migrations); the test runner empties the database
# between transactional tests with it, so the test connections say they may.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c portal.allow_audit_truncate=on"  # noqa: F405
