"""Deciding a chunk's rows from HubSpot's batch-read answers: what one page proves present, which fromIds
need another page, and which rows are missing at the end (the rules are in `_verify`'s docstring)."""

from __future__ import annotations

from typing import Any

from ..hubspot.assoc_read import page_entries
from ..rows.reader import Row

__all__ = ["Wanted", "norm_id", "settle", "take_page", "wanted_of"]

Wanted = dict[str, dict[str, set[str]]]
"""fromId → toId → the row types not yet seen at HubSpot (all normalised); what is left is missing."""


def norm_id(digits: str) -> str:
    """Record IDs compare as numbers: `007` is `7`."""
    return digits.lstrip("0") or "0"


def _norm_type(assoc_type: str) -> str:
    return norm_id(assoc_type) if assoc_type.isdigit() else assoc_type


def wanted_of(rows: list[Row]) -> Wanted:
    """What `rows` ask HubSpot to show, before any answer."""
    wanted: Wanted = {}
    for row in rows:
        wanted.setdefault(norm_id(row.from_id), {}).setdefault(norm_id(row.to_id), set()).add(
            _norm_type(row.type))
    return wanted


def take_page(answer: dict[str, Any], cursors: dict[str, str | None], wanted: Wanted) -> dict[str, str | None]:
    """Strike from `wanted` what one answer proves; return the cursors of the ids worth another page."""
    following: dict[str, str | None] = {}
    for from_id, targets, after in page_entries(answer):
        open_pairs = wanted.get(from_id)
        if open_pairs is None or from_id not in cursors:
            continue
        for to_id, specs in targets:
            types = open_pairs.get(to_id)
            if not types:
                continue
            type_ids = {str(type_id) for _, type_id in specs}
            types -= {t for t in types if t in type_ids or not t.isdigit()}  # a name: any type will do
            if not types:
                del open_pairs[to_id]
        if open_pairs and after is not None and after != cursors[from_id]:
            following[from_id] = after
    return following


def settle(rows: list[Row], cursors: dict[str, str | None], wanted: Wanted) -> tuple[list[Row], int]:
    """After the last page: the missing rows, and how many rows stay unchecked (those of the fromIds
    still in `cursors`, whose reading failed for good). The others are present."""
    missing = [row for row in rows if norm_id(row.from_id) not in cursors
               and _norm_type(row.type) in wanted[norm_id(row.from_id)].get(norm_id(row.to_id), ())]
    unchecked = sum(1 for row in rows if norm_id(row.from_id) in cursors)
    return missing, unchecked
