"""What `bulkassoc verify` reports: the running `VerifyTally`, the final `VerifySummary` and its exit code, and the
columns of the `--missing-out` CSV (see `_verify` for what the counts mean)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from ..engine.summary import format_duration
from ..hubspot.caller import CallCounts
from ..hubspot.halt import AbortReason

__all__ = ["MISSING_COLUMNS", "VerifySummary", "VerifyTally", "summarize"]

MISSING_COLUMNS = ["fromType", "fromId", "toType", "toId", "type", "line"]


@dataclass(frozen=True)
class VerifySummary:
    """The vocabulary of `run` (README "One vocabulary"): rows = data rows read = invalid + duplicates
    + checked + unchecked; checked = present + missing (distinct valid rows decided); `read` is `rows`
    under its older name."""

    rows: int
    present: int
    missing: int
    invalid: int
    duplicates: int
    unchecked: int
    read: int
    requests: int
    retries: int
    throttled: int
    elapsed_s: float
    aborted: AbortReason | None
    exit_code: int
    message: str = ""  # why it aborted, or why rows were left unchecked
    missing_out: str | None = None
    checked: int = 0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data

    def human(self) -> str:
        lines = [
            f"bulkassoc verify: {self.rows:,} rows read, {self.checked:,} distinct rows checked; "
            f"{self.requests:,} batch reads in "
            f"{format_duration(self.elapsed_s)}",
            f"  present {self.present:,}   missing {self.missing:,}   invalid {self.invalid:,}   "
            f"duplicates {self.duplicates:,}" + (f"   unchecked {self.unchecked:,}" if self.unchecked else ""),
        ]
        if self.retries or self.throttled:
            lines.append(f"  retries {self.retries:,}   throttled (429) {self.throttled:,}")
        if self.aborted:
            lines.append(f"  aborted ({self.aborted}): {self.message}")
        elif self.unchecked:
            lines.append(f"  {self.message}; run verify again to check the unchecked rows")
        if self.missing and self.missing_out:
            lines.append(f"  missing rows written to {self.missing_out}; send them again with: "
                         f"bulkassoc run {self.missing_out} --resend (and your run's connection options)")
        elif self.missing:
            lines.append("  pass --missing-out PATH to get the missing rows as a CSV that `bulkassoc run` accepts")
        return "\n".join(lines)


@dataclass(slots=True)
class VerifyTally:
    read: int = 0
    invalid: int = 0
    duplicates: int = 0
    distinct: int = 0  # distinct valid rows put into chunks
    first_invalid: str = ""  # "line N: reason" of the first invalid row
    present: int = 0
    missing: int = 0


def summarize(t: VerifyTally, reads: CallCounts, elapsed: float, aborted: AbortReason | None, message: str,
              problem: str, missing_out: str | os.PathLike[str] | None) -> VerifySummary:
    """The summary of a verify that counted `t`; `message`: why it aborted; `problem`: the first reason
    rows were left unchecked."""
    unchecked = t.distinct - t.present - t.missing  # given up on, or still undecided at an abort
    if aborted is not None:
        code = 2 if aborted == "input" else 3
    elif t.missing or unchecked:
        code = 1
    else:
        code = 0
    return VerifySummary(
        rows=t.read, checked=t.present + t.missing, present=t.present, missing=t.missing, invalid=t.invalid,
        duplicates=t.duplicates, unchecked=unchecked, read=t.read, requests=reads.requests, retries=reads.retries,
        throttled=reads.throttled, elapsed_s=elapsed, aborted=aborted, exit_code=code,
        message=message or (f"{unchecked:,} rows could not be checked: {problem}" if unchecked else ""),
        missing_out=None if missing_out is None else os.fspath(missing_out),
    )
