"""The fake HubSpot's association deletes (docs/hubspot-api.md §9; HubSpot-public-api-spec-collection,
CRM/Associations/Rollouts/130902/v4/associations.json):

- `POST /crm/v4/associations/{from}/{to}/batch/archive`, `{"inputs":[{"from":{"id"},"to":[{"id"}…]}]}`:
  removes **every** type between each from/to pair; 204.
- `POST /crm/v4/associations/{from}/{to}/batch/labels/archive`,
  `{"inputs":[{"from":{"id"},"to":{"id"},"types":[AssociationSpec]}]}`: removes only the listed types; 204.
- `DELETE /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}`: every type between the pair; 204.
- `DELETE /crm/v3/objects/{from}/{fromId}/associations/{to}/{toId}/{type}`: that type; 204.

Every removal asked for counts in `stats.delete_counts` (per type; a batch/archive or v4 DELETE counts
each type it removed) and `stats.deletes` counts the requests.

Choices where HubSpot is silent (all (I)):
- Deleting what is not there is a 204 (HubSpot's object archive answers 204 "regardless of the initial
  state"; for associations it is not documented).
- More than 1,000 inputs is a 400 VALIDATION_ERROR (the cap is not documented; the read's cap).
- The unlabeled-type trap ("deleting an unlabeled association will also delete all labeled associations
  between those two objects") only with `FakeConfig.unlabeled_wipes`: then a labels archive of a type the
  fake knows as unlabeled (names.py) removes every type of the pair; else exactly the types it lists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from . import bodies
from .names import HUBSPOT_DEFINED_LABELS, canonical_type
from .portal import Portal
from .reply import Call, Reply, Wrap

__all__ = ["MAX_ARCHIVE_INPUTS", "add_routes"]

MAX_ARCHIVE_INPUTS = 1000


def add_routes(app: web.Application, portal: Portal, wrap: Wrap) -> None:
    """Register the delete endpoints on the fake's app, each wrapped in the server's `wrap`."""

    def bind(handler: Callable[[Portal, web.Request, Call], Awaitable[bytes]]
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def inner(request: web.Request, call: Call) -> bytes:
            portal.stats.deletes += 1
            return await handler(portal, request, call)

        return wrap(inner)

    pair = "/crm/v4/associations/{from_type}/{to_type}/batch"
    app.router.add_post(f"{pair}/archive", bind(_batch_archive))
    app.router.add_post(f"{pair}/labels/archive", bind(_labels_archive))
    app.router.add_delete("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}", bind(_delete_v4))
    app.router.add_delete("/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}/{assoc_type}",
                          bind(_delete_v3))


def _types(request: web.Request) -> tuple[str, str]:
    return canonical_type(request.match_info["from_type"]), canonical_type(request.match_info["to_type"])


def _id(value: Any) -> str | None:
    ident = value.get("id") if isinstance(value, dict) else None
    if isinstance(ident, int) and not isinstance(ident, bool):
        return str(ident)
    return ident if isinstance(ident, str) and ident.isdigit() else None


def _inputs(raw: bytes, call: Call) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Reply(400, bodies.bad_request("Invalid input JSON: the body is not JSON", call.cid)) from None
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise Reply(400, bodies.bad_request("Invalid input JSON. Some required fields were not set: [inputs]",
                                            call.cid))
    if len(inputs) > MAX_ARCHIVE_INPUTS:
        raise Reply(400, bodies.bad_request(
            f"Batch input size {len(inputs)} exceeds the limit of {MAX_ARCHIVE_INPUTS} inputs", call.cid))
    return inputs


def _remove_all(fake: Portal, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
    for assoc_type in fake.store.types_between(from_type, from_id, to_type, to_id):
        fake.remove((from_type, from_id, to_type, to_id, assoc_type))


async def _batch_archive(fake: Portal, request: web.Request, call: Call) -> bytes:
    from_type, to_type = _types(request)
    fake.check_scope(from_type, call)
    targets: list[tuple[str, list[str]]] = []
    for item in _inputs(await request.read(), call):
        from_id, to_list = _id(item.get("from")), item.get("to")
        found = [_id(t) for t in to_list] if isinstance(to_list, list) else []
        to_ids = [t for t in found if t is not None]
        if from_id is None or not to_ids or len(to_ids) != len(found):
            raise Reply(400, bodies.bad_request('Invalid input JSON: expected {"from":{"id"},"to":[{"id"}]}',
                                                call.cid))
        targets.append((from_id, to_ids))
    for source, to_ids in targets:
        for to_id in to_ids:
            _remove_all(fake, from_type, source, to_type, to_id)
    raise Reply(204)


async def _labels_archive(fake: Portal, request: web.Request, call: Call) -> bytes:
    from_type, to_type = _types(request)
    fake.check_scope(from_type, call)
    removals: list[tuple[str, str, list[str]]] = []
    for item in _inputs(await request.read(), call):
        from_id, to_id, specs = _id(item.get("from")), _id(item.get("to")), item.get("types")
        type_ids = [s.get("associationTypeId") for s in specs if isinstance(s, dict)] if isinstance(
            specs, list) else []
        if from_id is None or to_id is None or not type_ids or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in type_ids):
            raise Reply(400, bodies.bad_request(
                'Invalid input JSON: expected {"from":{"id"},"to":{"id"},"types":[AssociationSpec]}', call.cid))
        removals.append((from_id, to_id, [str(t) for t in type_ids]))
    unlabeled = {t for t, label in HUBSPOT_DEFINED_LABELS.get((from_type, to_type), {}).items() if label is None}
    for from_id, to_id, types in removals:
        for assoc_type in types:
            fake.remove((from_type, from_id, to_type, to_id, assoc_type))
            if fake.config.unlabeled_wipes and int(assoc_type) in unlabeled:  # the labels go too, unasked
                for other in fake.store.types_between(from_type, from_id, to_type, to_id):
                    fake.stats.removed += fake.store.discard((from_type, from_id, to_type, to_id, other))
    raise Reply(204)


async def _delete_v4(fake: Portal, request: web.Request, call: Call) -> bytes:
    from_type, to_type = _types(request)
    fake.check_scope(from_type, call)
    _remove_all(fake, from_type, request.match_info["from_id"], to_type, request.match_info["to_id"])
    raise Reply(204)


async def _delete_v3(fake: Portal, request: web.Request, call: Call) -> bytes:
    from_type, to_type = _types(request)
    fake.check_scope(from_type, call)
    m = request.match_info
    fake.remove((from_type, m["from_id"], to_type, m["to_id"], m["assoc_type"]))
    raise Reply(204)
