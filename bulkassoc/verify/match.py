"""Deciding a chunk's rows from HubSpot's batch-read answers: what one page proves present, which fromIds
need another page, and which rows are missing at the end (the rules are in `_verify`'s docstring)."""

from __future__ import annotations

from typing import Any

from ..rows.reader import Row

__all__ = ["Wanted", "norm_id", "settle", "take_page", "wanted_of"]

Wanted = dict[str, dict[str, set[str]]]
"""fromId → toId → the row types not yet seen at HubSpot (all normalised); what is left is missing."""


def norm_id(digits: str) -> str:
    """Record IDs compare as numbers: `007` is `7`."""
    return digits.lstrip("0") or "0"


def _norm_type(assoc_type: str) -> str:
    return norm_id(assoc_type) if assoc_type.isdigit() else assoc_type


def _answer_id(value: object) -> str | None:
    """An ID as HubSpot sends it (a string in the current spec, a number in the guide's examples)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return norm_id(value.strip())
    return None


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
    results = answer.get("results")
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict) or not isinstance(result.get("from"), dict):
            continue
        from_id = _answer_id(result["from"].get("id"))
        open_pairs = wanted.get(from_id or "")
        if from_id is None or open_pairs is None or from_id not in cursors:
            continue
        to_list = result.get("to")
        for target in to_list if isinstance(to_list, list) else ():
            if not isinstance(target, dict):
                continue
            to_id = _answer_id(target.get("toObjectId"))
            types = open_pairs.get(to_id or "")
            if to_id is None or not types:
                continue
            specs = target.get("associationTypes")
            type_ids = {str(s["typeId"]) for s in specs if isinstance(s, dict) and isinstance(s.get("typeId"), int)
                        } if isinstance(specs, list) else set()
            types -= {t for t in types if t in type_ids or not t.isdigit()}  # a name: any type will do
            if not types:
                del open_pairs[to_id]
        paging = result.get("paging")
        after = paging.get("next", {}).get("after") if isinstance(paging, dict) and isinstance(
            paging.get("next"), dict) else None
        if open_pairs and isinstance(after, str) and after and after != cursors[from_id]:
            following[from_id] = after
    return following


def settle(rows: list[Row], cursors: dict[str, str | None], wanted: Wanted) -> tuple[list[Row], int]:
    """After the last page: the missing rows, and how many rows stay unchecked (those of the fromIds
    still in `cursors`, whose reading failed for good). The others are present."""
    missing = [row for row in rows if norm_id(row.from_id) not in cursors
               and _norm_type(row.type) in wanted[norm_id(row.from_id)].get(norm_id(row.to_id), ())]
    unchecked = sum(1 for row in rows if norm_id(row.from_id) in cursors)
    return missing, unchecked
