"""Jira unavailable in the middle of a user matching run: the beat retries the run from its
checkpoint once due, and the matches come out complete, none twice. Jira refusing the
portal's authorization is left to a person."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.matching import directory
from connections.models import SyncRun, UserMatch
from connections.sync import schedules
from connections.sync.context import RunContext
from connections.sync.runner import run_execute
from tenants.models import AuditEvent


@pytest.fixture
def jira_fails_midway(matching, monkeypatch, settings):
    """Jira answers `status` from the moment the first page of accounts was written."""
    settings.SYNC_HTTP_MAX_ATTEMPTS = 1
    settings.SYNC_OUTAGE_WINDOW = 0
    monkeypatch.setattr(directory, "JIRA_PAGE_SIZE", 5)
    # Jira read one page ahead only (not the whole small site while Microsoft's side is written),
    # so the outage meets the listing midway.
    settings.SYNC_LOOKAHEAD_ACCOUNTS = 0
    original = RunContext.save_checkpoint

    def arm(status):
        def save_checkpoint(self, checkpoint, **counts):
            original(self, checkpoint, **counts)
            if checkpoint.get("phase") == "atlassian" and checkpoint.get("start_at"):
                matching.sandbox.set_fault("error_rate", "site:acme", share=1, status=status, retry_after="")

        monkeypatch.setattr(RunContext, "save_checkpoint", save_checkpoint)

    return arm


def _failed_run(w):
    run = SyncRun.objects.create(
        organization=w.organization, connection=w.connection, kind=SyncRun.Kind.USER_MATCHING, mode="full"
    )
    run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED, run.state
    assert run.checkpoint.get("phase") == "atlassian" and run.checkpoint.get("start_at") >= 5
    return run


def test_jira_unavailable_midway_is_retried_from_the_checkpoint(matching, jira_fails_midway, monkeypatch):
    w = matching
    jira_fails_midway(503)
    failed = _failed_run(w)
    assert "503" in failed.error and failed.retry_at is not None
    written_before = UserMatch.objects.filter(connection=w.connection).count()
    assert written_before == failed.checkpoint["start_at"]

    w.sandbox.clear_faults()
    monkeypatch.undo()
    (retried,) = schedules.retry_due(now=failed.retry_at + timedelta(seconds=1))
    retry = SyncRun.objects.get(pk=retried)
    assert (retry.state, retry.resumed_from_id) == (SyncRun.State.SUCCEEDED, failed.pk), retry.error
    matches = list(UserMatch.objects.filter(connection=w.connection).values_list("account_id", flat=True))
    assert len(matches) == len(set(matches)) > written_before
    # A fresh full run adds nothing and removes nothing: no account was lost or counted twice.
    check = w.run()
    assert (check.created, check.deleted) == (0, 0)
    assert UserMatch.objects.filter(connection=w.connection).count() == len(matches)
    assert AuditEvent.objects.get(action="sync.run_retried", details__run=retry.pk).actor_type == "system"


def test_jira_refusing_the_authorization_is_not_retried_by_itself(matching, jira_fails_midway):
    jira_fails_midway(401)
    failed = _failed_run(matching)
    assert failed.retry_at is None and "authoriz" in failed.remedy
    assert schedules.retry_due(now=timezone.now() + timedelta(days=1)) == []
