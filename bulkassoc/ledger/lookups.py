"""The ledger's record of lookups: which record a unique property's value resolved to, and when.

A table of its own (`id_lookups`), created when first needed, so a ledger written before it existed
still opens and resumes. Only values that matched a record are kept: a value that matched nothing is
looked up again by the next run (the record may exist by then).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Sequence

from .store import Key, Ledger, LedgerError

__all__ = ["LookupStore", "normalise", "read_lookups", "sent_keys", "split_keyed"]

_CASELESS = frozenset({"email", "hs_additional_emails"})

_TABLE = """
CREATE TABLE IF NOT EXISTS id_lookups (
    object_type TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,
    record_id TEXT NOT NULL, resolved_at REAL NOT NULL,
    PRIMARY KEY (object_type, property, value)
) WITHOUT ROWID
"""


_TYPES = """
CREATE TABLE IF NOT EXISTS type_lookups (
    from_type TEXT NOT NULL, to_type TEXT NOT NULL, given TEXT NOT NULL,
    type_id TEXT NOT NULL, category TEXT NOT NULL, resolved_at REAL NOT NULL,
    PRIMARY KEY (from_type, to_type, given)
) WITHOUT ROWID
"""


def normalise(prop: str, value: str) -> str:
    """A value as HubSpot matches it: trimmed; an e-mail lower-cased (HubSpot stores it so)."""
    value = value.strip()
    return value.lower() if prop in _CASELESS else value


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
            ledger.conn.execute(_TYPES)
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

    def put_type(self, from_type: str, to_type: str, given: str, type_id: str, category: str) -> None:
        """A type name or label resolved to its ID: kept so that `undo` removes what was sent."""
        try:
            self._ledger.conn.execute("INSERT OR REPLACE INTO type_lookups VALUES (?, ?, ?, ?, ?, ?)",
                                      (from_type, to_type, given, type_id, category, time.time()))
        except sqlite3.Error as exc:
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


def sent_keys(conn: sqlite3.Connection, keys: Sequence[Key]) -> list[Key]:
    """The keys as they were sent: keyed IDs (`email=a@x.com`) as the record IDs they resolved to, type
    names and labels as their IDs. A part the ledger cannot translate stays as given."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for k in keys:
        for object_type, value in ((k[0], k[1]), (k[2], k[3])):
            if (split := split_keyed(value)) is not None:
                wanted.setdefault((object_type, split[0]), set()).add(normalise(*split))
    ids: dict[tuple[str, str, str], str] = {}
    types: dict[tuple[str, str, str], str] = {}
    try:
        for (object_type, prop), values in wanted.items():
            listed = sorted(values)
            for start in range(0, len(listed), 500):
                part = listed[start:start + 500]
                for value, record_id in conn.execute(
                        "SELECT value, record_id FROM id_lookups WHERE object_type = ? AND property = ? AND value "
                        f"IN ({','.join('?' * len(part))})", (object_type, prop, *part)):
                    ids[(object_type, prop, value)] = record_id
        if any(not k[4].isdigit() for k in keys):
            types = {(f, t, g): tid for f, t, g, tid in conn.execute(
                "SELECT from_type, to_type, given, type_id FROM type_lookups")}
    except sqlite3.OperationalError:  # a ledger from before lookups: nothing to translate
        pass

    def record(object_type: str, value: str) -> str:
        split = split_keyed(value)
        if split is None:
            return value
        return ids.get((object_type, split[0], normalise(*split)), value)

    return [(k[0], record(k[0], k[1]), k[2], record(k[2], k[3]),
             k[4] if k[4].isdigit() else types.get((k[0], k[2], k[4]), k[4])) for k in keys]
