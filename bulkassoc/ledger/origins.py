"""What the ledger knows about where an association came from, and what this tool removed: the record
`undo` and `--mirror` work from.

Per row of `assoc` (columns added to ledgers written before, which keep working):
- `origin`: 'created' (the read before the write found the pair without the row's type, so this tool
  made it), 'present' (HubSpot already held it: no write), or NULL (not known: written without a read,
  e.g. v3 single mode without `--read-first`, or by a bulkassoc older than this record). The first
  observation wins: a row written, then read again on a rerun after a kill, stays 'created'.
- `origin_run`, `origin_category`: the run that first saw it absent, and the category it was written with.
- `before_types`: JSON `[[category, typeId], …]`, the pair's other types when it was read.
A row `undo` removed has status 'undone'; a row a mirror deleted has status 'deleted' (neither is
"succeeded": a later run writes it again).

`deletions` holds every association a mirror removed (or plans to): (pair, type, category, run), status
'planned' | 'deleted' | 'restored' | 'failed'. `undo` restores the deleted ones.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence

import orjson

from .tx import transaction

__all__ = [
    "DELETION_COLUMNS", "Origin", "count_unknown", "created_rows", "deleted_rows", "ensure_sync_schema",
    "mark_deletions", "mark_origins", "mark_undone", "plan_deletions", "run_ids",
]

Key = tuple[str, str, str, str, str]
Origin = tuple[Key, str, int, str, str]  # key, 'created' | 'present', run id, category, before JSON
DELETION_COLUMNS = ("from_type", "from_id", "to_type", "to_id", "type", "category", "run_id")

_COLUMNS = (("origin", "TEXT"), ("origin_run", "INTEGER"), ("origin_category", "TEXT"), ("before_types", "TEXT"))
_DELETIONS = """
CREATE TABLE IF NOT EXISTS deletions (
    from_type TEXT NOT NULL, from_id TEXT NOT NULL, to_type TEXT NOT NULL, to_id TEXT NOT NULL,
    type TEXT NOT NULL, category TEXT NOT NULL, run_id INTEGER NOT NULL,
    status TEXT NOT NULL,             -- planned | deleted | restored | failed
    message TEXT, updated_at REAL,
    PRIMARY KEY (run_id, from_type, from_id, to_type, to_id, type)
) WITHOUT ROWID"""
_WHERE_KEY = "from_type = ? AND from_id = ? AND to_type = ? AND to_id = ? AND type = ?"
_MARK = f"""
UPDATE assoc SET origin = COALESCE(origin, ?),
    origin_run = CASE WHEN origin IS NULL THEN ? ELSE origin_run END,
    origin_category = CASE WHEN origin IS NULL THEN ? ELSE origin_category END,
    before_types = CASE WHEN origin IS NULL THEN ? ELSE before_types END
WHERE {_WHERE_KEY}"""


def _tx(conn: sqlite3.Connection, statement: str, params: Iterable[Sequence[object]]) -> None:
    """One statement over many rows, committed together."""
    with transaction(conn):
        conn.executemany(statement, params)


def ensure_sync_schema(conn: sqlite3.Connection) -> None:
    """Add the origin columns and the deletions table to a ledger that lacks them (idempotent)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(assoc)")}
    missing = [(name, kind) for name, kind in _COLUMNS if name not in have]
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'deletions'").fetchone()
    if not missing and exists:
        return
    with transaction(conn, "BEGIN IMMEDIATE"):
        for name, kind in missing:
            conn.execute(f"ALTER TABLE assoc ADD COLUMN {name} {kind}")
        conn.execute(_DELETIONS)


def mark_origins(conn: sqlite3.Connection, origins: Sequence[Origin]) -> None:
    """Record what the read before the write found, per row (the first observation wins)."""
    if origins:
        _tx(conn, _MARK, [(origin, run, category, before, *key) for key, origin, run, category, before in origins])


def before_json(types: Iterable[tuple[str, int]]) -> str:
    return orjson.dumps(sorted(types)).decode()


def run_ids(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT id FROM runs ORDER BY id")]


def _run_filter(runs: Sequence[int] | None, column: str) -> tuple[str, list[object]]:
    if runs is None:
        return "", []
    return f" AND {column} IN ({','.join('?' * len(runs))})", list(runs)


def created_rows(conn: sqlite3.Connection, runs: Sequence[int] | None, page: int
                 ) -> Iterator[list[tuple[Key, str, str | None]]]:
    """Pages of (key, category, before_types) of the associations this tool created and still holds as succeeded, or
    whose write was sent but not recorded (pending after a kill: it may have landed; removing a type that
    is not there is harmless, and the read said the pair lacked it before)."""
    where, params = _run_filter(runs, "origin_run")
    last: tuple[object, ...] = ("", "", "", "", "")
    while True:
        rows = conn.execute(
            "SELECT from_type, from_id, to_type, to_id, type, origin_category, before_types FROM assoc "
            f"WHERE status IN ('succeeded', 'pending') AND origin = 'created'{where} "
            "AND (from_type, from_id, to_type, to_id, type) > (?, ?, ?, ?, ?) "
            "ORDER BY from_type, from_id, to_type, to_id, type LIMIT ?", (*params, *last, page)).fetchall()
        if not rows:
            return
        yield [((r[0], r[1], r[2], r[3], r[4]), str(r[5] or "HUBSPOT_DEFINED"), r[6]) for r in rows]
        last = tuple(rows[-1][:5])


def count_unknown(conn: sqlite3.Connection, runs: Sequence[int] | None) -> int:
    """Rows recorded as succeeded whose origin is not known (undo leaves them alone)."""
    if runs is not None:  # a row without origin has no run either
        return 0
    return int(conn.execute("SELECT count(*) FROM assoc WHERE status = 'succeeded' AND origin IS NULL"
                            ).fetchone()[0])


def mark_undone(conn: sqlite3.Connection, keys: Sequence[Key]) -> None:
    """These created rows are removed again: no longer succeeded, origin forgotten (a later run that
    writes them again reads afresh)."""
    now = time.time()
    _tx(conn, "UPDATE assoc SET status = 'undone', origin = NULL, origin_run = NULL, origin_category = NULL, "
        f"before_types = NULL, updated_at = ? WHERE {_WHERE_KEY}", [(now, *k) for k in keys])


def plan_deletions(conn: sqlite3.Connection, run_id: int, items: Sequence[tuple[Key, str]]) -> None:
    """Record the deletes a mirror is about to make (key, category), before the first is sent."""
    now = time.time()
    _tx(conn, "INSERT OR REPLACE INTO deletions VALUES (?, ?, ?, ?, ?, ?, ?, 'planned', NULL, ?)",
        [(*key, category, run_id, now) for key, category in items])


def mark_deletions(conn: sqlite3.Connection, run_id: int, keys: Sequence[Key], status: str,
                   message: str | None = None) -> None:
    """Settle planned deletions (or deleted ones restored). A deleted association the ledger holds as a
    row gets status 'deleted' (a later run that lists it again writes it again)."""
    now = time.time()
    with transaction(conn):
        conn.executemany(f"UPDATE deletions SET status = ?, message = ?, updated_at = ? WHERE run_id = ? AND "
                         f"{_WHERE_KEY}", [(status, message, now, run_id, *k) for k in keys])
        if status == "deleted":
            conn.executemany("UPDATE assoc SET status = 'deleted', origin = NULL, origin_run = NULL, "
                             f"updated_at = ? WHERE status = 'succeeded' AND {_WHERE_KEY}",
                             [(now, *k) for k in keys])


def deleted_rows(conn: sqlite3.Connection, runs: Sequence[int] | None, status: str = "deleted"
                 ) -> list[tuple[Key, str, int]]:
    """(key, category, run) of the deletions in `status` ('deleted': what undo restores)."""
    where, params = _run_filter(runs, "run_id")
    return [((r[0], r[1], r[2], r[3], r[4]), str(r[5]), int(r[6])) for r in conn.execute(
        "SELECT from_type, from_id, to_type, to_id, type, category, run_id FROM deletions "
        f"WHERE status = ?{where} ORDER BY from_type, from_id, to_type, to_id, type", (status, *params))]
