"""What HubSpot holds for some fromIds of one (fromType, toType): v4 batch reads through the paced caller,
up to 1,000 fromIds per call, each fromId paged on its own (`after` per input; docs/hubspot-api.md §6)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ..hubspot.assoc_read import MAX_READ_IDS, page_entries, read_body, read_page
from ..hubspot.caller import Caller

__all__ = ["Existing", "TypeSpec", "norm", "read_existing"]

TypeSpec = tuple[str, int]  # (category, typeId)
Existing = dict[str, dict[str, set[TypeSpec]]]
"""normalised fromId → normalised toId → the pair's types (a fromId with none is absent)."""


def norm(record_id: str) -> str:
    """Record IDs compare as numbers: `007` is `7`."""
    return record_id.lstrip("0") or "0"


async def read_existing(caller: Caller, from_type: str, to_type: str, from_ids: Iterable[str], *,
                        max_ids: int = MAX_READ_IDS) -> Existing:
    """Every association of these fromIds to `to_type`, all pages. Raises ReadFailed (a read failed for
    good) or Halted (the command stops)."""
    ids = list(dict.fromkeys(norm(i) for i in from_ids))
    found: Existing = {}
    # the slices are read side by side (each its own pages); the caller paces them like any request
    done = await asyncio.gather(*(_read_slice(caller, from_type, to_type, ids[start:start + max_ids], found)
                                  for start in range(0, len(ids), max_ids)), return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    return found


async def _read_slice(caller: Caller, from_type: str, to_type: str, ids: list[str], found: Existing) -> None:
    cursors: dict[str, str | None] = dict.fromkeys(ids)
    while cursors:
        answer = await read_page(caller, read_body(cursors), from_type, to_type)
        following: dict[str, str | None] = {}
        for from_id, targets, after in page_entries(answer):
            if from_id not in cursors:
                continue
            pairs = found.setdefault(from_id, {})
            for to_id, specs in targets:
                pairs.setdefault(to_id, set()).update(specs)
            if after is not None and after != cursors[from_id]:
                following[from_id] = after
        cursors = following
