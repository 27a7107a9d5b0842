"""What a health check answers: passed / failed / skipped, with a remedy and a cause."""

from dataclasses import dataclass

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
PERMISSION, NEEDS_REAUTH, UNAVAILABLE, OTHER = "permission", "needs_reauth", "unavailable", "other"

CONSENT_HINT = "(use “Copy link for the tenant admin” on this page)"


@dataclass
class Result:
    outcome: str
    message: str
    remedy: str = ""
    cause: str = ""
