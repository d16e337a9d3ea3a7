"""Removing exactly one type between a pair: v4 `batch/labels/archive` (HUBSPOT_API_2.md §3), the only
delete undo and mirror send. `batch/archive` and the v4 single DELETE remove every type between a pair,
so they are never used: a type the pair had before must stay."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import orjson

__all__ = ["ARCHIVE_BATCH", "archive_labels"]

ARCHIVE_BATCH = 100  # inputs per call (HubSpot's cap is not documented; reads take 1,000)

Key = tuple[str, str, str, str, str]


def archive_labels(from_type: str, to_type: str, items: Sequence[tuple[Key, str]]) -> tuple[str, str, bytes]:
    """(method, path, body) removing exactly these (key, category) types, one input per row."""
    inputs = [{"from": {"id": k[1]}, "to": {"id": k[3]},
               "types": [{"associationCategory": category, "associationTypeId": int(k[4])}]} for k, category in items]
    path = f"/crm/v4/associations/{quote(from_type, safe='')}/{quote(to_type, safe='')}/batch/labels/archive"
    return "POST", path, orjson.dumps({"inputs": inputs})
