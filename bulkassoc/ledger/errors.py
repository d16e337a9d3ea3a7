"""What makes a ledger unusable: one line for the user (exit 2)."""

from __future__ import annotations

__all__ = ["LedgerBusyError", "LedgerError"]


class LedgerError(Exception):
    """The ledger cannot be used (corrupt, not a ledger, unwritable). One line, exit 2."""


class LedgerBusyError(LedgerError):
    """Another live run holds this ledger."""
