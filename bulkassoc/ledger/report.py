"""The read side of the ledger: totals, and the failed rows as a CSV that `run` accepts."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from .store import LedgerError, connect, is_line_key

__all__ = ["FAILED_COLUMNS", "LedgerReport", "read_report", "write_failed_csv"]

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

    def to_dict(self) -> dict[str, object]:
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed,
                "pending": self.pending, "invalid": self.invalid, "by_status": dict(self.by_status),
                "by_category": dict(self.by_category), "undone": self.undone, "deleted": self.deleted}

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
        return "\n".join(lines)


def _open(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_file():
        raise LedgerError(f"no ledger at {p}: pass the file `bulkassoc run` wrote (default INPUT.ledger.sqlite)")
    return p


def read_report(path: str | os.PathLike[str]) -> LedgerReport:
    p = _open(path)
    conn = connect(p, readonly=True)
    try:
        counts = dict(conn.execute("SELECT status, count(*) FROM assoc GROUP BY status").fetchall())
        by_status = {
            ("none" if status is None else str(status)): n
            for status, n in conn.execute(
                "SELECT http_status, count(*) FROM assoc WHERE status = 'failed' "
                "GROUP BY http_status ORDER BY count(*) DESC, http_status").fetchall()
        }
        by_category = {
            (cat or "none"): n
            for cat, n in conn.execute(
                "SELECT category, count(*) FROM assoc WHERE status IN ('failed', 'invalid') "
                "GROUP BY category ORDER BY count(*) DESC, category").fetchall()
        }
    except Exception as exc:  # sqlite3.Error: missing table, corruption
        raise LedgerError(f"cannot read the ledger {p}: {exc}") from None
    finally:
        conn.close()
    return LedgerReport(
        total=sum(counts.values()), succeeded=counts.get("succeeded", 0), failed=counts.get("failed", 0),
        pending=counts.get("pending", 0), invalid=counts.get("invalid", 0),
        by_status=by_status, by_category=by_category, path=str(p), undone=counts.get("undone", 0),
        deleted=counts.get("deleted", 0),
    )


def write_failed_csv(path: str | os.PathLike[str], out: str | os.PathLike[str]) -> int:
    """Write every failed and invalid row, in input-line order; returns how many."""
    p = _open(path)
    conn = connect(p, readonly=True)
    written = 0
    try:
        cursor = conn.execute(
            "SELECT from_type, from_id, to_type, to_id, type, line, http_status, category, message "
            "FROM assoc WHERE status IN ('failed', 'invalid') ORDER BY line, from_type, from_id")
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(FAILED_COLUMNS)
            for row in cursor:
                values = ["" if v is None else v for v in row]
                if is_line_key(values):
                    values[4] = ""  # the key of a line without fields is not a type
                writer.writerow(values)
                written += 1
    except OSError as exc:
        raise LedgerError(f"cannot write {out}: {exc.strerror}") from None
    except Exception as exc:  # sqlite3.Error
        raise LedgerError(f"cannot read the ledger {p}: {exc}") from None
    finally:
        conn.close()
    return written
