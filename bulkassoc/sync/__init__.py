"""Knowing what exists before writing: the read before a write (`before`), `undo` and `--mirror`.

A floor between `engine` and `ledger`: it may use ledger, hubspot, pacing and rows; engine and cli use it.
"""
