"""Running counts of one run's rows (its requests are counted by the paced caller)."""

from __future__ import annotations

from dataclasses import dataclass

from ..ledger.store import Admission

__all__ = ["RunTally"]


@dataclass(slots=True)
class RunTally:
    rows: int = 0
    invalid: int = 0
    duplicates: int = 0
    already_done: int = 0
    skipped_failed: int = 0
    admitted: int = 0  # rows the ledger said to send
    succeeded: int = 0
    failed: int = 0
    unsent_failures: int = 0  # failed without a request (unknown association type)
    splits: int = 0  # batches split in halves to isolate bad rows
    present: int = 0  # of succeeded: found already present by the read before the write (no write)
    created: int = 0  # of succeeded: written after the read found them absent
    unresolved: int = 0  # failed unsent: a keyed fromId / toId matched no record
    would_send: int = 0  # `check`: rows that passed every check and would be sent

    @property
    def accounted(self) -> int:
        """Rows whose fate is known: settled, skipped, or refused."""
        return self.succeeded + self.failed + self.already_done + self.invalid + self.duplicates + self.skipped_failed

    def add(self, adm: Admission, rows: int) -> None:
        self.rows += rows
        self.invalid += adm.invalid
        self.duplicates += adm.duplicates
        self.already_done += adm.already_done
        self.skipped_failed += adm.skipped_failed
        self.admitted += len(adm.to_send)

    def add_settled(self, rows: int, duplicates: int) -> None:
        """A chunk settled before: its rows are duplicates (as recorded) or already done."""
        self.rows += rows
        self.duplicates += duplicates
        self.already_done += rows - duplicates

    def add_present(self, rows: int) -> None:
        """Rows the read before the write found already there: succeeded, with no write."""
        self.succeeded += rows
        self.present += rows
