"""Addresses as matching keys: normalized, digested, and the non-Entra UPN rule.

An address is compared case-insensitively (Exchange and Entra treat them so) after
stripping the `smtp:` / `SMTP:` prefix of proxy addresses. What is stored is a keyed
BLAKE2b digest of it (key derived from SECRET_KEY), never the address, unless the
organization chose to store emails.
"""

import hashlib
import re
from functools import cache

from django.conf import settings

try:  # Python 3.11+: the parser moved
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_parse

# Longer than any address (RFC 5321 limits a path to 254): a pattern is applied to short
# strings only, which also bounds what a slow pattern could cost.
MAX_ADDRESS = 320
MAX_PATTERN = 300


@cache
def _key(secret):
    return hashlib.sha256(b"user-matching:" + secret.encode()).digest()


def normalize(address):
    """The comparable form of an address ('' when it is none)."""
    if not address:
        return ""
    address = address.strip()
    if address[:5].lower() == "smtp:":
        address = address[5:]
    return address.lower() if "@" in address and len(address) <= MAX_ADDRESS else ""


def digest(normalized):
    """Keyed digest of a normalized address ('' stays '')."""
    if not normalized:
        return ""
    return hashlib.blake2b(normalized.encode(), digest_size=16, key=_key(settings.SECRET_KEY)).hexdigest()


def smtp_proxies(proxy_addresses):
    """The SMTP addresses among proxyAddresses (X500:, SIP: and the like are not addresses)."""
    for value in proxy_addresses or ():
        if isinstance(value, str) and value[:5].lower() == "smtp:":
            normalized = normalize(value)
            if normalized:
                yield normalized


# --- the non-Entra rule: email -> UPN ------------------------------------------------------


class RuleError(ValueError):
    """The pattern or replacement cannot be used; the message says why, for a form."""


_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)} - {None}


def _unbounded_repeat_inside(items):
    """True when a parsed pattern holds a repeat that can match more than once."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            if high > 1 or _unbounded_repeat_inside(sub):
                return True
        elif op == sre_parse.SUBPATTERN:
            if _unbounded_repeat_inside(arg[-1]):
                return True
        elif op == sre_parse.BRANCH:
            if any(_unbounded_repeat_inside(branch) for branch in arg[1]):
                return True
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            if _unbounded_repeat_inside(arg[1]):
                return True
    return False


def _nested_repeat(items):
    """A repeat of something that itself repeats, like (a+)+ or (\\w*\\s?)*: the shape that
    makes backtracking explode on an input that almost matches."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            if high > 1 and _unbounded_repeat_inside(sub):
                return True
            if _nested_repeat(sub):
                return True
        elif op == sre_parse.SUBPATTERN:
            if _nested_repeat(arg[-1]):
                return True
        elif op == sre_parse.BRANCH:
            if any(_nested_repeat(branch) for branch in arg[1]):
                return True
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            if _nested_repeat(arg[1]):
                return True
    return False


def compile_rule(pattern, replacement):
    """Check a non-Entra rule and return the compiled pattern; RuleError says what is wrong."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise RuleError("Enter a regular expression.")
    if len(pattern) > MAX_PATTERN:
        raise RuleError(f"Keep the expression under {MAX_PATTERN} characters.")
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"This is not a valid regular expression: {exc}.") from None
    if _nested_repeat(list(parsed)):
        raise RuleError(
            "This expression repeats a group that itself repeats (like (a+)+), which can take "
            "practically forever on some addresses. Rewrite it without the nested repetition."
        )
    if not (replacement or "").strip():
        raise RuleError("Enter what the UPN is made of, for example \\g<name>@contoso.com.")
    try:
        sre_parse.parse_template(replacement, compiled)
    except (re.error, IndexError) as exc:
        raise RuleError(f"The replacement refers to a group the expression does not have: {exc}.") from None
    return compiled


def apply_rule(compiled, replacement, normalized_email):
    """The UPN a non-Entra rule derives from an email ('' when the rule does not apply)."""
    if not normalized_email:
        return ""
    match = compiled.fullmatch(normalized_email)
    if match is None:
        return ""
    try:
        return normalize(match.expand(replacement))
    except (re.error, IndexError):
        return ""
