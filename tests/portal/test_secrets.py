"""Placeholder and weak secrets never start a production portal, and `check --deploy` says so."""

import base64
import re
import secrets

import pytest
from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from portal.secret_checks import audit_chain_keys_problems, fernet_key_problem, secret_key_problem

from .test_settings import FERNET_KEY, ROOT, STRONG_KEY, _manage

# Where the repository shows deployers a value to start from.
_SHIPPED = ["deploy/portal.env.example", "docker-compose.yml", "Dockerfile", "README.md", "sandbox/README.md"]


def _shipped_values(name):
    values = set()
    for path in _SHIPPED:
        text = (ROOT / path).read_text()
        for value in re.findall(rf"\b{name}\s*[=:]\s*[\"']?([^\s\"'$`|]+)", text):
            values.add(value)
    return values


def test_every_secret_the_repository_ships_is_refused():
    secret_keys, fernet_keys = _shipped_values("SECRET_KEY"), _shipped_values("CREDENTIAL_ENCRYPTION_KEYS")
    assert secret_keys and fernet_keys  # the example env file has both
    for value in secret_keys:
        assert secret_key_problem(value), value
    for value in fernet_keys:
        assert fernet_key_problem(value), value
    chain_keys = _shipped_values("AUDIT_CHAIN_KEYS")
    assert chain_keys
    for value in chain_keys:
        assert audit_chain_keys_problems([value]), value


def test_generated_secrets_are_accepted():
    for _ in range(300):
        for value in (secrets.token_urlsafe(64), get_random_secret_key(), secrets.token_hex(32), STRONG_KEY):
            assert secret_key_problem(value) is None, value
        assert fernet_key_problem(Fernet.generate_key().decode()) is None
        assert audit_chain_keys_problems([f"k1:{secrets.token_urlsafe(32)}", f"k0:{secrets.token_hex(32)}"]) == []


WEAK_SECRET_KEYS = {
    "the example env file's": "change-me-to-a-long-random-string-of-at-least-fifty-characters-please",
    "short": secrets.token_urlsafe(30),
    "one character": "a" * 64,
    "a repeated block": "k3Yb9Qx7Vn2Lm5Zr8Tw1Pd4Hs6Jf0Gc" * 2,
    "a run": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "placeholder words": "please-replace-me-" + secrets.token_urlsafe(48),
    "few characters": "0110100110010110" + "1001011001101001" + "0110100110010110"[::-1] + "10010110",
}


@pytest.mark.parametrize("kind", WEAK_SECRET_KEYS)
def test_production_refuses_a_weak_or_placeholder_secret_key(kind):
    result = _manage("check", DEBUG="false", SECRET_KEY=WEAK_SECRET_KEYS[kind], CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY is unsafe" in result.stderr
    assert WEAK_SECRET_KEYS[kind] not in result.stderr  # the message names the problem, not the value


WEAK_FERNET_KEYS = {
    "the example env file's": "replace-with-output-of-Fernet.generate_key",
    "not base64 of 32 bytes": base64.urlsafe_b64encode(secrets.token_bytes(31)).decode(),
    "not a key at all": secrets.token_urlsafe(40),
    "all zero bytes": base64.urlsafe_b64encode(bytes(32)).decode(),
}


@pytest.mark.parametrize("kind", WEAK_FERNET_KEYS)
def test_production_refuses_a_weak_or_placeholder_encryption_key(kind):
    keys = f"{Fernet.generate_key().decode()},{WEAK_FERNET_KEYS[kind]}"
    result = _manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "CREDENTIAL_ENCRYPTION_KEYS is unsafe: key 2:" in result.stderr
    assert WEAK_FERNET_KEYS[kind] not in result.stderr


def test_the_deploy_check_reports_the_example_env_files_secrets():
    # DEBUG on skips the start-up guard; the deploy check still refuses what would ship.
    result = _manage(
        "check", "--deploy",
        DEBUG="true", SECRET_KEY=WEAK_SECRET_KEYS["the example env file's"],
        CREDENTIAL_ENCRYPTION_KEYS=WEAK_FERNET_KEYS["the example env file's"], ALLOWED_HOSTS="portal.example.com",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "portal.E001" in output and "SECRET_KEY is unsafe for production: it is a placeholder" in output
    assert "portal.E002" in output and "CREDENTIAL_ENCRYPTION_KEYS key 1 is unsafe for production" in output


def test_the_deploy_check_reports_the_development_defaults():
    result = _manage("check", "--deploy", DEBUG="true", ALLOWED_HOSTS="portal.example.com")
    output = result.stdout + result.stderr
    assert "portal.E001" in output and "portal.E002" in output


WEAK_CHAIN_KEYS = {
    "the example env file's": "k1:replace-with-a-generated-key",
    "short": "k1:" + secrets.token_urlsafe(16),
    "one character": "k1:" + "z" * 48,
    "no id": secrets.token_urlsafe(32),
}


@pytest.mark.parametrize("kind", WEAK_CHAIN_KEYS)
def test_production_refuses_a_weak_or_placeholder_audit_chain_key(kind):
    result = _manage("check", DEBUG="false", SECRET_KEY=STRONG_KEY, CREDENTIAL_ENCRYPTION_KEYS=FERNET_KEY,
                     AUDIT_CHAIN_KEYS=WEAK_CHAIN_KEYS[kind])
    assert result.returncode != 0
    assert "AUDIT_CHAIN_KEYS" in result.stderr
    secret = WEAK_CHAIN_KEYS[kind].partition(":")[2] or WEAK_CHAIN_KEYS[kind]
    assert secret not in result.stderr


def test_the_deploy_check_reports_the_example_audit_chain_key_and_the_development_default():
    shipped = _manage("check", "--deploy", DEBUG="true", AUDIT_CHAIN_KEYS=WEAK_CHAIN_KEYS["the example env file's"],
                      ALLOWED_HOSTS="portal.example.com")
    assert "portal.E003" in shipped.stdout + shipped.stderr
    assert "AUDIT_CHAIN_KEYS key k1 is unsafe for production: it is a placeholder" in shipped.stdout + shipped.stderr
    default = _manage("check", "--deploy", DEBUG="true", ALLOWED_HOSTS="portal.example.com")
    assert "portal.E003" in default.stdout + default.stderr
