"""Deciding, for one Atlassian account, which Microsoft user it is.

The order: the email against Microsoft `mail`, then the UPN the identity mode derives from
the email (Entra: the email itself; non-Entra: the admin's rule) against
`userPrincipalName`, then the email against the SMTP `proxyAddresses`. The first step that
finds anyone decides: one user is a match, two or more are "ambiguous" (all of them listed,
none chosen). An account whose profile hides its email is "hidden"; an admin's manual
mapping wins over all of it.
"""

from dataclasses import dataclass

from ..models import IdentityMode, MatchMethod, MatchOutcome, MicrosoftUserKey
from . import keys

STEPS = (
    ("email", MicrosoftUserKey.MAIL, MatchMethod.MAIL),
    ("upn", MicrosoftUserKey.UPN, None),  # method: upn (Entra) or regex (non-Entra)
    ("email", MicrosoftUserKey.PROXY, MatchMethod.PROXY),
)


class Rule:
    """The connection's identity mode, ready to apply to many emails."""

    def __init__(self, mode=IdentityMode.ENTRA, pattern="", replacement=""):
        self.mode = mode
        # RuleError when the saved rule is not (or no longer) accepted.
        self.compiled = keys.compile_rule(pattern, replacement) if mode == IdentityMode.NON_ENTRA else None

    @classmethod
    def of(cls, state):
        """The rule a run applies; RuleError when the saved one is not accepted any more."""
        if state is None:
            return cls()
        return cls(state.identity_mode, state.upn_pattern, state.upn_replacement)

    @classmethod
    def mode_of(cls, state):
        """The mode alone, for deciding again from digests already derived (no email to apply
        a rule to): works even when the saved rule is not accepted any more."""
        try:
            return cls.of(state)
        except keys.RuleError:
            rule = cls()
            rule.mode = IdentityMode.NON_ENTRA
            return rule

    def upn_for(self, normalized_email):
        if self.mode == IdentityMode.ENTRA:
            return normalized_email
        if self.compiled is None:
            return ""
        return keys.apply_rule(self.compiled, normalized_email)

    @property
    def upn_method(self):
        return MatchMethod.UPN if self.mode == IdentityMode.ENTRA else MatchMethod.REGEX


@dataclass(frozen=True)
class Decision:
    outcome: str
    method: str = ""
    microsoft_user_id: str = ""
    candidates: tuple = ()


HIDDEN = Decision(MatchOutcome.HIDDEN)
UNMATCHED = Decision(MatchOutcome.UNMATCHED)


class Index:
    """digest -> [(Microsoft user id, kinds bitmask), ...], kept small: a digest, an id and an int."""

    __slots__ = ("entries",)

    def __init__(self):
        self.entries = {}

    def add(self, user_id, digest, kinds):
        found = self.entries.get(digest)
        if found is None:
            self.entries[digest] = ((user_id, kinds),)
        else:
            merged = dict(found)
            merged[user_id] = merged.get(user_id, 0) | kinds
            self.entries[digest] = tuple(merged.items())

    def get(self, digest):
        return self.entries.get(digest, ())

    def __len__(self):
        return len(self.entries)


def user_digests(user):
    """{digest: (normalized address, kinds)} for one Graph user (dict with mail, UPN, proxies)."""
    found = {}

    def add(address, kind):
        if address:
            d = keys.digest(address)
            found[d] = (address, found.get(d, ("", 0))[1] | kind)

    add(keys.normalize(user.get("mail")), MicrosoftUserKey.MAIL)
    add(keys.normalize(user.get("userPrincipalName")), MicrosoftUserKey.UPN)
    for proxy in keys.smtp_proxies(user.get("proxyAddresses")):
        add(proxy, MicrosoftUserKey.PROXY)
    return found


def decide(email_key, upn_key, rule, index, manual_user_id=""):
    """The decision for one account, given the digests of its email and derived UPN."""
    if manual_user_id:
        return Decision(MatchOutcome.MATCHED, MatchMethod.MANUAL, manual_user_id)
    if not email_key:
        return HIDDEN
    for source, bit, method in STEPS:
        digest = email_key if source == "email" else upn_key
        if not digest:
            continue
        ids = sorted({user_id for user_id, kinds in index.get(digest) if kinds & bit})
        if len(ids) == 1:
            return Decision(MatchOutcome.MATCHED, method or rule.upn_method, ids[0])
        if ids:
            return Decision(MatchOutcome.AMBIGUOUS, "", "", tuple(ids))
    return UNMATCHED
