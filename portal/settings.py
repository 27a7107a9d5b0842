"""Settings for the connections portal, all read from the environment (django-environ).

Every variable, its default and its meaning is listed in the README's "Configuration"
section. Defaults suit a first run on a laptop (SQLite, the embedded broker); with
DEBUG off the portal refuses to start on an unsafe secret instead of running insecurely.
"""

from datetime import date
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is read if present; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# Local state of a development run (SQLite files, the embedded broker, the sandbox's CA).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _secret(name, default=None):
    """A secret from NAME, or from the file named by NAME_FILE (docker/k8s secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)

# --- secrets ---------------------------------------------------------------------------
# With DEBUG off, a placeholder or weak secret stops the start (portal/secret_checks.py);
# `check --deploy` reports the same problems (portal/checks.py).
from portal import secret_checks as _secret_checks  # noqa: E402  (stdlib only, no Django)

_DEV_SECRET_KEY = _secret_checks.DEV_SECRET_KEY
SECRET_KEY = _secret("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the portal needs a long random secret: "
            f"set SECRET_KEY (or SECRET_KEY_FILE), e.g. from `{_secret_checks.GENERATE_SECRET_KEY}`."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (_problem := _secret_checks.secret_key_problem(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is unsafe: {_problem}. Generate a new one: `{_secret_checks.GENERATE_SECRET_KEY}`."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The portal's public address, used in links that leave it (invitations, consent links).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Fernet keys for credentials at rest, newest first; older keys still decrypt, so a key
# can be rotated (`manage.py rotate_credentials` re-encrypts under the newest).
CREDENTIAL_ENCRYPTION_KEYS = env.list("CREDENTIAL_ENCRYPTION_KEYS", default=[])
if not CREDENTIAL_ENCRYPTION_KEYS:
    _keys_file = env.str("CREDENTIAL_ENCRYPTION_KEYS_FILE", default="")
    if _keys_file:
        CREDENTIAL_ENCRYPTION_KEYS = Path(_keys_file).read_text().split()
if not CREDENTIAL_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "CREDENTIAL_ENCRYPTION_KEYS is not set. With DEBUG off the portal needs at least one "
            f"Fernet key to encrypt stored tokens: `{_secret_checks.GENERATE_FERNET_KEY}`."
        )
    # Development only: a key derived from the development secret, stable across runs.
    CREDENTIAL_ENCRYPTION_KEYS = [_secret_checks.dev_credential_key(SECRET_KEY)]
elif not DEBUG and (_problems := _secret_checks.credential_keys_problems(CREDENTIAL_ENCRYPTION_KEYS)):
    raise ImproperlyConfigured(
        "CREDENTIAL_ENCRYPTION_KEYS is unsafe: "
        + "; ".join(f"key {n}: {why}" for n, why in _problems)
        + f". Generate a new key: `{_secret_checks.GENERATE_FERNET_KEY}`."
    )

# Keys that sign the audit trail's hash chain (tenants/audit_chain.py), `id:secret`, newest
# first; kept outside the database, so someone with database rights alone can neither rewrite
# an event nor insert one undetected. Older entries still verify the events they signed.
AUDIT_CHAIN_KEYS = env.list("AUDIT_CHAIN_KEYS", default=[])
if not AUDIT_CHAIN_KEYS:
    _chain_keys_file = env.str("AUDIT_CHAIN_KEYS_FILE", default="")
    if _chain_keys_file:
        AUDIT_CHAIN_KEYS = Path(_chain_keys_file).read_text().replace(",", " ").split()
if not AUDIT_CHAIN_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "AUDIT_CHAIN_KEYS is not set. With DEBUG off the portal needs a key to sign its audit "
            f"trail: `{_secret_checks.GENERATE_AUDIT_CHAIN_KEY}`."
        )
    # Development only: a key derived from the development secret, stable across runs.
    AUDIT_CHAIN_KEYS = [f"{_secret_checks.DEV_AUDIT_CHAIN_KEY_ID}:{_secret_checks.dev_audit_chain_key(SECRET_KEY)}"]
try:
    _secret_checks.parse_audit_chain_keys(AUDIT_CHAIN_KEYS)
except ValueError as exc:
    raise ImproperlyConfigured(f"AUDIT_CHAIN_KEYS: {exc}.") from None
if not DEBUG and (_problems := _secret_checks.audit_chain_keys_problems(AUDIT_CHAIN_KEYS)):
    raise ImproperlyConfigured(
        "AUDIT_CHAIN_KEYS is unsafe: "
        + "; ".join(f"key {key_id}: {why}" for key_id, why in _problems)
        + f". Generate a new key: `{_secret_checks.GENERATE_AUDIT_CHAIN_KEY}`."
    )
# A removed organization's audit trail is kept this many days after the removal, then deleted
# by `manage.py audit purge` (run as the tables' owner: the app role may not delete audit rows).
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# How often the beat verifies every organization's chain (seconds); a break is mailed to
# support staff and recorded in the trail.
AUDIT_VERIFY_INTERVAL = env.int("AUDIT_VERIFY_INTERVAL", default=3600)

# --- applications ------------------------------------------------------------------------
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
if SANDBOX_ENABLED and not DEBUG and not env.bool("SANDBOX_FORCE", default=False):
    raise ImproperlyConfigured(
        "SANDBOX_ENABLED is on while DEBUG is off. The sandbox impersonates Microsoft and "
        "Atlassian and must never run in production; set SANDBOX_FORCE=true only for tests."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "portal",
    "tenants",
    "connections",
    "support",
]
if SANDBOX_ENABLED:
    # bench: `manage.py benchmark`, which seeds and serves the sandbox.
    INSTALLED_APPS += ["sandbox", "sandbox.microsoft", "sandbox.atlassian", "bench"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "portal.csp.PortalCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenants.middleware.CurrentOrganizationMiddleware",
    # Last, so its process_exception sees a view's database outage first (the maintenance page).
    "portal.maintenance.DatabaseUnavailableMiddleware",
]

if SANDBOX_ENABLED:
    # Requests that arrive through the sandbox's own servers get the sandbox's URLconf.
    MIDDLEWARE.insert(0, "sandbox.middleware.SandboxOriginMiddleware")

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.organization",
            ],
        },
    },
]

# --- data ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and the sandbox share one file: WAL lets readers and a
    # writer work at once, IMMEDIATE transactions avoid lock-upgrade deadlocks, and the
    # timeout makes a writer wait rather than fail. A sync run commits a page at a time and
    # its indexes take random keys, so nearly every page dirties a thousand pages of the file:
    # at SQLite's default (a checkpoint per 1,000 pages in the WAL) almost every commit would
    # copy the WAL back into the file. At 10,000 (a WAL of up to about 40 MB) a page written
    # by several commits goes back once.
    # Reference: https://www.sqlite.org/wal.html#automatic_checkpoint
    # Reference: https://www.sqlite.org/pragma.html#pragma_wal_autocheckpoint
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=10000;",
        }
    )
    if SANDBOX_ENABLED:
        # The simulated providers keep their state in a file of their own (see sandbox/db.py).
        DATABASES["sandbox"] = {
            **DATABASES["default"],
            "NAME": str(Path(DATABASES["default"]["NAME"]).with_name("sandbox.sqlite3")),
        }
        DATABASE_ROUTERS = ["sandbox.db.SandboxRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"

# --- Celery -------------------------------------------------------------------------------
# Default: kombu's filesystem transport, a broker embedded in the file system, so a first
# run needs no server. Production and the test suite use Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
    }
    for _folder in (_queue_dir, VAR_DIR / "celery-control"):
        _folder.mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker that keeps running through a broker restart with a task in flight (see the class).
CELERY_WORKER_CONSUMER = "portal.celery:Consumer"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE = {}
CELERY_TIMEZONE = "UTC"

# --- the outbox (portal/outbox.py): Celery work committed with the change it follows ---------
# Seconds a request waits for the broker before leaving the message to the relay.
OUTBOX_BROKER_TIMEOUT = env.float("OUTBOX_BROKER_TIMEOUT", default=2.0)
# The relay leaves a fresh message this long (seconds) to the send right after its commit.
OUTBOX_RELAY_GRACE = env.int("OUTBOX_RELAY_GRACE", default=60)
# A failed send is tried again after OUTBOX_RETRY_BASE * 2**(attempts-1) s, at most OUTBOX_RETRY_MAX.
OUTBOX_RETRY_BASE = env.int("OUTBOX_RETRY_BASE", default=30)
OUTBOX_RETRY_MAX = env.int("OUTBOX_RETRY_MAX", default=3600)
OUTBOX_RELAY_BATCH = env.int("OUTBOX_RELAY_BATCH", default=200)
# Sent messages are deleted after this many days.
OUTBOX_KEEP_SENT_DAYS = env.int("OUTBOX_KEEP_SENT_DAYS", default=7)
CELERY_BEAT_SCHEDULE["portal.outbox_relay"] = {"task": "portal.outbox_relay", "schedule": 30.0}

# --- sync jobs: throttling, schedules, stuck runs -----------------------
# Requests per second each Microsoft tenant (or Atlassian site) may get from all workers
# together, and the burst it may spend at once: one large tenant cannot starve the others.
SYNC_TENANT_RATE = env.float("SYNC_TENANT_RATE", default=20.0)
SYNC_TENANT_BURST = env.int("SYNC_TENANT_BURST", default=40)
# Microsoft Graph's budget per tenant, for the same purpose. Microsoft documents the identity
# service's limit per app and tenant as 3,500, 5,000 or 8,000 resource units per 10 seconds by
# tenant size, most reads costing 1 or 2 units: 100 requests a second stays well within the
# smallest, and a 429 still blocks the tenant for its Retry-After (and paces it after).
# Reference: https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
SYNC_GRAPH_RATE = env.float("SYNC_GRAPH_RATE", default=100.0)
SYNC_GRAPH_BURST = env.int("SYNC_GRAPH_BURST", default=100)
# User matching: how many Jira accounts a full run may hold read ahead of their use (the listing
# runs while the Microsoft side is read and written), as small tuples: about 10 MB at 25,000.
SYNC_LOOKAHEAD_ACCOUNTS = env.int("SYNC_LOOKAHEAD_ACCOUNTS", default=25_000)
# Tries per request on 5xx / connection errors (jittered backoff) and on 429/503 (Retry-After).
SYNC_HTTP_MAX_ATTEMPTS = env.int("SYNC_HTTP_MAX_ATTEMPTS", default=6)
# Inside a sync run, a failing request is retried for this long (seconds) after it first
# failed, so a short provider outage does not fail the whole run.
SYNC_OUTAGE_WINDOW = env.float("SYNC_OUTAGE_WINDOW", default=120.0)
# A Retry-After longer than this (seconds) ends the run with "try later" instead of a long sleep.
SYNC_RETRY_AFTER_MAX = env.float("SYNC_RETRY_AFTER_MAX", default=300.0)
# A run asked to wait longer than this (seconds) goes back in the queue from its checkpoint,
# due when the wait ends, and its worker serves other runs meanwhile; shorter waits sleep.
SYNC_GIVE_BACK_AFTER = env.float("SYNC_GIVE_BACK_AFTER", default=5.0)
# A key that met 429s is paced to the limit they showed (connections.pace) for this long
# (seconds) after it was learnt, then goes at full speed again until the next 429.
SYNC_PACE_FORGET_AFTER = env.float("SYNC_PACE_FORGET_AFTER", default=120.0)
# A running run stuck longer than SYNC_STUCK_AFTER (below) is resumed from its checkpoint
# by the beat's stuck detector up to this many times, then marked failed.
SYNC_STUCK_MAX_RESUMES = env.int("SYNC_STUCK_MAX_RESUMES", default=3)
# A run that failed because the provider was unavailable or busy (5xx, 429, no answer) and
# saved a checkpoint is started again from it by the beat, this many times at most, the first
# SYNC_AUTO_RETRY_DELAY seconds after the failure, each next one after twice the wait before.
SYNC_AUTO_RETRIES = env.int("SYNC_AUTO_RETRIES", default=3)
SYNC_AUTO_RETRY_DELAY = env.int("SYNC_AUTO_RETRY_DELAY", default=300)

# Confluence in Microsoft Search. Graph ingests at most 25 items/s per connection
# (https://learn.microsoft.com/graph/connecting-external-content-api-limits): stay under it. A
# token bucket sends up to rate + burst in any one second, so the two together stay within 25
# (a burst as large as the rate would be throttled every second, waiting out a Retry-After each time).
SEARCH_INGEST_RATE = env.float("SEARCH_INGEST_RATE", default=20.0)
SEARCH_INGEST_BURST = env.int("SEARCH_INGEST_BURST", default=5)
# Graph writes of one crawled page in flight at once (Graph takes 25 concurrent operations per
# connection and app), and Confluence reads of one listing page (view restrictions, ancestors).
SEARCH_INGEST_CONCURRENCY = env.int("SEARCH_INGEST_CONCURRENCY", default=8)
SEARCH_CONFLUENCE_CONCURRENCY = env.int("SEARCH_CONFLUENCE_CONCURRENCY", default=4)
# Seconds between polls of the schema registration (Graph says it takes 5 to 15 minutes), and
# how long to poll before the setup run gives up.
SEARCH_SCHEMA_POLL = env.float("SEARCH_SCHEMA_POLL", default=15.0)
SEARCH_SCHEMA_TIMEOUT = env.float("SEARCH_SCHEMA_TIMEOUT", default=3600.0)
# Where the crawl reads Confluence from: a function(connection) -> ConfluenceSource.
SEARCH_SOURCE = env.str("SEARCH_SOURCE", default="connections.search.confluence.source_for")
# Every minute: start due scheduled runs (one task per connection), resume or fail stuck ones.
CELERY_BEAT_SCHEDULE.update(
    {
        "sync-kickoff": {"task": "connections.sync_kickoff", "schedule": 60.0},
        "sync-unstick": {"task": "connections.sync_unstick", "schedule": 60.0},
    }
)

# --- Intune app protection: every Atlassian organization's domains, tenants and the apps'
# consent are checked again this often (seconds), so consent given at Microsoft shows by itself.
INTUNE_CHECK_INTERVAL = env.int("INTUNE_CHECK_INTERVAL", default=3600)
CELERY_BEAT_SCHEDULE["connections.intune_check_kickoff"] = {
    "task": "connections.intune_check_kickoff", "schedule": float(INTUNE_CHECK_INTERVAL)}

# --- the audit trail: chain verification ------------------------------------------------
CELERY_BEAT_SCHEDULE["tenants.audit_verify"] = {"task": "tenants.audit_verify", "schedule": AUDIT_VERIFY_INTERVAL}

# --- accounts (django-allauth) ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
# Sign-up with an address that already has an account answers like a new one (the same
# "check your email" page) and mails the owner instead; this only holds with mandatory
# verification, since otherwise a new account is signed in at once.
# https://docs.allauth.org/en/latest/account/configuration.html (ACCOUNT_PREVENT_ENUMERATION)
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Connections portal] "
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
LOGIN_REDIRECT_URL = "tenants:dashboard"
LOGIN_URL = "account_login"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Connections portal"
# TOTP secrets and recovery-code seeds encrypted with CREDENTIAL_ENCRYPTION_KEYS; someone with a
# second factor reauthenticates with it, never with the password alone; rate limits per client
# count the address portal/client_ip.py works out (portal/accounts.py).
MFA_ADAPTER = "portal.accounts.MFAAdapter"
ACCOUNT_ADAPTER = "portal.accounts.AccountAdapter"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- email --------------------------------------------------------------------------------
# Default: printed to the console (the demo shows verification links there).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG.get("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend":
    # The same messages, with decoded subjects and the text body as text (portal/mail.py).
    EMAIL_BACKEND = "portal.mail.ReadableConsoleBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- organizations and consent links ------------------------------------------------------
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
CONSENT_LINK_TTL_DAYS = env.int("CONSENT_LINK_TTL_DAYS", default=7)
# Requests per minute per client address on consent link pages (they need no account), and
# per link from all clients together (see connections/ratelimit.py).
CONSENT_LINK_RATE_LIMIT = env.int("CONSENT_LINK_RATE_LIMIT", default=30)
CONSENT_LINK_RATE_LIMIT_PER_LINK = env.int("CONSENT_LINK_RATE_LIMIT_PER_LINK", default=120)

# --- support staff ---------------------------------------------------------------------
# Support opens an organization's pages only after giving a reason (a ticket and a sentence);
# the access lasts this many minutes, then a new reason is asked for.
SUPPORT_ACCESS_MINUTES = env.int("SUPPORT_ACCESS_MINUTES", default=60)

# --- sync jobs --------------------------------------------------------------------
# A running sync run that has not saved progress for this long is taken as stuck: its worker
# died. It is resumed from its checkpoint (see connections/sync/runner.py).
SYNC_STUCK_AFTER = env.int("SYNC_STUCK_AFTER", default=300)

# --- cache --------------------------------------------------------------------------------
# Rate limits live here: in production use Redis so every web process shares the counts.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- i18n, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Addresses or networks (CIDR) of the reverse proxies in front of the portal. Only a request
# from one of them has its X-Forwarded-For believed (see portal/client_ip.py); empty: none is,
# and the client is the peer that connected.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    from portal.client_ip import parse_networks as _parse_networks

    _parse_networks(TRUSTED_PROXIES)
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}.") from None
if not DEBUG:
    # Behind a TLS-terminating proxy (see docker-compose.yml) that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Records carrying tenant or site URLs (health-check results, sync-run errors, log files) are
# kept this many days (connections/retention.py, daily); `check --deploy` warns above 5.
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=5)
if LOG_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("LOG_RETENTION_DAYS must be at least 1.")
# Also write the log to files here (one per process kind, rotated at midnight UTC, kept
# LOG_RETENTION_DAYS days); empty: standard output only.
LOG_DIR = env.str("LOG_DIR", default="")
CELERY_BEAT_SCHEDULE["connections.retention_purge"] = {"task": "connections.retention_purge", "schedule": 86400.0}
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    # Request lines carry OAuth codes and states in query strings and consent-link tokens in
    # paths: every handler rewrites them (portal/log_redaction.py; gunicorn: gunicorn.conf.py).
    "filters": {"redact": {"()": "portal.log_redaction.RedactingFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # Django's default logging gives "django" a console handler of its own when DEBUG is on;
        # beside the root handler every such line would print twice. Root alone prints it.
        "django": {"handlers": [], "level": LOG_LEVEL},
    },
}
if LOG_DIR:
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.TimedRotatingFileHandler",
        "filename": str(Path(LOG_DIR) / env.str("LOG_FILE_NAME", default="portal.log")),
        "when": "midnight",
        "utc": True,
        "backupCount": LOG_RETENTION_DAYS,
        "filters": ["redact"],
    }
    LOGGING["root"]["handlers"].append("file")
    LOGGING["loggers"]["django.server"]["handlers"].append("file")

# --- Microsoft and Atlassian endpoints ------------------------------------------------------
# The real services by default; the sandbox's HTTPS origin when SANDBOX_ENABLED is on.
from sandbox import defaults as _sandbox  # noqa: E402  (plain constants, no Django)

SANDBOX_HOST = env.str("SANDBOX_HOST", default=_sandbox.DEFAULT_HOST)
SANDBOX_PORT = env.int("SANDBOX_PORT", default=_sandbox.DEFAULT_PORT)
SANDBOX_DIR = Path(env.str("SANDBOX_DIR", default=str(VAR_DIR / "sandbox")))
_origin = _sandbox.origin(SANDBOX_HOST, SANDBOX_PORT)


def _endpoint(name, real, sandbox_path):
    return env.str(name, default=_origin + sandbox_path if SANDBOX_ENABLED else real).rstrip("/")


MICROSOFT_AUTHORITY_HOST = _endpoint(
    "MICROSOFT_AUTHORITY_HOST", "https://login.microsoftonline.com", _sandbox.MICROSOFT_AUTHORITY_PATH
)
MICROSOFT_GRAPH_URL = _endpoint("MICROSOFT_GRAPH_URL", "https://graph.microsoft.com", _sandbox.GRAPH_PATH)
ATLASSIAN_AUTH_URL = _endpoint("ATLASSIAN_AUTH_URL", "https://auth.atlassian.com", _sandbox.ATLASSIAN_AUTH_PATH)
ATLASSIAN_API_URL = _endpoint("ATLASSIAN_API_URL", "https://api.atlassian.com", _sandbox.ATLASSIAN_API_PATH)
# Where the browser is sent to authorize (the real one lives under ATLASSIAN_AUTH_URL); the
# sandbox serves its sign-in pages on plain-http loopback, sparing a certificate warning.
ATLASSIAN_AUTHORIZE_URL = env.str(
    "ATLASSIAN_AUTHORIZE_URL",
    default=_sandbox.browser_origin(SANDBOX_HOST, SANDBOX_PORT - 1) + _sandbox.ATLASSIAN_AUTH_PATH + "/authorize"
    if SANDBOX_ENABLED
    else "",
)
# Extra URL prefixes accepted as Atlassian site URLs besides https://*.atlassian.net.
ATLASSIAN_EXTRA_SITE_PREFIXES = env.list(
    "ATLASSIAN_EXTRA_SITE_PREFIXES",
    default=[_origin + _sandbox.ATLASSIAN_SITES_PATH + "/"] if SANDBOX_ENABLED else [],
)
# CA bundle the portal's HTTP clients trust (the sandbox's local CA); empty: the system's.
HTTP_CA_BUNDLE = env.str(
    "HTTP_CA_BUNDLE", default=str(SANDBOX_DIR / "ca.pem") if SANDBOX_ENABLED else ""
)

MICROSOFT_CLIENT_ID = env.str(
    "MICROSOFT_CLIENT_ID", default=_sandbox.MICROSOFT_CLIENT_ID if SANDBOX_ENABLED else ""
)
MICROSOFT_CLIENT_SECRET = _secret(
    "MICROSOFT_CLIENT_SECRET", default=_sandbox.MICROSOFT_CLIENT_SECRET if SANDBOX_ENABLED else ""
)
ATLASSIAN_CLIENT_ID = env.str(
    "ATLASSIAN_CLIENT_ID", default=_sandbox.ATLASSIAN_CLIENT_ID if SANDBOX_ENABLED else ""
)
ATLASSIAN_CLIENT_SECRET = _secret(
    "ATLASSIAN_CLIENT_SECRET", default=_sandbox.ATLASSIAN_CLIENT_SECRET if SANDBOX_ENABLED else ""
)

# --- incident chats and meetings ------------------
# Seconds to wait for Microsoft Graph to answer a chat or meeting creation. No answer in time
# leaves it unknown whether Teams made it: the portal then never creates a second one on its own.
CHATOPS_GRAPH_TIMEOUT = env.float("CHATOPS_GRAPH_TIMEOUT", default=20.0)
# --- Teams notifications: the portal's Teams app and its bot ------------------------------------
# The bot's Microsoft app (an Entra app registration; by default the portal's own) and where it
# gets its Bot Framework token: botframework.com for a multi-tenant bot, else the bot's tenant id.
# Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
BOT_APP_ID = env.str("BOT_APP_ID", default="") or MICROSOFT_CLIENT_ID
BOT_APP_SECRET = _secret("BOT_APP_SECRET", default="") or MICROSOFT_CLIENT_SECRET
BOT_TOKEN_TENANT = env.str("BOT_TOKEN_TENANT", default="botframework.com")
# The id in the portal's Teams app manifest (each tenant's catalog gives the app an id of its own).
TEAMS_APP_MANIFEST_ID = env.str(
    "TEAMS_APP_MANIFEST_ID", default=_sandbox.TEAMS_APP_MANIFEST_ID if SANDBOX_ENABLED else ""
)
# The connector's service URL for proactive messages into Teams channels.
BOT_SERVICE_URL = _endpoint("BOT_SERVICE_URL", "https://smba.trafficmanager.net/teams", _sandbox.BOT_SERVICE_PATH)
# Delivery: attempts per notification, and messages per channel per second (Teams allows a bot
# 7 a second per conversation; the portal stays below).
# Reference: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_CHANNEL_RATE = env.float("NOTIFICATION_CHANNEL_RATE", default=1.0)
# Refresh a Jira webhook this many days before it expires (they live 30 days); the beat checks daily.
NOTIFICATION_WEBHOOK_REFRESH_DAYS = env.int("NOTIFICATION_WEBHOOK_REFRESH_DAYS", default=7)
# Confluence spaces: how often the beat asks which pages changed (seconds).
NOTIFICATION_CONFLUENCE_POLL_INTERVAL = env.int("NOTIFICATION_CONFLUENCE_POLL_INTERVAL", default=300)
CELERY_BEAT_SCHEDULE["connections.notifications_poll_confluence"] = {
    "task": "connections.notifications_poll_confluence",
    "schedule": NOTIFICATION_CONFLUENCE_POLL_INTERVAL,
}
CELERY_BEAT_SCHEDULE["connections.notifications_refresh_webhooks"] = {
    "task": "connections.notifications_refresh_webhooks",
    "schedule": 6 * 3600,
}

# --- health checks and the portal's own app credentials ------------------
# Seconds between periodic health checks: the beat's kickoff queues one run per connection.
HEALTH_CHECK_INTERVAL = env.int("HEALTH_CHECK_INTERVAL", default=3600)
if HEALTH_CHECK_INTERVAL < 60:
    raise ImproperlyConfigured("HEALTH_CHECK_INTERVAL must be at least 60 seconds.")
CELERY_BEAT_SCHEDULE["connections.health_checks_kickoff"] = {
    "task": "connections.health_checks_kickoff",
    "schedule": HEALTH_CHECK_INTERVAL,
}


def _expiry_date(name):
    """A client secret's expiry date (YYYY-MM-DD) or None; a malformed one stops the start."""
    raw = env.str(name, default="").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date like 2027-01-15, not {raw!r}.") from None


# When the portal's client secrets expire (shown 30 days ahead on the dashboard and in /healthz).
MICROSOFT_CLIENT_SECRET_EXPIRES = _expiry_date("MICROSOFT_CLIENT_SECRET_EXPIRES")
ATLASSIAN_CLIENT_SECRET_EXPIRES = _expiry_date("ATLASSIAN_CLIENT_SECRET_EXPIRES")
# /healthz: how long to wait for a Celery worker's answer to its ping (seconds).
HEALTH_WORKER_PING_TIMEOUT = 1.0
APP_SECRET_WARNING_DAYS = env.int("APP_SECRET_WARNING_DAYS", default=30)


# --- Content-Security-Policy -----------------------------------------------------------------
# No inline script, style or event handler anywhere (they live in static/), so a script an
# attacker gets into a page does not run. django-csp builds the header (Django 5.2 has none);
# portal/csp.py adds the sign-in origins that forms redirect to to form-action.
# Reference: https://django-csp.readthedocs.io/en/latest/configuration.html
from csp.constants import NONE as _CSP_NONE  # noqa: E402
from csp.constants import SELF as _CSP_SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF],
        "style-src": [_CSP_SELF],
        "img-src": [_CSP_SELF, "data:"],  # the TOTP QR code is a data: image
        "connect-src": [_CSP_SELF],
        "font-src": [_CSP_SELF],
        "object-src": [_CSP_NONE],
        "base-uri": [_CSP_NONE],
        "frame-ancestors": [_CSP_NONE],
        "form-action": [_CSP_SELF],
    }
}
