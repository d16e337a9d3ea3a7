"""The result of a run: counts that partition the input, and how the run ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..hubspot.halt import EXIT_2_REASONS, AbortReason

__all__ = ["EXIT_2_REASONS", "AbortReason", "RunSummary", "format_duration"]



@dataclass(frozen=True)
class RunSummary:
    """One run's outcome. rows = invalid + duplicates + already_done + skipped_failed
    + succeeded + failed + pending (+ would_send in a dry run)."""

    rows: int
    invalid: int
    duplicates: int
    already_done: int
    skipped_failed: int
    succeeded: int
    failed: int
    pending: int
    requests: int  # association write requests sent (preflight checks are counted in `checks`)
    retries: int
    throttled: int
    elapsed_s: float
    aborted: AbortReason | None
    exit_code: int
    checks: int = 0  # preflight requests (token check)
    would_send: int = 0  # dry run only: rows a real run would send
    dry_run: bool = False
    message: str = ""  # why the run aborted, in one line
    ledger: str = ""
    present: int = 0  # of succeeded: already in HubSpot (read before the write), nothing sent
    created: int = 0  # of succeeded: written after the read found them absent
    deleted: int = 0  # associations a mirror removed (undoable: `bulkassoc undo`)
    reads: int = 0  # batch reads of what exists (read before write, mirror)
    would_delete: int = 0  # mirror dry run (or a refused mirror): deletes planned

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data

    def human(self) -> str:
        """A few lines for stderr."""
        took = format_duration(self.elapsed_s)
        head = "dry run: nothing was sent" if self.dry_run else f"{self.requests:,} requests in {took}"
        lines = [
            f"bulkassoc: {self.rows:,} rows read; {head}",
            f"  succeeded {self.succeeded:,}   failed {self.failed:,}   invalid {self.invalid:,}   "
            f"duplicates {self.duplicates:,}   already done {self.already_done:,}",
        ]
        extra = []
        if self.present or self.created or self.deleted:
            extra.append(f"created {self.created:,}   already present {self.present:,}   deleted {self.deleted:,}")
        if self.dry_run:
            extra.append(f"would send {self.would_send:,}")
        if self.would_delete:
            extra.append(f"would delete {self.would_delete:,} (mirror)")
        if self.skipped_failed:
            extra.append(f"skipped (failed before) {self.skipped_failed:,}")
        if self.pending:
            extra.append(f"pending {self.pending:,}")
        if self.retries or self.throttled:
            extra.append(f"retries {self.retries:,}   throttled (429) {self.throttled:,}")
        if extra:
            lines.append("  " + "   ".join(extra))
        if self.aborted:
            lines.append(f"  aborted ({self.aborted}): {self.message}")
            lines.append("  rerun the same command to resume; rows already recorded as done are skipped")
        elif self.failed or self.invalid:
            lines.append(f"  see the failures: bulkassoc report {self.ledger} --failed-out failed.csv")
        return "\n".join(lines)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
