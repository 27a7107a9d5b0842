"""Settings fail loudly: no insecure production start, and a clean deploy check."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "sPBl8pbH2oI2UXIKv1tTxxQ_kKedEJoHPSw0Ewm3JtscvlOues3-cKXguECy9b7_ZY0ybN55S_JKAWYEu5W_PQ"
FERNET_KEY = "ZhQu4T_lBYMk8yIf-A3QRUlQCWP4rZ3gcM9YzAd0yyY="
CHAIN_KEY = "k1:vR7pXq2mZ9tLw4bN8cF1hJ6sD3gK0yUeA5oTiQxWlMz"


def _manage(*args, **env):
    # A clean environment: the test settings' own variables must not leak into production's.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    base.update({"DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": "sqlite:////tmp/portal-settings-test.db"})
    if env.get("DEBUG") == "false":
        base["AUDIT_CHAIN_KEYS"] = CHAIN_KEY
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false", CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_refuses_an_unsafe_secret_key():
    result = _manage("check", DEBUG="false", SECRET_KEY="django-insecure-short", CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY is unsafe" in result.stderr


def test_production_refuses_to_start_without_encryption_keys():
    result = _manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS="")
    assert "CREDENTIAL_ENCRYPTION_KEYS is not set" in result.stderr


def test_production_refuses_the_sandbox_unless_forced():
    result = _manage(
        "check", DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY, SANDBOX_ENABLED="true"
    )
    assert result.returncode != 0
    assert "must never run in production" in result.stderr


def test_the_deploy_check_reports_no_issue():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY, ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_audit_chain_keys():
    result = _manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY,
                     AUDIT_CHAIN_KEYS="")
    assert result.returncode != 0
    assert "AUDIT_CHAIN_KEYS is not set" in result.stderr


def test_the_embedded_sqlite_database_runs_in_wal_mode_with_a_checkpoint_per_10000_pages():
    # A sync run commits a page at a time: a checkpoint at SQLite's default (1,000 WAL pages)
    # would copy the WAL back into the file at almost every commit.
    show = (
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA wal_autocheckpoint').fetchone()[0])"
    )
    result = _manage("shell", "-c", show, DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["wal", "10000"]
