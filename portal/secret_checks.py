"""Is a secret good enough for production? One answer for the start-up guard (settings.py,
with DEBUG off) and for `manage.py check --deploy` (portal/checks.py).

A secret is refused when it is one the repository itself shows (the example env file, the
development defaults), reads like a placeholder, or does not look random: too short, a
repeated stretch, a run of neighbouring characters, or too little estimated entropy. The
answers name the problem, never the value.
"""

import base64
import binascii
import hashlib
import math
import re
from collections import Counter

# The development key settings.py falls back to with DEBUG on.
DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789"

# Every value shipped in deploy/portal.env.example, docker-compose.yml and the docs.
# tests/portal/test_secrets.py reads those files and fails if one is missing here.
KNOWN_PLACEHOLDERS = frozenset(
    {
        "change-me-to-a-long-random-string-of-at-least-fifty-characters-please",
        "replace-with-output-of-Fernet.generate_key",
        "replace-with-a-generated-key",
        DEV_SECRET_KEY,
    }
)

# Words of a value someone meant to replace; a generated key holds none of them (the chance
# of 6+ given characters in a row in ~86 random ones is below one in a billion).
_PLACEHOLDER_WORDS = re.compile(
    r"change.?me|replace.?(me|with)|placeholder|example|insecure|your.?(secret|key)|generate.?key",
    re.IGNORECASE,
)

SECRET_KEY_MIN_LENGTH = 50
# Django's get_random_secret_key() (50 characters) carries ~280 bits; even a 50-character
# hex string carries 200. A phrase of a few repeated characters does not reach this.
SECRET_KEY_MIN_BITS = 150
# A random value repeats no stretch this long (~1 in 10^6 for 64 hex characters).
_REPEAT = 8


def dev_credential_key(secret_key=DEV_SECRET_KEY):
    """The Fernet key settings.py derives from SECRET_KEY with DEBUG on and no key set."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()


def _estimated_bits(value):
    """Shannon entropy of the value's own characters times its length: an upper bound."""
    counts = Counter(value)
    return -sum(n * math.log2(n / len(value)) for n in counts.values())


def _repeats_a_stretch(value):
    seen = set()
    for i in range(len(value) - _REPEAT + 1):
        stretch = value[i : i + _REPEAT]
        if stretch in seen:
            return True
        seen.add(stretch)
    return False


def _mostly_neighbours(value):
    """'abcdef…', '0123…', 'aaaa…': most characters one step from the one before."""
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in zip(value, value[1:], strict=False))
    return steps * 2 >= len(value) - 1


def _placeholder_problem(value):
    if value in KNOWN_PLACEHOLDERS or value == dev_credential_key():
        return "it is a placeholder shipped with the portal (the example env file or a development default)"
    if _PLACEHOLDER_WORDS.search(value):
        return "it reads like a placeholder (words such as 'change me', 'example', 'insecure')"
    return None


def secret_key_problem(value):
    """Why SECRET_KEY is unsafe for production, or None."""
    problem = _placeholder_problem(value)
    if problem:
        return problem
    if len(value) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(value)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if _repeats_a_stretch(value) or _mostly_neighbours(value):
        return "it does not look random (a repeated stretch, or a run of neighbouring characters)"
    if _estimated_bits(value) < SECRET_KEY_MIN_BITS:
        return f"it does not look random (about {_estimated_bits(value):.0f} bits, fewer than {SECRET_KEY_MIN_BITS})"
    return None


_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


def fernet_key_problem(value):
    """Why one CREDENTIAL_ENCRYPTION_KEYS entry is unusable or unsafe, or None.

    A Fernet key is 32 bytes in URL-safe base64 (44 characters ending in '='):
    https://cryptography.io/en/latest/fernet/#cryptography.fernet.Fernet
    """
    problem = _placeholder_problem(value)
    if problem:
        return problem
    if not _FERNET_KEY.fullmatch(value):
        return "it is not a Fernet key (32 bytes in URL-safe base64: 44 characters ending in '=')"
    try:
        raw = base64.urlsafe_b64decode(value)
    except (binascii.Error, ValueError):
        return "it is not a Fernet key (32 bytes in URL-safe base64: 44 characters ending in '=')"
    # 32 random bytes hold ~30 distinct values; fewer than 16 is a hand-made key.
    if len(raw) != 32 or len(set(raw)) < 16:
        return "it does not look random (too few distinct bytes)"
    return None


def credential_keys_problems(values):
    """(position, why) for each unusable entry of CREDENTIAL_ENCRYPTION_KEYS."""
    return [(n, problem) for n, value in enumerate(values, 1) if (problem := fernet_key_problem(value))]


GENERATE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
GENERATE_FERNET_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


# --- the audit trail's chain keys -------------------------------------------------------
# AUDIT_CHAIN_KEYS: comma-separated `id:secret` entries, newest first. New audit events are
# signed (HMAC-SHA256) with the first; verification finds each event's key by its id, so a key
# is rotated by putting a new entry first and keeping the old ones as long as events use them.
DEV_AUDIT_CHAIN_KEY_ID = "dev"
AUDIT_CHAIN_KEY_MIN_LENGTH = 32
# A 32-byte random value in URL-safe base64 (43 characters) carries 256 bits; 43 of its own
# characters estimate about 200. A typed phrase does not reach this.
AUDIT_CHAIN_KEY_MIN_BITS = 128
_AUDIT_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def dev_audit_chain_key(secret_key=DEV_SECRET_KEY):
    """The chain key settings.py derives from SECRET_KEY with DEBUG on and no key set."""
    return hashlib.sha256(b"audit-chain:" + secret_key.encode()).hexdigest()


def parse_audit_chain_keys(entries):
    """[(key id, secret)] from `id:secret` entries; ValueError names the first bad entry (never its secret)."""
    keys, seen = [], set()
    for n, entry in enumerate(entries, 1):
        key_id, sep, secret = entry.strip().partition(":")
        if not sep or not _AUDIT_KEY_ID.fullmatch(key_id) or not secret:
            raise ValueError(f"entry {n} is not `id:secret` (an id of letters, digits, '.', '_' or '-', then the key)")
        if key_id in seen:
            raise ValueError(f"entry {n} repeats the key id {key_id!r}")
        seen.add(key_id)
        keys.append((key_id, secret))
    return keys


def audit_chain_key_problem(value):
    """Why one AUDIT_CHAIN_KEYS secret is unsafe for production, or None."""
    problem = _placeholder_problem(value)
    if problem:
        return problem
    if value == dev_audit_chain_key():
        return "it is a placeholder shipped with the portal (the example env file or a development default)"
    if len(value) < AUDIT_CHAIN_KEY_MIN_LENGTH:
        return f"it has {len(value)} characters, fewer than {AUDIT_CHAIN_KEY_MIN_LENGTH}"
    if _repeats_a_stretch(value) or _mostly_neighbours(value):
        return "it does not look random (a repeated stretch, or a run of neighbouring characters)"
    if _estimated_bits(value) < AUDIT_CHAIN_KEY_MIN_BITS:
        return (f"it does not look random (about {_estimated_bits(value):.0f} bits, "
                f"fewer than {AUDIT_CHAIN_KEY_MIN_BITS})")
    return None


def audit_chain_keys_problems(entries):
    """(key id or position, why) for each unusable AUDIT_CHAIN_KEYS entry."""
    try:
        keys = parse_audit_chain_keys(entries)
    except ValueError as exc:
        return [("?", str(exc))]
    return [(key_id, problem) for key_id, secret in keys if (problem := audit_chain_key_problem(secret))]


GENERATE_AUDIT_CHAIN_KEY = "python -c 'import secrets; print(\"k1:\" + secrets.token_urlsafe(32))'"
