"""Encryption of credentials at rest: the portal's one Fernet helper (portal/crypto.py), so
provider tokens and two-factor secrets share keys and rotation."""

from portal.crypto import InvalidToken, decrypt, encrypt, rotate

__all__ = ["InvalidToken", "decrypt", "encrypt", "rotate"]
