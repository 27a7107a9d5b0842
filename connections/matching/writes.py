"""Set-based writes of user matching's two tables, a page at a time, as plain rows (tuples).

On PostgreSQL a page goes in with COPY into a temporary staging table, then one
INSERT ... SELECT ... ON CONFLICT DO UPDATE, which also counts created / updated / unchanged
(in a data-modifying CTE, so the counts see the rows as they were before the write). On other
databases (the SQLite demo) one executemany of INSERT ... ON CONFLICT DO UPDATE.
Either way a page written twice (a run resumed after a crash) updates rows, never duplicates
them: the unique constraints (connection, user_id, digest) and (connection, account_id) hold.

Reference: https://www.postgresql.org/docs/current/sql-copy.html
Reference: https://www.psycopg.org/psycopg3/docs/basic/copy.html
Reference: https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT
Reference: https://www.sqlite.org/lang_upsert.html
"""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connections, router, transaction

from ..models import MicrosoftUserKey, UserMatch

KEY_COLUMNS = ("connection_id", "user_id", "digest", "kinds", "value", "generation")
KEY_CONFLICT = ("connection_id", "user_id", "digest")
KEY_UPDATE = ("kinds", "value", "generation")

MATCH_COLUMNS = (
    "connection_id",
    "account_id",
    "display_name",
    "account_type",
    "active",
    "email_key",
    "upn_key",
    "email",
    "outcome",
    "method",
    "microsoft_user_id",
    "candidates",
    "generation",
    "updated_at",
)
MATCH_CONFLICT = ("connection_id", "account_id")
MATCH_UPDATE = tuple(c for c in MATCH_COLUMNS if c not in MATCH_CONFLICT)
_CANDIDATES = MATCH_COLUMNS.index("candidates")
_UPDATED_AT = MATCH_COLUMNS.index("updated_at")
_ACCOUNT_ID = MATCH_COLUMNS.index("account_id")
_DECISION = tuple(MATCH_COLUMNS.index(c) for c in ("outcome", "method", "microsoft_user_id"))


def _db(model):
    return connections[router.db_for_write(model)]


def _match_row(row: Sequence) -> list:
    """The row as the database takes it: candidates as JSON text."""
    values = list(row)
    candidates = values[_CANDIDATES]
    values[_CANDIDATES] = json.dumps(list(candidates)) if candidates else "[]"  # most rows have none
    return values


def _upsert_sql(table: str, columns: Sequence[str], conflict: Sequence[str], update: Sequence[str], source: str):
    names = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
    return f"INSERT INTO {table} ({names}) {source} ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {sets}"  # noqa: S608 (names are ours)


def _stage(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    """COPY `rows` into this session's staging table for `table` (emptied at commit)."""
    stage = f"stage_{table}"
    # One round trip for both (no parameters, so one simple query may hold two statements).
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA; "
        f"TRUNCATE {stage}"  # a savepoint may have left rows
    )
    with cursor.cursor.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:  # noqa: S608
        for row in rows:
            copy.write_row(row)
    return stage


def upsert_keys(rows: list[tuple]) -> None:
    """Write MicrosoftUserKey rows (KEY_COLUMNS order); an existing key is updated."""
    if not rows:
        return
    db, table = _db(MicrosoftUserKey), MicrosoftUserKey._meta.db_table
    # No savepoint inside a batch: an error there fails the whole batch anyway.
    with transaction.atomic(using=db.alias, savepoint=False), db.cursor() as cursor:
        if db.vendor == "postgresql":
            stage = _stage(cursor, table, KEY_COLUMNS, rows)
            source = f"SELECT {', '.join(KEY_COLUMNS)} FROM {stage}"  # noqa: S608 (names are ours)
            cursor.execute(_upsert_sql(table, KEY_COLUMNS, KEY_CONFLICT, KEY_UPDATE, source))
        else:
            values = ", ".join(["%s"] * len(KEY_COLUMNS))
            cursor.executemany(_upsert_sql(table, KEY_COLUMNS, KEY_CONFLICT, KEY_UPDATE, f"VALUES ({values})"), rows)


def upsert_matches(rows: list[tuple]) -> dict[str, int]:
    """Write UserMatch rows (MATCH_COLUMNS order, all of one connection); returns how many
    were created, updated (another outcome, method or Microsoft user) and unchanged."""
    if not rows:
        return {}
    db, table = _db(UserMatch), UserMatch._meta.db_table
    # No savepoint inside a batch: an error there fails the whole batch anyway.
    with transaction.atomic(using=db.alias, savepoint=False), db.cursor() as cursor:
        if db.vendor == "postgresql":
            stage = _stage(cursor, table, MATCH_COLUMNS, (_match_row(r) for r in rows))
            source = f"SELECT {', '.join(MATCH_COLUMNS)} FROM {stage}"  # noqa: S608 (names are ours)
            upsert = _upsert_sql(table, MATCH_COLUMNS, MATCH_CONFLICT, MATCH_UPDATE, source)
            # A data-modifying CTE sees the table as it was before the statement: `old` is
            # what each account was, the upsert happens once all the same.
            cursor.execute(
                f"""WITH old AS (
                    SELECT m.id IS NULL AS created,
                           m.id IS NOT NULL AND m.outcome = s.outcome AND m.method = s.method
                               AND m.microsoft_user_id = s.microsoft_user_id AS same
                    FROM {stage} s LEFT JOIN {table} m
                      ON m.connection_id = s.connection_id AND m.account_id = s.account_id
                ), written AS ({upsert} RETURNING 1)
                SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE same),
                       count(*) FILTER (WHERE NOT created AND NOT same) FROM old"""  # noqa: S608
            )
            created, unchanged, updated = cursor.fetchone()
        else:
            connection_id = rows[0][0]
            before = dict(
                (account_id, tuple(decision))
                for account_id, *decision in UserMatch.objects.using(db.alias)
                .filter(connection_id=connection_id, account_id__in=[r[_ACCOUNT_ID] for r in rows])
                .values_list("account_id", "outcome", "method", "microsoft_user_id")
            )
            created = updated = unchanged = 0
            for row in rows:
                old = before.get(row[_ACCOUNT_ID])
                if old is None:
                    created += 1
                elif old == tuple(row[i] for i in _DECISION):
                    unchanged += 1
                else:
                    updated += 1
            values = ", ".join(["%s"] * len(MATCH_COLUMNS))
            adapted: dict[datetime, object] = {}  # a page's rows share their time: adapted once
            cursor.executemany(
                _upsert_sql(table, MATCH_COLUMNS, MATCH_CONFLICT, MATCH_UPDATE, f"VALUES ({values})"),
                [_sqlite_row(db, r, adapted) for r in rows],
            )
    return {"created": created, "updated": updated, "unchanged": unchanged}


def _sqlite_row(db, row: Sequence, adapted: dict) -> list:
    values = _match_row(row)
    when = values[_UPDATED_AT]
    if isinstance(when, datetime):
        if when not in adapted:
            adapted[when] = db.ops.adapt_datetimefield_value(when)
        values[_UPDATED_AT] = adapted[when]
    return values
