"""The read side of the ledger: totals, and the failed rows as a CSV that `run` accepts."""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..rows.bounded import FIELD_MAX, bound
from .failures import not_retired
from .lookups import read_lookups
from .store import LedgerError, connect, is_line_key

__all__ = ["FAILED_COLUMNS", "LOOKUP_COLUMNS", "LedgerReport", "read_report", "write_failed_csv", "write_lookups_csv"]

LOOKUP_COLUMNS = ["objectType", "property", "value", "recordId", "resolvedAt"]

FAILED_COLUMNS = ["fromType", "fromId", "toType", "toId", "type", "line", "status", "category", "error"]


@dataclass(frozen=True)
class LedgerReport:
    total: int
    succeeded: int
    failed: int
    pending: int
    invalid: int
    by_status: dict[str, int] = field(default_factory=dict)  # failed rows per HTTP status ("none": no answer)
    by_category: dict[str, int] = field(default_factory=dict)
    path: str = ""
    undone: int = 0  # rows `bulkassoc undo` removed again
    deleted: int = 0  # rows a --mirror run deleted
    retired: int = 0  # failed or invalid entries whose row was fixed or dropped from the input (not counted above)
    lookups: dict[str, int] = field(default_factory=dict)  # cached resolutions per "objectType.property"

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed,
                "pending": self.pending, "invalid": self.invalid, "by_status": dict(self.by_status),
                "by_category": dict(self.by_category), "undone": self.undone, "deleted": self.deleted,
                "retired": self.retired, "lookups": dict(self.lookups)}

    def human(self) -> str:
        lines = [
            f"ledger {self.path}: {self.total:,} distinct associations",
            f"  succeeded {self.succeeded:,}   failed {self.failed:,}   invalid {self.invalid:,}   "
            f"pending {self.pending:,}",
        ]
        if self.undone or self.deleted:
            lines.append(f"  undone {self.undone:,}   deleted by a mirror {self.deleted:,}")
        if self.by_status:
            lines.append("  failed by HTTP status: " + ", ".join(f"{k}: {v:,}" for k, v in self.by_status.items()))
        if self.by_category:
            lines.append("  failed by category: " + ", ".join(f"{k}: {v:,}" for k, v in self.by_category.items()))
        if self.retired:
            lines.append(f"  no longer reported: {self.retired:,} failed or invalid rows fixed or dropped from "
                         "the input since (kept in the ledger's history)")
        if self.lookups:
            lines.append("  record IDs resolved from values (cached): "
                         + ", ".join(f"{k}: {v:,}" for k, v in self.lookups.items())
                         + "; the value given and the record ID used: --lookups-out FILE")
        return "\n".join(lines)


def _open(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise LedgerError(f"no ledger at {p}: give the file `bulkassoc run` wrote (default INPUT.ledger.sqlite)")
    return p


def _connect(p: Path) -> sqlite3.Connection:
    """Open for reading; a file that is not a ledger (an input given by mistake, say) is named as such."""
    try:
        conn = connect(p, readonly=True)
    except LedgerError:
        raise LedgerError(f"{p} is not a bulkassoc ledger: give the ledger file `bulkassoc run` wrote "
                          "(by default INPUT.ledger.sqlite)") from None
    try:  # as `run` does: a damaged ledger is said to be one, whichever of its tables the damage hit
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        check = str(exc)
    if check != "ok":
        conn.close()
        raise LedgerError(f"the ledger {p} is damaged ({check}); move it aside (rows it recorded as done will be "
                          "sent again by a run with a new ledger)")
    return conn


def read_report(path: str | os.PathLike[str]) -> LedgerReport:
    p = _open(path)
    conn = _connect(p)
    try:
        keep = not_retired(conn)
        counts = dict(conn.execute(f"SELECT status, count(*) FROM assoc WHERE {keep} GROUP BY status").fetchall())
        retired = 0 if keep == "1" else conn.execute("SELECT count(*) FROM retired").fetchone()[0]
        by_status = {
            ("none" if status is None else str(status)): n
            for status, n in conn.execute(
                f"SELECT http_status, count(*) FROM assoc WHERE status = 'failed' AND {keep} "
                "GROUP BY http_status ORDER BY count(*) DESC, http_status").fetchall()
        }
        by_category = {
            (cat or "none"): n
            for cat, n in conn.execute(
                f"SELECT category, count(*) FROM assoc WHERE status IN ('failed', 'invalid') AND {keep} "
                "GROUP BY category ORDER BY count(*) DESC, category").fetchall()
        }
        lookups: dict[str, int] = {}
        for object_type, prop, _ in read_lookups(conn):
            lookups[f"{object_type}.{prop}"] = lookups.get(f"{object_type}.{prop}", 0) + 1
    except Exception as exc:  # sqlite3.Error: missing table, corruption
        raise LedgerError(f"cannot read the ledger {p}: {exc}") from None
    finally:
        conn.close()
    return LedgerReport(
        total=sum(counts.values()), succeeded=counts.get("succeeded", 0), failed=counts.get("failed", 0),
        pending=counts.get("pending", 0), invalid=counts.get("invalid", 0),
        by_status=by_status, by_category=by_category, path=str(p), undone=counts.get("undone", 0),
        deleted=counts.get("deleted", 0), retired=retired, lookups=lookups,
    )


@contextlib.contextmanager
def _csv_errors(ledger: Path, out: str | os.PathLike[str], conn: sqlite3.Connection) -> Iterator[None]:
    """A CSV written from the ledger: its errors as one line each (LedgerError); the connection closed."""
    try:
        yield
    except OSError as exc:
        raise LedgerError(f"cannot write {out}: {exc.strerror}") from None
    except Exception as exc:  # sqlite3.Error
        raise LedgerError(f"cannot read the ledger {ledger}: {exc}") from None
    finally:
        conn.close()


def write_failed_csv(path: str | os.PathLike[str], out: str | os.PathLike[str], *, since: float | None = None) -> int:
    """Write every failed and invalid row (settled at or after `since`, when given), in input-line order;
    returns how many. A keyed fromId / toId is written as given (`email=a@x.com`), which `run` reads back."""
    p = _open(path)
    conn = _connect(p)
    written = 0
    with _csv_errors(p, out, conn):
        cursor = conn.execute(
            "SELECT from_type, from_id, to_type, to_id, type, line, http_status, category, message "
            f"FROM assoc WHERE status IN ('failed', 'invalid') AND {not_retired(conn)} "
            "AND (? IS NULL OR updated_at >= ?) ORDER BY line, from_type, from_id", (since, since))
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(FAILED_COLUMNS)
            for row in cursor:
                values = ["" if v is None else v for v in row]
                values[:5] = [bound(str(v), FIELD_MAX) for v in values[:5]]  # ledgers from before the bound
                values[7:] = [bound(str(v)) for v in values[7:]]
                if is_line_key(values):
                    values[4] = ""  # the key of a line without fields is not a type
                writer.writerow(values)
                written += 1
    return written


def write_lookups_csv(path: str | os.PathLike[str], out: str | os.PathLike[str]) -> int:
    """Write every cached resolution (the value given and the record ID used); returns how many."""
    import datetime as dt

    p = _open(path)
    conn = connect(p, readonly=True)
    with _csv_errors(p, out, conn):
        lookups = read_lookups(conn)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(LOOKUP_COLUMNS)
            for (object_type, prop, value), (record_id, at) in sorted(lookups.items()):
                when = dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")
                writer.writerow([object_type, prop, value, record_id, when])
    return len(lookups)

