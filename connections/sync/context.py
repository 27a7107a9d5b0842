"""What a running job sees: its run, its connection, and ways to save progress safely."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connection as db
from django.db import transaction
from django.db.models import F
from django.db.models.expressions import CombinedExpression
from django.utils import timezone

from ..models import Connection, SyncRun
from .errors import RunStopped

COUNTERS = ("fetched", "created", "updated", "deleted", "unchanged")


class RunContext:
    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self.connection = run.connection
        self.organization = run.organization
        self.mode = run.mode
        # A resumed run starts where the last written batch left off.
        self.checkpoint = dict(run.checkpoint or {})
        # Which claim of the run this worker holds; a resume by another worker bumps it.
        self.attempt = run.attempts
        self.logger = logging.getLogger(f"connections.sync.{run.kind}")

    # -- saving -------------------------------------------------------------------------

    def _update(self, **fields: Any) -> None:
        fields["heartbeat_at"] = timezone.now()
        # Only while it is still ours: the stuck detector may have taken the run over.
        SyncRun.objects.filter(pk=self.run.pk, state=SyncRun.State.RUNNING, attempts=self.attempt).update(**fields)

    @staticmethod
    def _counter_updates(counts: Mapping[str, int]) -> dict[str, CombinedExpression]:
        unknown = set(counts) - set(COUNTERS)
        if unknown:
            raise TypeError(f"unknown counters: {sorted(unknown)}")
        return {name: F(name) + value for name, value in counts.items() if value}

    def save_checkpoint(self, checkpoint: Mapping[str, Any], **counts: int) -> None:
        """Persist the checkpoint and add the counts in one UPDATE, then check whether to go on.

        Call it inside `ctx.batch()` with the batch's writes, so data and checkpoint commit
        together: a worker killed after the commit resumes after this batch, one killed
        before it redoes the batch (upserts, so no duplicates)."""
        self.checkpoint = dict(checkpoint)
        self._update(checkpoint=self.checkpoint, **self._counter_updates(counts))
        self.check()

    def heartbeat(self) -> None:
        """Still alive (waiting counts): keeps the stuck detector off this run."""
        self._update()

    def add_counts(self, **counts: int) -> None:
        self._update(**self._counter_updates(counts))

    def progress(self, *, done: int | None = None, total: int | None = None) -> None:
        fields: dict[str, int] = {}
        if done is not None:
            fields["progress_done"] = done
        if total is not None:
            fields["progress_total"] = total
        self._update(**fields)
        self.check()

    # -- stopping -----------------------------------------------------------------------

    def check(self) -> None:
        """Raise RunStopped if the run was cancelled or taken over, or its connection was
        disconnected. Cheap (one indexed read); call it between pages."""
        row = (
            SyncRun.objects.filter(pk=self.run.pk)
            .values_list("state", "attempts", "cancel_requested", "connection__status")
            .first()
        )
        if row is None:
            raise RunStopped("the run was deleted")
        state, attempt, cancel_requested, connection_status = row
        if cancel_requested:
            raise RunStopped("cancelled")
        if connection_status == Connection.Status.DISCONNECTED:
            raise RunStopped("the connection was disconnected")
        if attempt != self.attempt:
            raise RunStopped("another worker resumed the run", taken_over=True)
        if state != SyncRun.State.RUNNING:
            raise RunStopped(f"the run is {state}")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One batch of writes: a transaction holding the connection row, so a disconnect
        (which locks it FOR UPDATE) waits for the batch, and no batch writes after it.

        On PostgreSQL the batch commits without waiting for its WAL to reach the disk. A crash
        of the database may then lose the last batches that said they committed, but only
        whole: their rows with their checkpoint, so the resumed run redoes them (upserts),
        never loses or duplicates a row. Any later synchronous commit (the run's end) flushes
        them first. This spares a disk flush per page, most of a batch's cost on a busy server.
        Reference: https://www.postgresql.org/docs/current/wal-async-commit.html"""
        with transaction.atomic():
            if db.vendor == "postgresql":
                with db.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            Connection.objects.select_for_update(no_key=True).filter(pk=self.connection.pk).first()
            self.check()
            yield
