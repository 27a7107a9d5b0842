"""The sandbox's own records: faults set at run time and the log of requests it served."""

from django.db import models


class Fault(models.Model):
    """A misbehaviour switched on for one tenant or site ("tenant:<guid>", "site:<name>", "*")."""

    class Kind(models.TextChoices):
        RATE_LIMIT = "rate_limit", "Rate limit (N requests per window, then 429)"
        ERROR_RATE = "error_rate", "Share of 5xx answers"
        LATENCY = "latency", "Added latency (ms)"
        TOKEN_LIFETIME = "token_lifetime", "Token lifetime (seconds)"
        DELTA_EXPIRY = "delta_expiry", "Delta/sync token expiry (seconds)"
        CONSENT_DECLINED = "consent_declined", "Consent always declined"
        TOKEN_THROTTLED = "token_throttled", "Token endpoint throttles (429 + Retry-After)"
        PAGE_LIMIT = "page_limit", "Largest page a list endpoint serves (items)"
        CLOCK = "clock", "Clock moved forward (seconds)"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    target = models.CharField(max_length=200, help_text='"tenant:<guid>", "site:<name>" or "*"')
    # rate_limit: {"limit": N, "window": seconds}; error_rate: {"share": 0..1, "status": 503};
    # latency: {"ms": N}; token_lifetime / delta_expiry: {"seconds": N}; consent_declined: {};
    # token_throttled: {"retry_after": seconds} (only the token endpoint; Graph answers as usual);
    # page_limit: {"max": N} (Jira's user lists serve at most N per page);
    # clock: {"seconds": N} on "*" (sandbox.clock: the sandbox's time runs N seconds ahead).
    params = models.JSONField(default=dict, blank=True)
    # Rate-limit bookkeeping, shared by every process through the database.
    window_started = models.FloatField(default=0)
    window_count = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "target"], name="sandbox_fault_kind_target")]

    def __str__(self):
        return f"{self.kind} on {self.target} {self.params}"


class RequestLog(models.Model):
    """One request to the sandbox's origins; bounded (see sandbox/requestlog.py)."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    port = models.CharField(max_length=8)  # "tls" or "browser"
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2000)
    query = models.TextField(blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    target = models.CharField(max_length=200, blank=True)  # the tenant or site it concerned
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"
