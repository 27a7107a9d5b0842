"""What arrives from outside (an OAuth callback's query, a consent link's token), bounded
and cleaned before anything stores, compares or audits it.

PostgreSQL refuses a NUL character in text and jsonb, and refuses a value longer than its
column: left as they came, either turns a forged callback into a 500 that rolls back the
audit row saying it was refused. So identifiers (state, code, tenant, a link's token) that
arrive with a control character or longer than any real one are refused outright, never
repaired into something that might match; free text (an error description) loses its
control characters and is cut to the column it may end up in.
"""

import re
from dataclasses import dataclass

# C0 and C1 controls and DEL; lone surrogates cannot be encoded for the database either.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# In free text, line breaks and tabs are harmless (Microsoft's error descriptions have them).
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# Longest accepted length of each callback parameter: identifiers are refused past it,
# free text is cut to it. Authorization codes have no documented maximum (Microsoft's
# run to a few kilobytes); they are only ever sent back to the provider, never stored.
IDENTIFIERS = {
    "state": 256,
    "code": 8192,
    "tenant": 255,  # a GUID or a domain name
    "admin_consent": 16,
    "session_state": 256,
    "client_info": 4096,
}
TEXT = {
    "error": 64,  # ConsentRequest.error_code
    "error_description": 2000,  # what consent_record_failure keeps
    "error_uri": 500,
    "error_subcode": 64,
    "scope": 2000,
}
OTHER_MAX = 500  # any parameter not named above: kept as text, never used for a decision

CONSENT_TOKEN_MAX = 200  # links carry secrets.token_urlsafe(32): 43 characters


def is_clean(value, max_length):
    """True when `value` is a string of at most `max_length` characters with no control character."""
    return isinstance(value, str) and len(value) <= max_length and not _CONTROL.search(value)


def clean_text(value, max_length):
    """Free text without control characters (line breaks kept), at most `max_length` characters."""
    return _TEXT_CONTROL.sub("", str(value or ""))[:max_length]


@dataclass(frozen=True)
class CallbackParams:
    values: dict
    # Names of identifiers that arrived malformed: the callback is not one the portal started.
    malformed: tuple

    def get(self, name, default=""):
        return self.values.get(name, default)

    def __contains__(self, name):
        return name in self.values

    def __getitem__(self, name):
        return self.values[name]


def callback_params(query):
    """An OAuth callback's query (a QueryDict, last value of each name), bounded and cleaned."""
    values, malformed = {}, []
    for raw_name, raw_value in query.items():
        name = clean_text(raw_name, 64)
        if name in IDENTIFIERS:
            if is_clean(raw_value, IDENTIFIERS[name]):
                values[name] = raw_value
            else:
                malformed.append(name)
        else:
            values[name] = clean_text(raw_value, TEXT.get(name, OTHER_MAX))
    return CallbackParams(values, tuple(sorted(malformed)))


def consent_token(raw):
    """A consent link's token if it can be one, else None (looked up by nobody)."""
    return raw if raw and is_clean(raw, CONSENT_TOKEN_MAX) else None
