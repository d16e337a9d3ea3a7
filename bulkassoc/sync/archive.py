"""Removing exactly one type between a pair: v4 `batch/labels/archive` (docs/hubspot-api.md §9), the only
delete undo and mirror send. `batch/archive` and the v4 single DELETE remove every type between a pair,
so they are never used: a type the pair had before must stay. HubSpot's trap, "deleting an unlabeled
association will also delete all labeled associations between those two objects", is answered by
`archive_keeping`: pairs that had other types are read again and what went missing is put back."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import orjson

from ..hubspot.assoc_read import ReadFailed
from ..hubspot.caller import Caller, pass_through
from ..hubspot.endpoints import batch_request
from ..hubspot.outcomes import Kind, Outcome, required_scope
from ..rows.reader import Row
from .existing import TypeSpec, norm, read_existing

__all__ = ["ARCHIVE_BATCH", "archive_keeping", "archive_labels", "others_of"]

ARCHIVE_BATCH = 100  # inputs per call (HubSpot's cap is not documented; reads take 1,000)

Key = tuple[str, str, str, str, str]


def others_of(before: str | None) -> frozenset[TypeSpec]:
    """The pair's other types as the ledger keeps them (`before_types` JSON), for `archive_keeping`."""
    if not before:
        return frozenset()
    try:
        data = orjson.loads(before)
    except orjson.JSONDecodeError:
        return frozenset()
    return frozenset((str(c), int(t)) for c, t in data if isinstance(t, int)) if isinstance(data, list) else frozenset()


def archive_labels(from_type: str, to_type: str, items: Sequence[tuple[Key, str]]) -> tuple[str, str, bytes]:
    """(method, path, body) removing exactly these (key, category) types, one input per row."""
    inputs = [{"from": {"id": k[1]}, "to": {"id": k[3]},
               "types": [{"associationCategory": category, "associationTypeId": int(k[4])}]} for k, category in items]
    path = f"/crm/v4/associations/{quote(from_type, safe='')}/{quote(to_type, safe='')}/batch/labels/archive"
    return "POST", path, orjson.dumps({"inputs": inputs})


async def archive_keeping(caller: Caller, from_type: str, to_type: str,
                          items: Sequence[tuple[Key, str, frozenset[TypeSpec]]]) -> tuple[Outcome, str]:
    """Remove these (key, category) types with one labels archive, then make sure each pair still holds its
    other types (`others`, as read before): HubSpot documents that deleting the *unlabeled* type also deletes
    every label of the pair, so the pairs that had others are read again and what went missing is created
    again (with the union of what is there, as every write). Returns the archive's outcome and, when the
    put-back failed, why (the labels named then need a look: the message says which call)."""
    answer = await caller.call(*archive_labels(from_type, to_type, [(k, c) for k, c, _ in items]),
                               judge=pass_through, purpose="delete", scope=required_scope(from_type))
    keep = [(k, others) for k, _, others in items if others]
    if answer.outcome.kind is not Kind.SUCCESS or not keep:
        return answer.outcome, ""
    try:
        existing = await read_existing(caller, from_type, to_type, (k[1] for k, _ in keep))
    except ReadFailed as exc:
        return answer.outcome, f"could not check that the pairs kept their other labels: {exc}"
    unions: dict[tuple[str, str], set[TypeSpec]] = {}
    rows: list[Row] = []
    for k, others in keep:
        pair = (norm(k[1]), norm(k[3]))
        now = existing.get(pair[0], {}).get(pair[1], set())
        if others <= now or pair in unions:
            continue
        unions[pair] = set(now) | set(others)
        rows.append(Row(k[0], k[1], k[2], k[3], k[4], 0))
    if not rows:
        return answer.outcome, ""

    def union(row: Row) -> list[TypeSpec]:
        return sorted(unions[(norm(row.from_id), norm(row.to_id))])

    put_back = await caller.call(*batch_request(from_type, to_type, rows, api="v4", union=union),
                                 judge=pass_through, scope=required_scope(from_type))
    if put_back.outcome.kind is not Kind.SUCCESS or put_back.outcome.status == 207:
        return answer.outcome, (f"HubSpot removed other labels with an unlabeled type on {len(rows)} pairs, and "
                                f"putting them back failed ({put_back.outcome.status or put_back.outcome.category} "
                                f"{put_back.outcome.message}); first pair {rows[0].from_id} → {rows[0].to_id}")
    return answer.outcome, ""
