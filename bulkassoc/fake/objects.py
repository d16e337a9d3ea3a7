"""Objects batch read in the fake: `POST /crm/v3/objects/{objectType}/batch/read`, by record ID or by a
unique property (`idProperty`), as HUBSPOT_API_2 §1 describes: at most 100 inputs; 200 when every input
matched; 207 with one aggregated OBJECT_NOT_FOUND error naming the missed input values (`context.ids`)
otherwise; e-mail matched without case and returned lower-cased. Results come back in reverse input
order (HubSpot keeps no order), so a client that maps answers by position is caught."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from aiohttp import web

from . import bodies
from .names import HUBSPOT_DEFINED_LABELS, canonical_type
from .portal import Portal
from .reply import Call, Reply, id_inputs

__all__ = ["MAX_INPUTS", "batch_read_objects"]

MAX_INPUTS = 100
_STANDARD = {"contacts", "companies", "deals", "tickets", "partner_services", "partner_clients"}


def _known_type(portal: Portal, object_type: str) -> bool:
    if object_type in _STANDARD or object_type in portal.records or object_type.startswith(("p_", "2-")):
        return True
    return (portal.known is not None and object_type in portal.known) or any(
        object_type in pair for pair in HUBSPOT_DEFINED_LABELS)


async def batch_read_objects(portal: Portal, request: web.Request, call: Call) -> bytes:
    object_type = canonical_type(request.match_info["object_type"])
    if not _known_type(portal, object_type):
        raise Reply(400, bodies.bad_request(f"Unable to infer object type from: {object_type}", call.cid))
    body, inputs = id_inputs(await request.read(), call, MAX_INPUTS)
    prop = body.get("idProperty")
    asked = body.get("properties")
    wanted: list[Any] = asked if isinstance(asked, list) else []
    records = portal.records.get(object_type, {})
    results: list[dict[str, Any]] = []
    missed: list[str] = []
    index = None
    if prop is not None:
        index = portal.unique_index(object_type, str(prop))
        if index is None:
            raise Reply(400, bodies.bad_request(
                f"Property {prop!r} does not exist on {object_type} or is not a unique identifier", call.cid))
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for item in inputs:
        value = item["id"]
        record_id = (index.get(portal.normalise(str(prop), value)) if index is not None
                     else (value if portal.exists(object_type, value) else None))
        if record_id is None:
            missed.append(value)
            continue
        props = records.get(record_id, {})
        shown = {p: portal.normalise(p, props[p]) if p == "email" else props[p] for p in wanted if p in props}
        shown["hs_object_id"] = record_id
        results.append({"id": record_id, "properties": shown, "createdAt": now, "updatedAt": now, "archived": False})
    results.reverse()
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if not missed:
        return orjson.dumps(answer)
    answer["numErrors"] = 1
    answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                         "message": f"Could not get some {bodies.object_label(object_type)} objects, they may be "
                                    "deleted or not exist. Check that ids are valid.",
                         "context": {"ids": missed}}]
    raise Reply(207, orjson.dumps(answer))
