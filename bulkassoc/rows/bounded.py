"""Bounded text: a value stored in the ledger or written to a report is cut to a sane length, with a
marker that says so (and, for a key field, a digest that keeps two long values apart)."""

from __future__ import annotations

import hashlib

__all__ = ["FIELD_MAX", "MESSAGE_MAX", "bound", "bound_field"]

MESSAGE_MAX = 1000  # characters of an error message or reason
FIELD_MAX = 256  # characters of one field of an input row (valid IDs and types are far shorter)


def bound(text: str, limit: int = MESSAGE_MAX) -> str:
    """`text`, or its first characters and `…[cut: N chars in all]` when longer than `limit`."""
    if len(text) <= limit:
        return text
    marker = f"…[cut: {len(text):,} chars in all]"
    return text[: max(0, limit - len(marker))] + marker


def bound_field(value: str, limit: int = FIELD_MAX) -> str:
    """A key field cut like `bound`, with a digest of the whole value in the marker, so two long values
    that share their beginning stay two entries."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    marker = f"…[cut: {len(value):,} chars in all, sha256 {digest}]"
    return value[: max(0, limit - len(marker))] + marker
