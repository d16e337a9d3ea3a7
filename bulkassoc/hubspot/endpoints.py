"""Request builders for the association endpoints: (method, path, body) from rows, no I/O.

Endpoint families (docs/hubspot-api.md §5-§6; HubSpot-public-api-spec-collection, CRM/Associations
Rollouts/130902 `v4`, `2026-03` and `2026-09`):

- `v3`: single `PUT /crm/v3/objects/{from}/{fromId}/associations/{to}/{toId}/{type}`, no body;
  batch: as v4 (batch mode is v4 batch create, README "Batch mode"; v3's batch takes type names).
- `v4`: single `PUT /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}` with `AssociationSpec[]`;
  batch `POST /crm/v4/associations/{from}/{to}/batch/create`.
- `YYYY-MM`: single `PUT /crm/objects/{ver}/{from}/{fromId}/associations/{to}/{toId}` with
  `AssociationSpec[]`; batch `POST /crm/associations/{ver}/{from}/{to}/batch/create`.

`AssociationSpec` is `{"associationCategory": …, "associationTypeId": <int32>}`; the batch body is
`{"inputs":[{"from":{"id":"…"},"to":{"id":"…"},"types":[AssociationSpec]}]}`, one input per row, in row
order. v3 takes a type name or an ID in the path; every other form needs a numeric type ID, and a name
is a ValueError naming the row's line (resolve names before building, e.g. with the labels API).

Date versions: any `YYYY-MM` from 2026-03 on. HubSpot's migration guide names 2026-03 and 2026-09 as
the targets (docs/hubspot-api.md §5); the spec's 2025-09 has the same paths, but we do not offer it.

Paths are relative to the base URL; every path segment is percent-quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import quote

import orjson

from ..rows.reader import ResolvedRow, Row

__all__ = [
    "CATEGORIES",
    "FIRST_DATE_VERSION",
    "MAX_BATCH",
    "Api",
    "Union",
    "batch_request",
    "check_api",
    "check_category",
    "single_request",
    "type_id",
]

Api = Literal["v3", "v4", "2026-09"]
"""The endpoint families the CLI offers by name; any `YYYY-MM` ≥ FIRST_DATE_VERSION is accepted too."""

MAX_BATCH = 2000
"""HubSpot's documented cap on inputs per batch create (docs/hubspot-api.md §6)."""

FIRST_DATE_VERSION = "2026-03"

CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK")
"""`AssociationSpec.associationCategory` values in HubSpot's spec."""

_INT32_MAX = 2**31 - 1  # associationTypeId is an int32 in the spec
_DATE_VERSION = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_TYPE_ID = re.compile(r"[0-9]{1,10}")


def check_api(api: str) -> str:
    """Return `api` when it names an endpoint family (`v3`, `v4`, or a date version `YYYY-MM` from
    2026-03 on); else raise ValueError saying what is accepted."""
    if api in ("v3", "v4"):
        return api
    if _DATE_VERSION.fullmatch(api):
        if api < FIRST_DATE_VERSION:
            raise ValueError(
                f"API version {api!r} is older than {FIRST_DATE_VERSION}, the oldest date version bulkassoc "
                "supports: use 2026-03 or later (e.g. 2026-09), v4 or v3"
            )
        return api
    raise ValueError(f"unknown API {api!r}: expected v3, v4 or a date version such as 2026-09 (YYYY-MM)")


def check_category(category: str) -> str:
    """Return `category` when HubSpot knows it, else raise ValueError listing the accepted ones."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown association category {category!r}: expected one of {', '.join(CATEGORIES)}")
    return category


def type_id(row: Row) -> int:
    """The row's association type as an int32 type ID; ValueError (naming the row) for a name."""
    if _TYPE_ID.fullmatch(row.type) is None:
        raise ValueError(
            f"line {row.line}: association type {row.type!r} is a name, but this endpoint needs a numeric "
            "type ID (e.g. 279 for contact → company unlabeled): put the ID in the type column "
            "(names work only with --mode single --api v3)"
        )
    value = int(row.type)
    if value > _INT32_MAX:
        raise ValueError(f"line {row.line}: association type ID {row.type} is larger than HubSpot's int32 IDs")
    return value


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")  # what `quote(value, safe="")` leaves as it is, and slashes


def _seg(value: str) -> str:
    return quote(value, safe="")


def _spec(category: str, type_value: int) -> dict[str, object]:
    return {"associationCategory": category, "associationTypeId": type_value}


def _category(row: Row, default: str) -> str:
    """The type's category as the portal defines it (a resolved row knows it), else the default."""
    return row.category if isinstance(row, ResolvedRow) and row.category else default


def path_for_row(from_type: str, from_id: str, to_type: str, to_id: str, assoc_type: str) -> str:
    """The v3 association PUT path for one row (values are validated, quoting is belt and braces)."""
    path = f"/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}/{assoc_type}"
    if _PLAIN_PATH.fullmatch(path) and path.count("/") == 9:  # nothing to quote (the usual case, and cheap)
        return path
    seg = [quote(s, safe="") for s in (from_type, from_id, to_type, to_id, assoc_type)]
    return f"/crm/v3/objects/{seg[0]}/{seg[1]}/associations/{seg[2]}/{seg[3]}/{seg[4]}"


Union = Callable[[Row], "list[tuple[str, int]] | None"]
"""Every (category, typeId) a labelled write of a row must send (the pair's existing types and the row's),
or None for the row's own type alone: v4 creates replace a pair's labels (docs/hubspot-api.md)."""


def single_request(api: str, row: Row, category: str = "HUBSPOT_DEFINED",
                   types: list[tuple[str, int]] | None = None) -> tuple[str, str, bytes | None]:
    """(method, path, body) creating one row's association with the `api` family's single write.

    v3 ignores `category` (the path's type says it all) and sends no body; v4 and date versions send
    `[{"associationCategory": category, "associationTypeId": int(type)}]`, or every spec of `types`.
    """
    check_api(api)
    if api == "v3":
        return "PUT", path_for_row(row.from_type, row.from_id, row.to_type, row.to_id, row.type), None
    check_category(category)
    specs = [_spec(c, t) for c, t in types] if types else [_spec(_category(row, category), type_id(row))]
    body = orjson.dumps(specs)
    tail = f"{_seg(row.from_type)}/{_seg(row.from_id)}/associations/{_seg(row.to_type)}/{_seg(row.to_id)}"
    if api == "v4":
        return "PUT", f"/crm/v4/objects/{tail}", body
    return "PUT", f"/crm/objects/{_seg(api)}/{tail}", body


def batch_request(
    from_type: str,
    to_type: str,
    rows: Sequence[Row],
    category: str = "HUBSPOT_DEFINED",
    api: str = "v4",
    union: Union | None = None,
) -> tuple[str, str, bytes]:
    """(method, path, body) creating `rows` with one batch create call: one input per row, in order;
    with `union`, rows of one pair share one input carrying every type the union names.

    Every row must have this `from_type`/`to_type` and a numeric type ID; 1 to MAX_BATCH rows.
    `api` "v4" (and "v3", the CLI's single-mode default: batch mode is v4 batch create) uses the v4
    path; a date version uses `/crm/associations/{version}/…/batch/create`.
    """
    check_api(api)
    check_category(category)
    if not rows:
        raise ValueError("a batch needs at least one row")
    if len(rows) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} rows (HubSpot's cap), got {len(rows)}")
    inputs = []
    merged: set[tuple[str, str]] = set()  # pairs whose one input carries every row's type
    for row in rows:
        if row.from_type != from_type or row.to_type != to_type:
            raise ValueError(
                f"line {row.line}: a {row.from_type} → {row.to_type} row cannot go into a "
                f"{from_type} → {to_type} batch: batch rows by (fromType, toType)"
            )
        types = union(row) if union is not None else None
        if types:
            pair_ids = (row.from_id.lstrip("0"), row.to_id.lstrip("0"))
            if pair_ids in merged:
                continue
            merged.add(pair_ids)
            specs = [_spec(c, t) for c, t in types]
        else:
            specs = [_spec(_category(row, category), type_id(row))]
        inputs.append({"from": {"id": row.from_id}, "to": {"id": row.to_id}, "types": specs})
    pair = f"{_seg(from_type)}/{_seg(to_type)}"
    if api in ("v3", "v4"):
        path = f"/crm/v4/associations/{pair}/batch/create"
    else:
        path = f"/crm/associations/{_seg(api)}/{pair}/batch/create"
    return "POST", path, orjson.dumps({"inputs": inputs})
