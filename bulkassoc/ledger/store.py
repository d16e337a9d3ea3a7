"""The SQLite ledger: the durable record of every row's outcome, keyed by the row's content.

One table holds one line per distinct association (fromType, fromId, toType, toId, type).
A row counts as done only once its success is committed here; anything attempted but not
committed is sent again by the next run (a repeat PUT is harmless, a lost row is not).

Writes are batched: outcomes collect in memory and are committed together (WAL mode), every
FLUSH_EVERY outcomes and at the latest when the run's ticker flushes (every 0.25 s), so the cost per
row is a fraction of a commit. A process killed between two commits loses only the record of the
last few outcomes (at most FLUSH_EVERY, plus the requests in flight), and those rows are sent again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..hubspot.outcomes import Kind, Outcome
from ..rows.bounded import bound
from .admission import SEEN_TABLE, Admission, Key, admit, mark_seen
from .errors import LedgerBusyError, LedgerError
from .lock import FileLock
from .origins import ensure_sync_schema
from .settled import Settling, ensure_settled_schema, find_settled, record_settled

__all__ = [
    "FLUSH_EVERY", "Admission", "Key", "Ledger", "LedgerBusyError", "LedgerError", "connect", "is_line_key", "line_key",
    "remove_ledger_files", "scratch_copy",
]

_LINE_KEY = "line "


def line_key(line: int) -> Key:
    """The key of an input line that has no fields at all (not JSON, not an object): its line number,
    so that two such lines stay two ledger entries."""
    return ("", "", "", "", f"{_LINE_KEY}{line}")


def is_line_key(values: Sequence[object]) -> bool:
    return not any(values[:4]) and str(values[4]).startswith(_LINE_KEY)

FLUSH_EVERY = 32  # outcomes per commit at most: what a kill -9 can cost in repeated writes, besides in-flight
APPLICATION_ID = 0x42A5_5C01  # marks a file as a bulkassoc ledger (PRAGMA application_id)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assoc (
    from_type TEXT NOT NULL, from_id TEXT NOT NULL, to_type TEXT NOT NULL,
    to_id TEXT NOT NULL, type TEXT NOT NULL,
    status TEXT NOT NULL,             -- pending | succeeded | failed | invalid
    line INTEGER,                     -- input line where the row was last seen
    http_status INTEGER, category TEXT, message TEXT, correlation_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL,
    input TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# the few rows a run's end looks for (its top failures, the retiring of failed rows no longer listed): without
# it each is a scan of the whole table (0.3 s a million rows); rows that succeeded are not in it (ledgers
# written before gain it on their next run)
_FAILED_INDEX = "CREATE INDEX IF NOT EXISTS assoc_failed ON assoc(status) WHERE status IN ('failed', 'invalid')"

_RECORD = """
UPDATE assoc SET status = ?, http_status = ?, category = ?, message = ?, correlation_id = ?,
    attempts = attempts + ?, updated_at = ?
WHERE from_type = ? AND from_id = ? AND to_type = ? AND to_id = ? AND type = ?
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a ledger file, checking that it is one (or is new and empty)."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            f"{path} is not a readable bulkassoc ledger ({exc}); move it aside or pass --ledger PATH"
        ) from None
    if app_id != APPLICATION_ID and (tables or readonly):
        conn.close()
        raise LedgerError(f"{path} is not a bulkassoc ledger; pass --ledger PATH to choose another file")
    return conn


class Ledger:
    """The write side, owned by one run at a time."""

    def __init__(self, path: Path, *, flush_every: int = FLUSH_EVERY, settle: bool = False) -> None:
        """`settle`: record chunks whose rows all succeeded in this run (`ledger/settled.py`)."""
        self.path = path
        # lock the file itself, however it is reached (a symlink, a relative path)
        real = Path(os.path.realpath(path))
        self._lock = FileLock(real.with_name(real.name + ".lock"))
        self._flush_every = flush_every
        self._settling = Settling() if settle else None
        self._pending: list[tuple[object, ...]] = []
        self._conn: sqlite3.Connection | None = None
        self.run_id = 0

    # -- lifecycle -------------------------------------------------------------------------
    def open(self, input_name: str) -> None:
        parent = self.path.parent
        if not parent.is_dir():
            raise LedgerError(f"cannot create the ledger {self.path}: folder {parent} does not exist")
        self._lock.acquire()
        try:
            conn = self._conn = connect(self.path)
            with self._sqlite_errors():
                self._init_schema(conn)
                ensure_sync_schema(conn)  # origin columns and deletions (ledgers written before gain them)
                ensure_settled_schema(conn)
                conn.execute(_FAILED_INDEX)
                cur = conn.execute("INSERT INTO runs (started_at, input) VALUES (?, ?)", (time.time(), input_name))
                # this run's keys, for duplicates: a temporary table lives on disk and dies with the connection
                conn.execute("PRAGMA temp_store=FILE")
                conn.execute(SEEN_TABLE)
            self.run_id = int(cur.lastrowid or 0)
        except BaseException:
            self.close()
            raise

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a process crash
        conn.execute("PRAGMA busy_timeout=5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(f"{self.path} was written by a newer bulkassoc (schema {version}); upgrade bulkassoc")
        if version:  # an existing ledger: is it whole? (a kill -9 never damages it; a disk or a user might)
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise LedgerError(f"the ledger {self.path} is damaged ({check}); move it aside and rerun with "
                                  "--ledger NEW.sqlite (rows it recorded as done will be sent again)")
            return
        # a new ledger: mark and build it in one transaction, so a kill leaves either nothing or all of it
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (repr(time.time()),))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def close(self, summary_json: str | None = None) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                try:
                    self._flush(conn)
                    if summary_json is not None and self.run_id:
                        try:
                            conn.execute("UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                                         (time.time(), summary_json, self.run_id))
                        except sqlite3.Error as exc:  # a full disk: one clear line, not a traceback
                            raise LedgerError(f"cannot write to the ledger {self.path}: {exc}") from None
                finally:
                    conn.close()
        finally:
            self._lock.release()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the ledger is closed")
        return self._conn

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from None

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._sqlite_errors():
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._sqlite_errors():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- admission: dedup and resume, one transaction per chunk (ledger/admission.py) ------------
    def admit(self, keys_and_lines: Sequence[tuple[Key, int, str | None]], retry_failed: bool,
              resend: bool = False, digest: bytes | None = None) -> Admission:
        """Classify a chunk. Each item is (key, line, invalid_reason or None); see `admission.admit`. With
        the chunk's `digest`, a clean chunk is recorded as settled now (nothing to send) or once its rows are."""
        conn = self.conn
        try:
            conn.execute("BEGIN")
            adm = admit(conn, keys_and_lines, retry_failed=retry_failed, resend=resend)
            if digest is not None and adm.clean and not adm.to_send:
                record_settled(conn, [(digest, len(keys_and_lines), adm.duplicates)])
            elif digest is not None and adm.clean and self._settling is not None:
                self._settling.track(digest, len(keys_and_lines), adm.duplicates,
                                     [keys_and_lines[i][0] for i in adm.to_send])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise LedgerError(f"ledger {self.path}: {exc}") from None
        return adm

    def mark_seen(self, keys: Sequence[Key]) -> None:
        """Mark keys as seen in this run (rows of chunks skipped as settled; `ledger/settled.py`)."""
        with self._sqlite_errors():
            mark_seen(self.conn, keys)

    def settled(self, digest: bytes) -> tuple[int, int] | None:
        """(rows, duplicates) of a chunk settled before, or None (`ledger/settled.py`)."""
        with self._sqlite_errors():
            return find_settled(self.conn, digest)

    # -- outcomes ----------------------------------------------------------------------------
    def fail_unsent(self, key: Key, category: str, message: str) -> None:
        """Record a row as failed without a request (e.g. its association type does not exist)."""
        self.record(key, False, Outcome(Kind.PERMANENT, None, category, message), 0)

    def record(self, key: Key, succeeded: bool, outcome: Outcome, attempts: int) -> None:
        """Buffer one settled row; committed with the next flush."""
        self._pending.append((
            "succeeded" if succeeded else "failed",
            outcome.status,
            None if succeeded else (bound(outcome.category, 200) or None),
            None if succeeded else (bound(outcome.message) or None),
            (outcome.correlation_id and bound(outcome.correlation_id, 200)) or None,
            attempts,
            time.time(),
            *key,
        ))
        if self._settling is not None:
            self._settling.settled(key, succeeded)
        if len(self._pending) >= self._flush_every:
            self.flush()

    def add_attempts(self, items: Iterable[tuple[Key, int]]) -> None:
        """Count attempts of rows left pending (e.g. after an abort) without settling them."""
        with self._sqlite_errors():
            self.conn.executemany(
                "UPDATE assoc SET attempts = attempts + ? WHERE from_type = ? AND from_id = ? "
                "AND to_type = ? AND to_id = ? AND type = ?",
                [(n, *k) for k, n in items],
            )

    @property
    def unflushed(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        self._flush(self.conn)

    def _flush(self, conn: sqlite3.Connection) -> None:
        settled = [] if self._settling is None else self._settling.take()
        if not self._pending and not settled:
            return
        batch, self._pending = self._pending, []
        try:  # a chunk's digest commits with (or after) the last of its rows' outcomes
            conn.execute("BEGIN")
            conn.executemany(_RECORD, batch)
            record_settled(conn, settled)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._pending = batch + self._pending
            if self._settling is not None:
                self._settling.done[:0] = settled
            raise LedgerError(f"cannot write to the ledger {self.path}: {exc}") from None


def scratch_copy(path: Path) -> Path:
    """A temporary copy of the ledger at `path` (or a fresh empty one), for a dry run."""
    fd, name = tempfile.mkstemp(prefix="bulkassoc-dry-", suffix=".sqlite")
    os.close(fd)
    scratch = Path(name)
    if path.exists():
        source = connect(path, readonly=True)
        target = sqlite3.connect(scratch)
        try:
            source.backup(target)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the ledger {path}: {exc}") from None
        finally:
            target.close()
            source.close()
    else:
        scratch.unlink()
    return scratch


def remove_ledger_files(path: Path) -> None:
    """Delete a ledger and its WAL, shared-memory and lock side files."""
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
