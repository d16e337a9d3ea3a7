"""The rows met so far in verify's input, so that a repeat counts as a duplicate wherever it falls
(as in `run`), not only within one batch-read chunk. The keys' digests live in a private temporary
SQLite database on disk, so memory stays flat whatever the file's size."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from ..rows.reader import Key

__all__ = ["SeenKeys"]

_BATCH = 500  # keys per statement (SQLite's bound-variable limit is far above)


class SeenKeys:
    def __init__(self) -> None:
        self._conn = sqlite3.connect("", isolation_level=None)  # "": a temporary database on disk
        self._conn.execute("CREATE TABLE seen (k BLOB PRIMARY KEY) WITHOUT ROWID")

    def first_time(self, keys: Sequence[Key]) -> list[bool]:
        """For each key, whether this is its first appearance (earlier calls and earlier in `keys` count)."""
        digests = [hashlib.blake2b("\x1f".join(k).encode("utf-8", "surrogatepass"), digest_size=16).digest()
                   for k in keys]
        known: set[bytes] = set()
        for i in range(0, len(digests), _BATCH):
            part = digests[i:i + _BATCH]
            marks = ",".join("?" * len(part))
            known.update(r[0] for r in self._conn.execute(f"SELECT k FROM seen WHERE k IN ({marks})", part))
        fresh = []
        for d in digests:
            fresh.append(d not in known)
            known.add(d)
        self._conn.executemany("INSERT OR IGNORE INTO seen VALUES (?)", [(d,) for d, f in zip(digests, fresh,
                                                                                               strict=True) if f])
        return fresh

    def close(self) -> None:
        self._conn.close()
