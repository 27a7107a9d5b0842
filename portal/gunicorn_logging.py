"""gunicorn's logger for the portal: access lines (and error lines) without secrets.

Selected by gunicorn.conf.py (`logger_class`). The request line, path, query string and
Referer atoms are redacted before any access-log format sees them, and the filter of
portal/log_redaction.py runs on every line as well, so a custom `access_log_format` or a
header atom cannot bring a code, a state or a consent-link token back.
https://docs.gunicorn.org/en/stable/settings.html#logger-class
"""

from gunicorn.glogging import Logger

from portal.log_redaction import RedactingFilter, redact, redact_query_string


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = redact_query_string(atoms.get("q"))
        for key, value in atoms.items():
            if isinstance(value, str) and key != "q":
                atoms[key] = redact(value)
        return atoms
