"""The fake HubSpot's v4 batch read: `POST /crm/v4/associations/{fromType}/{toType}/batch/read`.

Request `{"inputs":[{"id":"…","after":"…"}]}`; answer `BatchResponsePublicAssociationMultiWithLabel`
(200), or `…WithErrors` (207) when some inputs have errors (spec: HubSpot-public-api-spec-collection,
CRM/Associations/Rollouts/130902/v4/associations.json). One call counts as one request in the window.

Choices where HubSpot is silent (all (I)):
- Page size: `FakeConfig.read_page_size` distinct toObjectIds per fromId (default 100, the page seen
  from the v3 batch read in hubspot-api-python#135; the v4 size is not documented).
- A fromId without associations, or that does not exist, is reported under `errors` of a 207
  (`NO_ASSOCIATIONS_FOUND` / `OBJECT_NOT_FOUND`, `context.fromObjectId`), not as an empty `to`.
- More than 1,000 inputs (docs/hubspot-api.md §6: "rejected with an error") is a 400 VALIDATION_ERROR.
- `after` is opaque: base64 of "fromId:offset"; one that does not belong to its id is a 400.
- `toObjectId` is a string, as in the current spec. A type stored as a name (`contact_to_company`)
  has no typeId the fake could know: it is listed with typeId 0, category USER_DEFINED, the name as
  label. Numeric types are HUBSPOT_DEFINED with their label (docs/hubspot-api.md §7) when the fake knows
  one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import orjson
from aiohttp import web

from . import bodies
from .names import HUBSPOT_DEFINED_LABELS, canonical_type
from .portal import Portal
from .reply import Call, Reply, id_inputs

__all__ = ["MAX_READ_INPUTS", "batch_read"]

MAX_READ_INPUTS = 1000
_ALL = 1 << 62  # "every stored pair" for AssociationStore.page


def _cursor(from_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{from_id}:{offset}".encode()).decode().rstrip("=")


def _offset(from_id: str, after: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    owner, _, offset = text.partition(":")
    return int(offset) if owner == from_id and offset.isdigit() else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _input_error(category: str, sub: str, message: str, from_id: str) -> dict[str, Any]:
    return {"status": "error", "category": category, "subCategory": sub, "message": message,
            "context": {"fromObjectId": [from_id]}, "errors": [], "links": {}}


async def batch_read(fake: Portal, request: web.Request, call: Call) -> bytes:
    """The endpoint body, run inside the server's request wrapper (auth, window, faults already passed)."""
    from_type = canonical_type(request.match_info["from_type"])
    to_type = canonical_type(request.match_info["to_type"])
    _, inputs = id_inputs(await request.read(), call, MAX_READ_INPUTS)
    page_size = max(1, fake.config.read_page_size)
    labels = HUBSPOT_DEFINED_LABELS.get((from_type, to_type), {})
    user = fake.user_labels.get((from_type, to_type), {})
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in inputs:
        from_id, after = item["id"], item.get("after")
        offset = 0
        if after is not None:
            found = _offset(from_id, after) if isinstance(after, str) else None
            if found is None:
                raise Reply(400, bodies.bad_request(f"Invalid paging cursor for id {from_id}: {after!r}",
                                                     call.cid))
            offset = found
        if not fake.exists(from_type, from_id):
            errors.append(_input_error("OBJECT_NOT_FOUND", "crm.associations.OBJECT_NOT_FOUND",
                                       f"{bodies.object_label(from_type)}={from_id} does not exist", from_id))
            continue
        targets: dict[str, list[str]] = {}
        for to_id, assoc_type in fake.store.page(from_type, from_id, to_type, 0, _ALL)[0]:
            targets.setdefault(to_id, []).append(assoc_type)
        if not targets:
            errors.append(_input_error("OBJECT_NOT_FOUND", "crm.associations.NO_ASSOCIATIONS_FOUND",
                                       f"No {to_type} is associated with {from_type} {from_id}.", from_id))
            continue
        page = list(targets.items())[offset:offset + page_size]
        result: dict[str, Any] = {"from": {"id": from_id}, "to": [
            {"toObjectId": to_id, "associationTypes": [_spec(t, labels, user) for t in types]}
            for to_id, types in page]}
        if offset + page_size < len(targets):
            result["paging"] = {"next": {"after": _cursor(from_id, offset + page_size)}}
        results.append(result)
    now = _now()
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        raise Reply(207, orjson.dumps(body))
    return orjson.dumps(body)


def _spec(assoc_type: str, labels: dict[int, str | None], user: dict[int, str]) -> dict[str, Any]:
    if not assoc_type.isdigit():
        return {"category": "USER_DEFINED", "typeId": 0, "label": assoc_type}
    type_id = int(assoc_type)
    if type_id in user:
        return {"category": "USER_DEFINED", "typeId": type_id, "label": user[type_id]}
    return {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": labels.get(type_id)}
