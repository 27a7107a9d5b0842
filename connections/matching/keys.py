"""Addresses as matching keys: normalized, digested, and the non-Entra UPN rule.

An address is compared case-insensitively (Exchange and Entra treat them so) after
stripping the `smtp:` / `SMTP:` prefix of proxy addresses. What is stored is a keyed
BLAKE2b digest of it (key derived from SECRET_KEY), never the address, unless the
organization chose to store emails.
"""

import hashlib
import re
import warnings
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from re import _parser as sre_parse  # type: ignore[attr-defined]  # Python's own reader of patterns (3.11+)

import re2
from django.conf import settings

# Longer than any address (RFC 5321 limits a path to 254).
MAX_ADDRESS = 320
# The column's size; far more than an address rule needs.
MAX_PATTERN = 300


@cache
def _keyed(secret):
    """A keyed BLAKE2b to copy per address (keying one anew each time costs more than hashing)."""
    return hashlib.blake2b(digest_size=16, key=hashlib.sha256(b"user-matching:" + secret.encode()).digest())


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
    hasher = _keyed(settings.SECRET_KEY).copy()
    hasher.update(normalized.encode())
    return hasher.hexdigest()


def smtp_proxies(proxy_addresses):
    """The SMTP addresses among proxyAddresses (X500:, SIP: and the like are not addresses)."""
    for value in proxy_addresses or ():
        if isinstance(value, str) and value[:5].lower() == "smtp:":
            normalized = normalize(value)
            if normalized:
                yield normalized


# --- the non-Entra rule: email -> UPN ------------------------------------------------------
#
# The admin's expression is matched by RE2, whose time grows linearly with the address
# whatever the expression is (no backtracking), so no organization's rule can hold the
# workers all organizations share. https://github.com/google/re2/wiki/Syntax
# It is written in Python's syntax (what the page documents) and read by Python's parser too:
# that tree says precisely which feature RE2 lacks, and shows the shapes that would be
# catastrophic for a backtracking engine, refused as well so a saved rule stays harmless
# wherever it is evaluated.


class RuleError(ValueError):
    """The pattern or replacement cannot be used; the message says why, for the field named."""

    def __init__(self, message, field="upn_pattern"):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class CompiledRule:
    regex: object  # an RE2 expression (re2._Regexp)
    template: tuple  # the replacement, in order: literal strings and group numbers


def _re2_options():
    # Options mirror RE2::Options of re2.h: https://github.com/google/re2/blob/main/re2/re2.h
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # otherwise RE2 prints each refused expression on stderr
    return options


_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT}

# What Python's syntax has and RE2 does not (all of it needs backtracking).
_UNSUPPORTED = {
    sre_parse.GROUPREF: r"Backreferences such as \1 or (?P=name)",
    sre_parse.GROUPREF_EXISTS: "Conditional groups such as (?(1)...)",
    sre_parse.ASSERT: "Lookahead and lookbehind such as (?=...) or (?<=...)",
    sre_parse.ASSERT_NOT: "Negative lookahead and lookbehind such as (?!...) or (?<!...)",
    sre_parse.ATOMIC_GROUP: "Atomic groups such as (?>...)",
    sre_parse.POSSESSIVE_REPEAT: "Possessive repetitions such as a++ or a*+",
}

# Python reads a{,3} as a{0,3} (and a{,} as a*); RE2 reads it as the text "{,3}".
_NO_MINIMUM = re.compile(r"\{,\d*\}")


def _children(op, arg):
    if op in _REPEATS:
        return (arg[2],)
    if op == sre_parse.SUBPATTERN:
        return (arg[3],)
    if op == sre_parse.BRANCH:
        return tuple(arg[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return (arg[1],)
    if op == sre_parse.ATOMIC_GROUP:
        return (arg,)
    if op == sre_parse.GROUPREF_EXISTS:
        return tuple(branch for branch in arg[1:] if branch is not None)
    return ()


def _nodes(items):
    for op, arg in items:
        yield op, arg
        for child in _children(op, arg):
            yield from _nodes(child)


def _brace_without_minimum(pattern):
    """Where a{,n} is outside a character class and not escaped, or None."""
    i, in_class, class_start = 0, False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = not (c == "]" and i > class_start)  # a ] first in the class is a member
        elif c == "[":
            in_class, class_start = True, i + 1 + (pattern[i + 1 : i + 2] == "^")
        elif c == "{" and (found := _NO_MINIMUM.match(pattern, i)):
            return found.group()
        i += 1
    return None


# --- shapes that make a backtracking engine take exponential time -------------------------
#
# A backtracking engine explodes when, inside a repetition, it can choose between two ways
# forward that both fit the next character: on an address that almost matches it tries every
# combination of those choices before failing. (a+)+, (\w+\s?)+ (a nested repetition: one more
# inner round or the next outer one) and (a|aa)*, (a|a)*b (an alternation whose branches
# start alike) are the classic cases. The check below is the LL(1) condition on the body of
# every repetition that may run more than once: at each choice inside it (the branches of an
# alternation, or an inner repetition going on or stopping) the sets of first characters of
# the ways forward, each followed by the rest of the body and then the body again, must not
# overlap. It reads single characters only, so it errs on the side of refusing: (ab|ac)*
# overlaps on "a" although it is harmless; the message says how to rewrite it (a[bc])*.
# Python's parser already merges single-character branches ((\w|\d) is the set [\w\d]) and
# common prefixes ((a|aa) is a(|a)), which this check sees. What it cannot see (characters
# outside the range below, what follows the repetition) it lets through; RE2 keeps that
# harmless, as it keeps harmless the merely polynomial slowness of e.g. a*a*a*.

_CHARS = frozenset(chr(c) for c in range(0x250))  # ASCII, Latin-1 and Latin Extended-A/B
_CATEGORIES = {
    getattr(sre_parse, name): frozenset(ch for ch in _CHARS if re.fullmatch(expr, ch, re.ASCII))
    for name, expr in (
        ("CATEGORY_DIGIT", r"\d"),
        ("CATEGORY_NOT_DIGIT", r"\D"),
        ("CATEGORY_SPACE", r"\s"),
        ("CATEGORY_NOT_SPACE", r"\S"),
        ("CATEGORY_WORD", r"\w"),
        ("CATEGORY_NOT_WORD", r"\W"),
    )
}
NESTED, CHOICE = "nested", "choice"


def _fold(chars):
    return frozenset(ch.lower() for ch in chars)  # the rule ignores case


def _set_members(items):
    members, negate = set(), False
    for op, av in items:
        if op == sre_parse.NEGATE:
            negate = True
        elif op == sre_parse.LITERAL:
            members.add(chr(av))
        elif op == sre_parse.RANGE:
            members.update(ch for ch in _CHARS if av[0] <= ord(ch) <= av[1])
        elif op == sre_parse.CATEGORY:
            members |= _CATEGORIES.get(av, _CHARS)
        else:
            members |= _CHARS  # unknown: assume anything, the cautious side
    return _CHARS - members if negate else members


class _Backtracking:
    def __init__(self):
        self._first = {}

    def first_of_item(self, op, arg):
        """(first characters, can match nothing) of one parsed node."""
        if op == sre_parse.LITERAL:
            return _fold({chr(arg)}), False
        if op == sre_parse.NOT_LITERAL:
            return _fold(_CHARS - {chr(arg)}), False
        if op == sre_parse.ANY:
            return _fold(_CHARS - {"\n"}), False
        if op == sre_parse.IN:
            return _fold(_set_members(arg)), False
        if op == sre_parse.AT:
            return frozenset(), True
        if op in _REPEATS:
            chars, empty = self.first(arg[2])
            return (chars if arg[1] else frozenset()), arg[0] == 0 or empty
        if op == sre_parse.SUBPATTERN:
            return self.first(arg[3])
        if op == sre_parse.BRANCH:
            found = [self.first(branch) for branch in arg[1]]
            return frozenset().union(*(c for c, _ in found)), any(e for _, e in found)
        return frozenset(), True  # lookarounds and the like: refused before this check

    def first(self, items):
        key = id(items)
        if key not in self._first:
            chars, empty = set(), True
            for op, arg in items:
                item_chars, item_empty = self.first_of_item(op, arg)
                chars |= item_chars
                if not item_empty:
                    empty = False
                    break
            self._first[key] = (frozenset(chars), empty)
        return self._first[key]

    def conflict(self, items, follow):
        """NESTED or CHOICE when a choice inside `items` (followed by `follow`) is ambiguous."""
        items = list(items)
        after = [follow] * (len(items) + 1)
        for i in range(len(items) - 1, -1, -1):
            chars, empty = self.first_of_item(*items[i])
            after[i] = chars | after[i + 1] if empty else chars
        for i, (op, arg) in enumerate(items):
            rest = after[i + 1]
            if op == sre_parse.BRANCH:
                starts = []
                for branch in arg[1]:
                    chars, empty = self.first(branch)
                    starts.append(chars | rest if empty else chars)
                if any(a & b for a, b in combinations(starts, 2)):
                    return CHOICE
                for branch in arg[1]:
                    if found := self.conflict(branch, rest):
                        return found
            elif op in _REPEATS:
                low, high, body = arg
                body_first = self.first(body)[0]
                if high > low and body_first & rest:
                    return NESTED
                if found := self.conflict(body, body_first | rest if high > 1 else rest):
                    return found
            elif op == sre_parse.SUBPATTERN:
                if found := self.conflict(arg[3], rest):
                    return found
        return None

    def verdict(self, parsed):
        for op, arg in _nodes(parsed):
            if op in _REPEATS and arg[1] > 1:
                body = arg[2]
                if found := self.conflict(body, self.first(body)[0]):
                    return found
        return None


_CATASTROPHIC = {
    NESTED: (
        "This expression repeats a group that itself repeats or is optional (like (a+)+, "
        "(\\w+\\s?)+ or (a?)*): a "
        "backtracking matcher can take practically forever on some addresses. Rewrite it "
        "without the nested repetition, e.g. \\w+ instead of (\\w+)+."
    ),
    CHOICE: (
        "This expression repeats a choice whose alternatives can match the same text (like "
        "(a|aa)* or (a|a)*b): a backtracking matcher can take practically forever on some "
        "addresses. Make the alternatives start with different characters, e.g. a+ instead "
        "of (a|aa)*, or (a[bc])* instead of (ab|ac)*."
    ),
}


def _error_text(exc):
    text = exc.args[0] if exc.args else ""
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def _template(replacement, regex):
    """The replacement as literal strings and group numbers, read by Python's own reader of
    re.sub templates (\\g<name>, \\1, escapes), so it means what Python documents; the reader
    needs only .groups and .groupindex, which the RE2 expression has too. RE2's own expand()
    would decode literal text with unicode_escape, which garbles non-ASCII characters."""
    parsed = sre_parse.parse_template(replacement, regex)
    if isinstance(parsed, tuple):  # Python 3.11: (groups, literals with None where a group goes)
        groups, literals = parsed
        pieces = list(literals)
        for index, group in groups:
            pieces[index] = group
    else:  # Python 3.12+: [literal, group, literal, ..., literal]
        pieces = parsed
    return tuple(piece for piece in pieces if piece is not None and piece != "")


def compile_pattern(pattern):
    """The RE2 expression of a pattern, or RuleError; no check of its shape (see compile_rule)."""
    try:
        return re2.compile(pattern, _re2_options())
    except re2.error as exc:
        text = _error_text(exc)
        hint = " Use $ for the end of the address." if "\\Z" in text else ""
        raise RuleError(f"The matcher (RE2) does not accept this expression: {text}.{hint}") from None


def compile_rule(pattern, replacement):
    """Check a non-Entra rule and return it compiled; RuleError says what is wrong and where."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise RuleError("Enter a regular expression.")
    if len(pattern) > MAX_PATTERN:
        raise RuleError(f"Keep the expression to at most {MAX_PATTERN} characters (it has {len(pattern)}).")
    try:
        with warnings.catch_warnings():
            # "Possible nested set": [[:alpha:]] is a POSIX class for RE2, not for Python.
            warnings.simplefilter("error", FutureWarning)
            parsed = sre_parse.parse(pattern, re.IGNORECASE | re.ASCII)
    except re.error as exc:
        raise RuleError(f"This is not a valid regular expression: {exc}.") from None
    except FutureWarning:
        raise RuleError(r"Write a [ inside a character class as \[ (the two matchers read [[ differently).") from None
    unsupported = next((_UNSUPPORTED[op] for op, _ in _nodes(parsed) if op in _UNSUPPORTED), None)
    if unsupported:
        raise RuleError(
            f"{unsupported} are not supported: the matcher (RE2) runs in time proportional to "
            "the address and has no such feature. Rewrite the expression without them."
        )
    if brace := _brace_without_minimum(pattern):
        raise RuleError(
            f"Write the repetition {brace} with its minimum, like {{0{brace[1:]}: RE2 reads {brace} as text."
        )
    regex = compile_pattern(pattern)
    if verdict := _Backtracking().verdict(parsed):
        raise RuleError(_CATASTROPHIC[verdict])
    if not (replacement or "").strip():
        raise RuleError("Enter what the UPN is made of, for example \\g<name>@contoso.com.", "upn_replacement")
    try:
        template = _template(replacement, regex)
    except IndexError as exc:
        raise RuleError(
            f"The replacement refers to a group the expression does not have: {exc}.", "upn_replacement"
        ) from None
    except re.error as exc:
        what = "refers to a group the expression does not have" if "group" in str(exc) else "is not valid"
        raise RuleError(f"The replacement {what}: {exc}.", "upn_replacement") from None
    return CompiledRule(regex, template)


def apply_rule(rule, normalized_email):
    """The UPN a compiled non-Entra rule derives from an email ('' when the rule does not apply)."""
    if not normalized_email:
        return ""
    match = rule.regex.fullmatch(normalized_email)
    if match is None:
        return ""
    return normalize("".join(piece if isinstance(piece, str) else match.group(piece) or "" for piece in rule.template))
