"""What failed, in a few lines, and what no longer counts as failed.

`top_failures`: the categories of the rows a run failed or found invalid, with counts and one
example each, for the run's summary.

Retired entries: the ledger keys a row by its content, so a row that was fixed in the input (its
line now holds a different row) or dropped from it would stay "failed" forever under its old content.
When a run reads its whole input (it was not aborted), every failed or invalid entry it did not meet
is retired: kept in the ledger (history), left out of `report` and `--failed-out`. An entry met
again later is reinstated. Retiring needs every run of the ledger to have read the same input file
(a ledger shared by several files, or fed from stdin, retires nothing).
"""

from __future__ import annotations

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


def retire_unseen(conn: sqlite3.Connection, run_id: int, input_name: str) -> int:
    """After a run that read its whole input (the run's keys are in temp.seen): retire the failed and
    invalid entries it did not meet, reinstate those it met. Returns how many are retired now."""
    if input_name == "-":
        return 0
    inputs = {r[0] for r in conn.execute("SELECT DISTINCT input FROM runs")}
    if inputs != {input_name}:
        return 0
    conn.execute(_RETIRED)
    conn.execute("BEGIN")
    try:
        conn.execute(f"DELETE FROM retired WHERE EXISTS (SELECT 1 FROM temp.seen s WHERE {_same_key('s', 'retired')})")
        conn.execute(
            f"""INSERT OR IGNORE INTO retired SELECT {', '.join('a.' + c for c in _KEY)}, ? FROM assoc a
                WHERE a.status IN ('failed', 'invalid')
                  AND NOT EXISTS (SELECT 1 FROM temp.seen s WHERE {_same_key('s', 'a')})""", (run_id,))
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


def after_run(ledger: Ledger, input_name: str, *, complete: bool) -> list[Failure]:
    """At the end of a run, before the ledger closes: its top failures, and (when it read its whole
    input) the retiring of entries it did not meet. Best effort: a ledger error here loses neither."""
    ledger.flush()
    conn = ledger.conn
    try:
        row = conn.execute("SELECT started_at FROM runs WHERE id = ?", (ledger.run_id,)).fetchone()
        top = top_failures(conn, float(row[0])) if row else []
        if complete:
            retire_unseen(conn, ledger.run_id, input_name)
    except sqlite3.Error:
        return []
    return top
