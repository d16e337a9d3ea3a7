"""What failed, in a few lines, and what no longer counts as failed.

`top_failures`: the categories of the rows a run failed or found invalid, with counts and one
example each, for the run's summary.

Retired entries: the ledger keys a row by its content, so a row that was fixed in the input (its
line now holds a different row) or dropped from it would stay "failed" forever under its old content.
Each failed or invalid entry remembers the input file it was last met in (table `failed_input`). When a
run reads its whole input (it was not aborted), the failed and invalid entries last met in that same
file that it did not meet are retired: kept in the ledger (history), left out of `report` and
`--failed-out`. An entry met again later is reinstated. So one ledger shared by several files retires
per file; stdin (`-`) retires nothing. Entries from before this table existed count as met in the
ledger's input when every run of the ledger read the same file.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from ..rows.bounded import bound
from .store import Ledger

__all__ = ["Failure", "after_run", "not_retired", "retire_unseen", "top_failures"]

_KEY = ("from_type", "from_id", "to_type", "to_id", "type")
_RETIRED = """
CREATE TABLE IF NOT EXISTS retired (
    from_type TEXT NOT NULL, from_id TEXT NOT NULL, to_type TEXT NOT NULL, to_id TEXT NOT NULL, type TEXT NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type)
) WITHOUT ROWID"""
_FAILED_INPUT = """
CREATE TABLE IF NOT EXISTS failed_input (
    from_type TEXT NOT NULL, from_id TEXT NOT NULL, to_type TEXT NOT NULL, to_id TEXT NOT NULL, type TEXT NOT NULL,
    input TEXT NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type)
) WITHOUT ROWID"""


def _same_key(a: str, b: str) -> str:
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in _KEY)


@dataclass(frozen=True, slots=True)
class Failure:
    category: str
    count: int
    example: str  # "line N: message"

    def to_dict(self) -> dict[str, object]:
        return {"category": self.category, "count": self.count, "example": self.example}


def top_failures(conn: sqlite3.Connection, since: float, limit: int = 5) -> list[Failure]:
    """The most frequent categories among the entries failed or found invalid since `since`
    (wall-clock: this run's start), with one example each (the first by input line)."""
    rows = conn.execute(
        """SELECT coalesce(category, CAST(http_status AS TEXT), 'no answer') AS cat, count(*)
           FROM assoc WHERE status IN ('failed', 'invalid') AND updated_at >= ?
           GROUP BY cat ORDER BY count(*) DESC, cat LIMIT ?""", (since, limit)).fetchall()
    out = []
    for cat, count in rows:
        example = conn.execute(
            """SELECT line, http_status, message FROM assoc
               WHERE status IN ('failed', 'invalid') AND updated_at >= ?
                 AND coalesce(category, CAST(http_status AS TEXT), 'no answer') = ?
               ORDER BY line LIMIT 1""", (since, cat)).fetchone()
        where = f"line {example[0]}" if example and example[0] is not None else "a row"
        status = f"{example[1]} " if example and example[1] is not None else ""
        text = (example[2] or "") if example else ""
        out.append(Failure(str(cat), int(count), bound(f"{where}: {status}{text}".rstrip(": "), 200)))
    return out


def retire_unseen(conn: sqlite3.Connection, run_id: int, input_name: str, *, complete: bool) -> int:
    """At the end of a run (its keys are in temp.seen): note the input its failed and invalid entries were
    met in, reinstate those it met; after a complete run, retire the ones last met in this input that it
    did not meet. Returns how many are retired now."""
    if input_name == "-":
        return 0
    here = os.path.abspath(input_name)
    only_input = {r[0] for r in conn.execute("SELECT DISTINCT input FROM runs")} == {input_name}
    key = ", ".join("a." + c for c in _KEY)
    conn.execute(_RETIRED)
    conn.execute(_FAILED_INPUT)
    conn.execute("BEGIN")
    try:
        conn.execute(f"""INSERT OR REPLACE INTO failed_input SELECT {key}, ? FROM assoc a
                         JOIN temp.seen s ON {_same_key('s', 'a')} WHERE a.status IN ('failed', 'invalid')""",
                     (here,))
        conn.execute(f"DELETE FROM retired WHERE EXISTS (SELECT 1 FROM temp.seen s WHERE {_same_key('s', 'retired')})")
        if complete:
            conn.execute(
                f"""INSERT OR IGNORE INTO retired SELECT {key}, ? FROM assoc a LEFT JOIN failed_input f
                    ON {_same_key('f', 'a')}
                    WHERE a.status IN ('failed', 'invalid') AND (f.input = ? OR (f.input IS NULL AND ?))
                      AND NOT EXISTS (SELECT 1 FROM temp.seen s WHERE {_same_key('s', 'a')})""",
                (run_id, here, only_input))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(conn.execute("SELECT count(*) FROM retired").fetchone()[0])


def not_retired(conn: sqlite3.Connection, alias: str = "assoc") -> str:
    """An SQL condition (to AND into a WHERE) that leaves retired entries out; "1" when none exist."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retired'").fetchone()
    if not exists:
        return "1"
    return f"NOT EXISTS (SELECT 1 FROM retired r WHERE {_same_key('r', alias)})"


def after_run(ledger: Ledger, input_name: str, *, complete: bool, any_failed: bool = True) -> list[Failure]:
    """At the end of a run, before the ledger closes: its top failures (none looked for when the run
    failed no row: `any_failed` off), and (when it read its whole input) the retiring of entries it did
    not meet. Best effort: a ledger error here loses neither."""
    ledger.flush()
    conn = ledger.conn
    try:
        row = conn.execute("SELECT started_at FROM runs WHERE id = ?", (ledger.run_id,)).fetchone()
        top = top_failures(conn, float(row[0])) if row and any_failed else []
        retire_unseen(conn, ledger.run_id, input_name, complete=complete)
    except sqlite3.Error:
        return []
    return top
