"""Encryption of secrets at rest: provider tokens (connections) and two-factor secrets (accounts).

MultiFernet over CREDENTIAL_ENCRYPTION_KEYS (newest first): new values are encrypted with
the newest key, values under older keys still decrypt, and `rotate` re-encrypts a value
under the newest key (`manage.py rotate_credentials` does it for every stored secret).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "rotate"]


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def _current():
    return _fernet(tuple(settings.CREDENTIAL_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode() if value else ""


def decrypt(value: str) -> str:
    """Raises InvalidToken when no configured key opens it (a key was dropped too early)."""
    return _current().decrypt(value.encode()).decode() if value else ""


def rotate(value: str) -> str:
    return _current().rotate(value.encode()).decode() if value else ""
