"""What a running job sees: its run, its connection, and ways to save progress safely."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import connection as db
from django.db import transaction
from django.db.models import F, QuerySet, Subquery
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
        self._in_batch = False  # inside ctx.batch(), which checked the run and holds the connection
        self._lock_sql: tuple[str, tuple] | None = None

    # -- saving -------------------------------------------------------------------------

    def _update(self, **fields: Any) -> int:
        fields["heartbeat_at"] = timezone.now()
        # Only while it is still ours: the stuck detector may have taken the run over.
        return SyncRun.objects.filter(pk=self.run.pk, state=SyncRun.State.RUNNING, attempts=self.attempt).update(
            **fields
        )

    def _update_and_check(self, **fields: Any) -> None:
        # Inside a batch the run was checked at its start and the connection row is locked (a
        # disconnect waits): an UPDATE that still found the run as ours needs no second look.
        # Outside one, or when the run is no longer ours, check() says why to stop.
        if not self._update(**fields) or not self._in_batch:
            self.check()

    @staticmethod
    def _counter_updates(counts: Mapping[str, int]) -> dict[str, CombinedExpression]:
        unknown = set(counts) - set(COUNTERS)
        if unknown:
            raise TypeError(f"unknown counters: {sorted(unknown)}")
        return {name: F(name) + value for name, value in counts.items() if value}

    def save_checkpoint(
        self, checkpoint: Mapping[str, Any], *, done: int | None = None, total: int | None = None, **counts: int
    ) -> None:
        """Persist the checkpoint, add the counts and set the progress (`done`/`total`, as
        progress() does) in one UPDATE, then check whether to go on.

        Call it inside `ctx.batch()` with the batch's writes, so data and checkpoint commit
        together: a worker killed after the commit resumes after this batch, one killed
        before it redoes the batch (upserts, so no duplicates)."""
        self.checkpoint = dict(checkpoint)
        self._update_and_check(
            checkpoint=self.checkpoint, **self._counter_updates(counts), **self._progress_fields(done, total)
        )

    def heartbeat(self) -> None:
        """Still alive (waiting counts): keeps the stuck detector off this run."""
        self._update()

    def add_counts(self, **counts: int) -> None:
        self._update(**self._counter_updates(counts))

    @staticmethod
    def _progress_fields(done: int | None, total: int | None) -> dict[str, int]:
        fields: dict[str, int] = {}
        if done is not None:
            fields["progress_done"] = done
        if total is not None:
            fields["progress_total"] = total
        return fields

    def progress(self, *, done: int | None = None, total: int | None = None) -> None:
        self._update_and_check(**self._progress_fields(done, total))

    # -- stopping -----------------------------------------------------------------------

    def check(self) -> None:
        """Raise RunStopped if the run was cancelled or taken over, or its connection was
        disconnected. Cheap (one indexed read); call it between pages."""
        row = (
            SyncRun.objects.filter(pk=self.run.pk)
            .values_list("connection__status", "state", "attempts", "cancel_requested")
            .first()
        )
        self._stop_unless_ours(row)

    def _stop_unless_ours(self, row: tuple | None) -> None:
        """`row`: (connection status, run state, attempts, cancel requested), or None."""
        if row is None or row[1] is None:
            raise RunStopped("the run was deleted")
        connection_status, state, attempt, cancel_requested = row
        if cancel_requested:
            raise RunStopped("cancelled")
        if connection_status == Connection.Status.DISCONNECTED:
            raise RunStopped("the connection was disconnected")
        if attempt != self.attempt:
            raise RunStopped("another worker resumed the run", taken_over=True)
        if state != SyncRun.State.RUNNING:
            raise RunStopped(f"the run is {state}")

    def _locking_check(self) -> QuerySet:
        """The connection row locked (FOR NO KEY UPDATE) with the run's state, in one query."""
        run = SyncRun.objects.filter(pk=self.run.pk)
        return (
            Connection.objects.filter(pk=self.connection.pk)
            .select_for_update(no_key=True)
            .annotate(
                run_state=Subquery(run.values("state")),
                run_attempts=Subquery(run.values("attempts")),
                run_cancel=Subquery(run.values("cancel_requested")),
            )
            .values_list("status", "run_state", "run_attempts", "run_cancel")
        )

    def _lock_and_check(self) -> None:
        if self._lock_sql is None:  # the same query every batch: compiled once
            sql, params = self._locking_check().query.sql_with_params()
            if db.vendor == "postgresql":
                sql = f"SET LOCAL synchronous_commit TO OFF; {sql}"
            self._lock_sql = (sql, params)
        with db.cursor() as cursor:
            # On PostgreSQL one round trip for both statements (the batch pays one per page, and
            # the page's writes are a few more): a busy server makes each round trip count.
            cursor.execute(*self._lock_sql)
            if db.vendor == "postgresql":
                cursor.nextset()
            self._stop_unless_ours(cursor.fetchone())

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
            self._lock_and_check()
            outer, self._in_batch = self._in_batch, True
            try:
                yield
            finally:
                self._in_batch = outer
