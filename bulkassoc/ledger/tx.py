"""One transaction on the ledger: committed when the block ends, rolled back when anything leaves it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

__all__ = ["transaction"]


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """`with transaction(conn):` — `begin` may be "BEGIN IMMEDIATE" (take the write lock at once). A
    rollback that fails too (the disk is gone) leaves the first error to be raised."""
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
