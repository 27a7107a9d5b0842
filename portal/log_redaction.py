"""Request logs without secrets: OAuth codes and states, tokens, consent-link tokens.

Request lines carry them: Microsoft and Atlassian send `code` and `state` back in the
callback's query string, and a consent link's token is a path segment (`/consent/<token>/`,
connections/microsoft/urls.py), also in the Referer of the page after it. `redact` replaces
every query-string value and the link's token segment; `RedactingFilter` applies it to each
record a handler or logger sees. settings.LOGGING puts the filter on the development
server's and the console handlers; portal/gunicorn_logging.py on gunicorn's access and error
logs. Stdlib only: gunicorn's master and the settings import it before Django is set up.
"""

import logging
import re

REDACTED = "[redacted]"

# The consent link's token segment, wherever a URL shows up (request line, Referer, message).
_CONSENT_TOKEN = re.compile(r"(/consent/)(?!\[redacted\])[^/\s?#\"']+")
# Each value of a query string: `?a=1&b=2` -> `?a=[redacted]&b=[redacted]`, keys kept.
_QUERY_VALUE = re.compile(r"([?&;][^=&;\s#\"'?]*=)(?!\[redacted\])[^&;\s#\"']+")
# A query string on its own (gunicorn's %(q)s atom): every value after '='.
_BARE_VALUE = re.compile(r"((?:^|[&;])[^=&;]*=)[^&;]+")


def redact(text):
    """`text` with consent-link tokens and every query-string value replaced."""
    text = _CONSENT_TOKEN.sub(rf"\1{REDACTED}", text)
    return _QUERY_VALUE.sub(rf"\1{REDACTED}", text)


def redact_query_string(query):
    """A bare query string (no '?') with every value replaced."""
    return _BARE_VALUE.sub(rf"\1{REDACTED}", query or "")


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with `redact`; never drops a record."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's to report, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
