"""The result of a run: counts that partition the input, and how the run ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
    rate: str = ""  # the pace in force at the end (N/Ds)
    rate_source: str = ""  # where it came from: --rate, or HubSpot's X-HubSpot-RateLimit-* headers
    top_failures: list[dict[str, object]] = field(default_factory=list)  # {category, count, example}, this run

    @property
    def resumable(self) -> bool:
        """A rerun of the same command picks up where this one stopped (not so after a usage error,
        a wrong portal or type, or a rejected token: the cause must be fixed first)."""
        return self.aborted is not None and self.aborted not in EXIT_2_REASONS and self.aborted != "auth"
    unresolved: int = 0  # rows whose keyed fromId / toId matched no record (failed unsent, within `failed`)
    lookups: int = 0  # batch reads made to resolve keyed IDs
    check: bool = False  # `bulkassoc check`: reads only, nothing was written

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data

    def human(self) -> str:
        """A few lines for stderr."""
        took = format_duration(self.elapsed_s)
        head = ("dry run: nothing was sent" if self.dry_run else
                f"check: nothing was written ({self.checks + self.lookups:,} reads in {took})" if self.check else
                f"{self.requests:,} requests in {took}")
        settled = (f"would send {self.would_send:,}   would fail {self.failed:,}" if self.check else
                   f"succeeded {self.succeeded:,}   failed {self.failed:,}")
        lines = [
            f"bulkassoc: {self.rows:,} rows read; {head}",
            f"  {settled}   invalid {self.invalid:,}   duplicates {self.duplicates:,}   "
            f"already done {self.already_done:,}",
        ]
        extra = []
        if self.present or self.created or self.deleted:
            extra.append(f"created {self.created:,}   already present {self.present:,}   deleted {self.deleted:,}")
        if self.dry_run:
            extra.append(f"would send {self.would_send:,}")
        if self.would_delete:
            extra.append(f"would delete {self.would_delete:,} (mirror)")
        if self.unresolved or self.lookups:
            extra.append(f"lookups {self.lookups:,}   unresolved keys {self.unresolved:,}")
        if self.skipped_failed:
            extra.append(f"skipped (failed before) {self.skipped_failed:,}")
        if self.pending:
            extra.append(f"pending {self.pending:,}")
        if self.retries or self.throttled:
            extra.append(f"retries {self.retries:,}   throttled (429) {self.throttled:,}")
        if extra:
            lines.append("  " + "   ".join(extra))
        if self.rate:
            lines.append(f"  rate {self.rate} from {self.rate_source}")
        for f in self.top_failures:
            lines.append(f"  failed {f['category']}: {f['count']:,}  e.g. {f['example']}")
        if self.aborted:
            lines.append(f"  aborted ({self.aborted}): {self.message}")
            if self.resumable and self.aborted != "daily_limit":  # the daily message says when to rerun
                lines.append("  rerun the same command to resume; rows already recorded as done are skipped")
            elif self.aborted == "auth":
                lines.append("  fix the token or its scopes, then rerun the same command to resume")
        if (self.failed or self.invalid) and (self.check or self.dry_run):
            lines.append("  list them with --failed-out FILE")
        elif (self.failed or self.invalid) and self.ledger:
            lines.append(f"  all failures: bulkassoc report {self.ledger} --failed-out failed.csv")
        return "\n".join(lines)

    def one_line(self) -> str:
        """The summary in one line, for the event log."""
        took = format_duration(self.elapsed_s)
        line = (f"exit {self.exit_code}: {self.rows:,} rows; succeeded {self.succeeded:,}, failed {self.failed:,}, "
                f"invalid {self.invalid:,}, duplicates {self.duplicates:,}, already done {self.already_done:,}, "
                f"pending {self.pending:,}; {self.requests:,} requests, {self.retries:,} retries, "
                f"{self.throttled:,} throttled (429) in {took}")
        return line + (f"; rate {self.rate} from {self.rate_source}" if self.rate else "")


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
