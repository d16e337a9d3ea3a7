"""The ledger's record of lookups: which record a unique property's value resolved to, and when.

A table of its own (`id_lookups`), created when first needed, so a ledger written before it existed
still opens and resumes. Only values that matched a record are kept: a value that matched nothing is
looked up again by the next run (the record may exist by then).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable

from .store import Ledger, LedgerError

__all__ = ["LookupStore", "read_lookups", "split_keyed"]

_TABLE = """
CREATE TABLE IF NOT EXISTS id_lookups (
    object_type TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,
    record_id TEXT NOT NULL, resolved_at REAL NOT NULL,
    PRIMARY KEY (object_type, property, value)
) WITHOUT ROWID
"""


def split_keyed(value: str) -> tuple[str, str] | None:
    """(property, value) of a keyed fromId / toId (`email=a@x.com`); None for a record ID."""
    if value.isdigit() or "=" not in value:
        return None
    prop, _, rest = value.partition("=")
    return prop, rest


class LookupStore:
    """The lookups of one ledger (write side). Values are kept as matched (an e-mail lower-cased)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        try:
            ledger.conn.execute(_TABLE)
            # nothing cached when the run began: what this run resolves its resolver keeps in memory anyway
            self._empty = ledger.conn.execute("SELECT 1 FROM id_lookups LIMIT 1").fetchone() is None
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write to the ledger {ledger.path}: {exc}") from None

    def get(self, object_type: str, prop: str, values: Iterable[str]) -> dict[str, str]:
        """Cached record IDs of those `values` that were resolved before."""
        wanted = [] if self._empty else list(values)
        found: dict[str, str] = {}
        try:
            for start in range(0, len(wanted), 500):
                part = wanted[start:start + 500]
                found.update(self._ledger.conn.execute(
                    "SELECT value, record_id FROM id_lookups WHERE object_type = ? AND property = ? "
                    f"AND value IN ({','.join('?' * len(part))})", (object_type, prop, *part)).fetchall())
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {self._ledger.path}: {exc}") from None
        return found

    def put(self, object_type: str, prop: str, resolved: dict[str, str]) -> None:
        now = time.time()
        conn = self._ledger.conn
        try:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO id_lookups VALUES (?, ?, ?, ?, ?)",
                             [(object_type, prop, v, rid, now) for v, rid in resolved.items()])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise LedgerError(f"cannot write to the ledger {self._ledger.path}: {exc}") from None

    def forget(self) -> int:
        """Drop every cached lookup (`--refresh-ids`); returns how many."""
        conn = self._ledger.conn
        self._empty = True
        try:
            return conn.execute("DELETE FROM id_lookups").rowcount
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write to the ledger {self._ledger.path}: {exc}") from None


def read_lookups(conn: sqlite3.Connection) -> dict[tuple[str, str, str], tuple[str, float]]:
    """Every cached lookup of a ledger opened read-only: (objectType, property, value) → (recordId,
    resolvedAt); {} for a ledger written before lookups existed."""
    try:
        rows = conn.execute("SELECT object_type, property, value, record_id, resolved_at FROM id_lookups")
        return {(t, p, v): (rid, at) for t, p, v, rid, at in rows}
    except sqlite3.OperationalError:  # no such table
        return {}
