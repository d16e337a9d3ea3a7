"""Ledger admission: which rows of a chunk still need sending (dedup within the run, resume across runs).

One statement looks a whole chunk up: its distinct keys travel as one JSON array, and json_each joins
them against the ledger's primary key and against the run's seen keys (a temporary table on disk, so
memory stays flat whatever the file's size). A resumed run over rows already done only reads the
ledger and marks them seen; new rows are inserted as pending, rows sent again get their line updated.

The keys go in key order: consecutive lookups and inserts then share B-tree pages. A file exported in
no particular order (real exports are not sorted by key) would otherwise touch a different page of the
ledger and of the seen table with every key. The caller runs `admit` inside one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from .tx import transaction

__all__ = ["SEEN_TABLE", "Admission", "Key", "admit", "mark_seen"]

Key = tuple[str, str, str, str, str]

SEEN_TABLE = ("CREATE TEMP TABLE seen (from_type, from_id, to_type, to_id, type, "
              "PRIMARY KEY (from_type, from_id, to_type, to_id, type)) WITHOUT ROWID")

# SQLite >= 3.35 for MATERIALIZED: the keys are extracted from the JSON once, not once per comparison.
_LOOKUP = """
WITH k(pos, c0, c1, c2, c3, c4) AS MATERIALIZED (
    SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
           json_extract(value, '$[3]'), json_extract(value, '$[4]')
    FROM json_each(?))
SELECT k.pos, a.status, s.type IS NOT NULL FROM k
LEFT JOIN assoc a
    ON a.from_type = k.c0 AND a.from_id = k.c1 AND a.to_type = k.c2 AND a.to_id = k.c3 AND a.type = k.c4
LEFT JOIN temp.seen s
    ON s.from_type = k.c0 AND s.from_id = k.c1 AND s.to_type = k.c2 AND s.to_id = k.c3 AND s.type = k.c4
"""
_MARK_SEEN = "INSERT OR IGNORE INTO temp.seen VALUES (?, ?, ?, ?, ?)"
_INSERT_PENDING = """
INSERT OR IGNORE INTO assoc (from_type, from_id, to_type, to_id, type, status, line)
VALUES (?, ?, ?, ?, ?, 'pending', ?)"""
_SET_LINE = """
UPDATE assoc SET line = ? WHERE from_type = ? AND from_id = ? AND to_type = ? AND to_id = ? AND type = ?"""
_ADMIT_INVALID = """
INSERT INTO assoc (from_type, from_id, to_type, to_id, type, status, line, category, message, updated_at)
VALUES (?, ?, ?, ?, ?, 'invalid', ?, 'INVALID_ROW', ?, ?)
ON CONFLICT DO UPDATE SET
    status = 'invalid', category = 'INVALID_ROW', message = excluded.message, http_status = NULL,
    updated_at = excluded.updated_at, line = excluded.line
"""


@dataclass(slots=True)
class Admission:
    """What the ledger says about one chunk of input rows."""

    to_send: list[int] = field(default_factory=list)  # indexes into the chunk
    invalid: int = 0
    duplicates: int = 0
    already_done: int = 0
    skipped_failed: int = 0
    clean: bool = True  # no invalid row, no failed row skipped, no duplicate of a row in flight (ledger/settled.py)


def admit(conn: sqlite3.Connection, keys_and_lines: Sequence[tuple[Key, int, str | None]], *, retry_failed: bool,
          resend: bool) -> Admission:
    """Classify a chunk. Each item is (key, line, invalid_reason or None).

    A key seen before in this run is a duplicate (the run's seen keys live in a temporary table,
    on disk, so memory stays flat whatever the file's size). Otherwise the ledger decides: new
    rows are inserted as pending and sent; rows recorded as succeeded are already done (sent
    again with `resend`); failed ones are sent again unless `retry_failed` is off.
    """
    adm = Admission()
    first: dict[Key, int] = {}  # first position of each key within this chunk
    for i, (key, _, _) in enumerate(keys_and_lines):
        first.setdefault(key, i)
    keys = sorted(first)  # in key order (see the module's docstring)
    status: dict[Key, str | None] = {}
    seen: set[Key] = set()
    for pos, state, was_seen in conn.execute(_LOOKUP, (orjson.dumps(keys),)):
        key = keys[pos]
        status[key] = state
        if was_seen:
            seen.add(key)
    conn.executemany(_MARK_SEEN, [k for k in keys if k not in seen])
    new: list[tuple[object, ...]] = []
    again: list[tuple[object, ...]] = []
    invalid: list[tuple[object, ...]] = []
    now = time.time()
    for i, (key, line, reason) in enumerate(keys_and_lines):
        if reason is not None:
            adm.invalid += 1
            if first[key] == i and key not in seen:
                invalid.append((*key, line, reason, now))
            continue
        if first[key] != i or key in seen:
            adm.duplicates += 1
            # a key of an earlier chunk: settled only once the ledger holds it as succeeded
            adm.clean &= key not in seen or status[key] == "succeeded"
            continue
        state = status[key]
        if state is None:
            new.append((*key, line))
        elif state == "succeeded" and not resend:
            adm.already_done += 1
            continue
        elif state in ("failed", "invalid") and not retry_failed:
            adm.skipped_failed += 1
            continue
        else:
            again.append((line, *key))
        adm.to_send.append(i)
    adm.clean &= not adm.invalid and not adm.skipped_failed
    conn.executemany(_INSERT_PENDING, new)
    conn.executemany(_SET_LINE, again)
    conn.executemany(_ADMIT_INVALID, invalid)
    return adm


def mark_seen(conn: sqlite3.Connection, keys: Sequence[Key]) -> None:
    """Mark keys seen in this run, in key order (see the module's docstring), in one transaction."""
    with transaction(conn):
        conn.executemany(_MARK_SEEN, sorted(keys))
