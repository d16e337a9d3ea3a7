"""Settled chunks: a rerun over rows already done skips a whole chunk with one lookup instead of one per row.

Why. The reader's chunks of the same file are the same every time. Admitting a done row row by row costs a
probe of the ledger's five-text-column primary key (~11 µs) and an insert into the run's seen keys
(~13–19 µs), both at random B-tree pages when the file is in no particular order (measured on a 1M-row
ledger, 20-digit IDs shuffled), against 2.6–4 µs to read the row. Bigger SQLite caches or mmap did not
help measurably (the table is ~120 MB; a cache that large would break flat memory). A digest per chunk
makes a done chunk cost its reading, ~0.3–0.6 µs a row for the digest, and one probe per 2,048 rows.

What. `chunk_digest` is SHA-256 (its first 128 bits) over the chunk as read: each row's five key fields
and line, and each invalid row's reason, so anything that changes a key (--from-type, --column, the
format) or the chunking changes the digest. `settled_chunks(digest, rows, duplicates)` holds the chunks
of which every row was settled in a state a rerun skips: every valid row recorded as succeeded, no
invalid row, no failure. A hit counts the chunk as the recorded `duplicates` plus `rows - duplicates`
already done, and sends nothing.

When a digest is recorded (by the write side, `store.Ledger`):
- (a) admission found nothing to send in a clean chunk: in the admission's own transaction;
- (b) a clean chunk whose sent rows have all been recorded as succeeded (`Settling`): in the same
  transaction as the last of those outcomes, so a kill -9 keeps both or neither. A rerun after a kill
  skips what was settled before it; only the chunks in flight at the kill are admitted row by row.
"Clean": no invalid row, no failed row skipped (--no-retry-failed), and every duplicate of a key from an
earlier chunk refers to a row the ledger already holds as succeeded (not one still in flight).

Safety: a digest never skips a row that admission row by row would send. It stands only while every one
of its rows is succeeded: triggers on `assoc` clear the whole table when any row leaves 'succeeded' (undo,
a mirror's delete, a failure after --resend, an invalid upsert) or is deleted, whoever does it (an older
bulkassoc too: the triggers live in the file). The run bypasses digests where admission differs: --resend
(sends done rows), --mirror, and a pipe (one-row chunks, nothing to gain); a dry run and a check consult
them but record only what admission finds (their ledger is a scratch copy). --retry-failed, read-first,
keyed IDs and --refresh-ids do not matter: a chunk of succeeded rows is admitted the same under all of
them, and a ledger bound to another portal stops the run before its first chunk.

Counts stay exact. Digests are chained (each covers the input up to its chunk), and chunks are skipped
only from the start of the input: a hit stands for the very same input up to there, so the recorded
split of its rows into duplicates and already done is this run's too. At the first chunk that is not
settled, skipping ends for the run, and the keys of the skipped rows are read again from the input and
marked seen (`engine/feed.py`, `CatchUp`) before that chunk is admitted: a later repeat of one of them
counts as a duplicate, as the contract says. A done file costs its reading and one probe per chunk; a
file done up to a kill costs, for its done part, a second reading and the seen inserts, not the ledger
probes. The end of run's bookkeeping of failed rows (`failures.retire_unseen`, which reads the seen
keys) is unaffected: a settled chunk holds no failed or invalid row.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ..rows.types import InvalidRow, Row
from .tx import transaction

__all__ = ["Settled", "Settling", "chunk_digest", "ensure_settled_schema", "find_settled", "record_settled"]

Key = tuple[str, str, str, str, str]
Settled = tuple[bytes, int, int]  # digest, rows, duplicates

_TABLE = """
CREATE TABLE IF NOT EXISTS settled_chunks (
    digest BLOB PRIMARY KEY, rows INTEGER NOT NULL, duplicates INTEGER NOT NULL
) WITHOUT ROWID"""
_KEY_CHANGED = ("NEW.from_type IS NOT OLD.from_type OR NEW.from_id IS NOT OLD.from_id OR NEW.to_type IS NOT "
                "OLD.to_type OR NEW.to_id IS NOT OLD.to_id OR NEW.type IS NOT OLD.type")
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS settled_chunks_unsettled AFTER UPDATE OF status, from_type, from_id, to_type, "
    f"to_id, type ON assoc WHEN OLD.status = 'succeeded' AND (NEW.status IS NOT 'succeeded' OR {_KEY_CHANGED}) "
    "BEGIN DELETE FROM settled_chunks; END",
    "CREATE TRIGGER IF NOT EXISTS settled_chunks_deleted AFTER DELETE ON assoc WHEN OLD.status = 'succeeded' "
    "BEGIN DELETE FROM settled_chunks; END",
)
_NAMES = ("settled_chunks", "settled_chunks_unsettled", "settled_chunks_deleted")
_RECORD = "INSERT OR REPLACE INTO settled_chunks VALUES (?, ?, ?)"


def ensure_settled_schema(conn: sqlite3.Connection) -> None:
    """Add the table and its triggers to a ledger that lacks them (idempotent; ledgers written before gain them)."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name IN (?, ?, ?)", _NAMES)}
    if have == set(_NAMES):
        return
    with transaction(conn, "BEGIN IMMEDIATE"):
        conn.execute(_TABLE)
        for trigger in _TRIGGERS:
            conn.execute(trigger)


_PIECE = 2000  # bytes per hash update: hashlib lets go of the GIL from 2,048 on (HASHLIB_GIL_MINSIZE)
_FIELDS = operator.attrgetter("from_type", "from_id", "to_type", "to_id", "type", "line")


def chunk_digest(chunk: Sequence[Row | InvalidRow], prev: bytes = b"") -> bytes:
    """The digest of a chunk as read: every row's five key fields and line, and the invalid rows' reasons,
    chained to `prev`, the digest of the chunk before it (so a digest stands for the whole input up to here).

    Hashed in pieces too small for hashlib to release the GIL: the reader's thread would take it, and
    getting it back can cost a switch interval (5 ms, 25 times the hashing itself)."""
    invalid = [(it.line, it.reason) for it in chunk if type(it) is InvalidRow]
    data = memoryview(orjson.dumps([list(map(_FIELDS, chunk)), invalid]))
    h = hashlib.sha256(prev)  # OpenSSL's, with the CPU's SHA instructions: twice blake2b's speed here
    for at in range(0, len(data), _PIECE):
        h.update(data[at:at + _PIECE])
    return h.digest()[:16]


def find_settled(conn: sqlite3.Connection, digest: bytes) -> tuple[int, int] | None:
    """(rows, duplicates) of a settled chunk, or None."""
    row = conn.execute("SELECT rows, duplicates FROM settled_chunks WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def record_settled(conn: sqlite3.Connection, settled: Sequence[Settled]) -> None:
    """Within the caller's transaction."""
    conn.executemany(_RECORD, settled)


@dataclass(slots=True)
class _Open:
    digest: bytes
    rows: int
    duplicates: int
    outstanding: int
    spoiled: bool = False


class Settling:
    """Chunks whose rows are still in flight: each settles when its last sent row is recorded as succeeded,
    and is dropped for good when one fails (a rerun admits it row by row). Holds only the keys in flight."""

    def __init__(self) -> None:
        self._of: dict[Key, _Open] = {}
        self.done: list[Settled] = []  # settled since the last flush, written with it

    def track(self, digest: bytes, rows: int, duplicates: int, sent: Sequence[Key]) -> None:
        chunk = _Open(digest, rows, duplicates, len(sent))
        for key in sent:
            other = self._of.get(key)
            if other is not None:  # sent twice in one run: cannot happen (seen keys); be safe anyway
                other.spoiled = chunk.spoiled = True
            self._of[key] = chunk

    def settled(self, key: Key, succeeded: bool) -> None:
        chunk = self._of.pop(key, None)
        if chunk is None:
            return
        chunk.spoiled |= not succeeded
        chunk.outstanding -= 1
        if chunk.outstanding == 0 and not chunk.spoiled:
            self.done.append((chunk.digest, chunk.rows, chunk.duplicates))

    def take(self) -> list[Settled]:
        done, self.done = self.done, []
        return done
