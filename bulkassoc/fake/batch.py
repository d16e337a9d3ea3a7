"""The fake HubSpot's labelled association writes: v4 batch create and the labelled PUT, in the v4 and
the date-versioned paths (docs/hubspot-api.md §4-§6; HubSpot-public-api-spec-collection,
CRM/Associations/Rollouts/130902/{v4,2026-03,2026-09}/associations.json).

- `POST /crm/v4/associations/{from}/{to}/batch/create`: 201 when every input was created, else 207
  (`…WithErrors`: `numErrors`, `errors`).
- `POST /crm/associations/{ver}/{from}/{to}/batch/create`: 2026-03 as v4; 2026-09 and later 200 always
  (the spec lists only 200), with `numErrors`/`errors` when inputs failed.
- `PUT /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}` and
  `PUT /crm/objects/{ver}/{from}/{fromId}/associations/{to}/{toId}`: `AssociationSpec[]` body, 201
  `LabelsBetweenObjectPair`.

`{ver}` is a date version `YYYY-MM` from 2026-03 on; any other is a 404. Every call goes through
the server's request wrapper (auth, window, daily budget, latency, faults), so a batch is ONE request for the
rate window and the daily budget whatever its size. `stats.batch_requests` counts the batch creates
that reached the endpoint and `stats.batch_inputs` their inputs (bodies that parse, up to the cap);
each created association counts in `associations_stored` (when new) and `put_counts`, as a v3 PUT does.

Choices where HubSpot is silent (all (I)):
- Request bodies are checked first, as HubSpot's deserialiser does; a malformed body is a 400 for the
  whole request (messages modelled on the observed ones in docs/hubspot-api.md §4: missing body, invalid
  JSON, missing fields; a non-array PUT body gets the `HashSet<AssociationSpec>` message without a `category`, as
  observed). An empty `AssociationSpec[]` is a 400 too.
- More than 2,000 inputs (MAX_CREATE_INPUTS, docs/hubspot-api.md §6) is a 400 VALIDATION_ERROR for the
  whole batch; an empty `inputs` list is answered as an empty success.
- Unknown IDs: the PUT answers 400 VALIDATION_ERROR with `INVALID_OBJECT_IDS` (the observed v4 body),
  not 404; in a batch each failed input gets its own `StandardError` of that shape (`status` "error",
  `category`, `message`, `context` naming the bad ID, `errors`, `links`), and nothing names its index.
  A type the fake does not allow for the pair fails the same way, naming the toId (as observed for a
  wrong-direction type).
- No `Location` header on the PUT's 201 (the shared `_respond` sends none; clients ignore it).
- `labels` lists the label (docs/hubspot-api.md §7) of each HubSpot-defined type when it has one, else
  nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from . import bodies
from .names import HUBSPOT_DEFINED_LABELS, canonical_type
from .portal import Portal
from .reply import Call, Reply, Wrap

__all__ = ["FIRST_DATE_VERSION", "MAX_CREATE_INPUTS", "add_routes"]

MAX_CREATE_INPUTS = 2000
FIRST_DATE_VERSION = "2026-03"
_ONLY_200_FROM = "2026-09"  # the 2026-09 spec lists 200 (no 201/207) for batch create
_CATEGORIES = ("HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK")
_DATE_VERSION = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_INT32_MAX = 2**31 - 1
_SPEC_SET = "java.util.HashSet<com.hubspot.inbounddb.associations.base.AssociationSpec>"
_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5"}

_Spec = tuple[str, int]  # (associationCategory, associationTypeId)


def add_routes(app: web.Application, portal: Portal, wrap: Wrap) -> None:
    """Register this module's endpoints on the fake's app, each wrapped in the server's `wrap`."""

    def bind(handler: Callable[[Portal, web.Request, Call], Awaitable[bytes]]
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def inner(request: web.Request, call: Call) -> bytes:
            return await handler(portal, request, call)

        return wrap(inner)

    pair = "{from_type}/{to_type}/batch/create"
    put = "{from_type}/{from_id}/associations/{to_type}/{to_id}"
    app.router.add_post(f"/crm/v4/associations/{pair}", bind(_batch_create))
    app.router.add_post(f"/crm/associations/{{version}}/{pair}", bind(_batch_create))
    app.router.add_put(f"/crm/v4/objects/{put}", bind(_put_labelled))
    app.router.add_put(f"/crm/objects/{{version}}/{put}", bind(_put_labelled))


# ------------------------------------------------------------------------------------------ endpoints


async def _batch_create(fake: Portal, request: web.Request, call: Call) -> bytes:
    version = _version(request, call)
    from_type, to_type = (canonical_type(request.match_info[k]) for k in ("from_type", "to_type"))
    fake.stats.batch_requests += 1
    fake.check_scope(from_type, call)
    inputs = _batch_inputs(await request.read(), call)
    fake.stats.batch_inputs += len(inputs)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for from_id, to_id, specs in inputs:
        problem = _problem(fake, from_type, from_id, to_type, to_id, specs)
        if problem is not None:
            errors.append(problem)
            continue
        _store(fake, from_type, from_id, to_type, to_id, specs)
        results.append(_pair(from_type, from_id, to_type, to_id, specs))
    now = _now()
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    if version is not None and version >= _ONLY_200_FROM:
        return orjson.dumps(body)
    raise Reply(207 if errors else 201, orjson.dumps(body))


async def _put_labelled(fake: Portal, request: web.Request, call: Call) -> bytes:
    _version(request, call)
    m = request.match_info
    from_type, to_type = canonical_type(m["from_type"]), canonical_type(m["to_type"])
    from_id, to_id = m["from_id"], m["to_id"]
    fake.check_scope(from_type, call)
    specs = _put_specs(await request.read(), call)
    problem = _problem(fake, from_type, from_id, to_type, to_id, specs)
    if problem is not None:
        raise Reply(400, orjson.dumps({"status": "error", "message": "One or more associations are invalid",
                                        "correlationId": call.cid, "context": problem["context"],
                                        "category": "VALIDATION_ERROR"}))
    _store(fake, from_type, from_id, to_type, to_id, specs)
    raise Reply(201, orjson.dumps(_pair(from_type, from_id, to_type, to_id, specs)))


# ------------------------------------------------------------------------------------- request bodies


def _reply(status: int, message: str, cid: str, *, category: str | None = "VALIDATION_ERROR") -> Exception:
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": cid}
    if category is not None:
        body["category"] = category
    return Reply(status, orjson.dumps(body))


def _version(request: web.Request, call: Call) -> str | None:
    version = request.match_info.get("version")
    if version is not None and (_DATE_VERSION.fullmatch(version) is None or version < FIRST_DATE_VERSION):
        raise _reply(404, f"Unknown API version {version!r}", call.cid, category="OBJECT_NOT_FOUND")
    return version


def _load(raw: bytes, call: Call) -> Any:
    if not raw.strip():
        raise _reply(400, "Invalid JSON input: a request body was expected, but none found", call.cid)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise _reply(400, f"Invalid input JSON on line {e.lineno}, column {e.colno}: {e.msg}", call.cid) from None


def _specs(value: Any, call: Call) -> list[_Spec]:
    """An `AssociationSpec[]`: a list of {associationCategory, associationTypeId}, at least one."""
    if not isinstance(value, list):
        token = "String value (token `JsonToken.VALUE_STRING`)" if isinstance(value, str) else "a non-array value"
        raise _reply(400, f"Invalid input JSON on line 1, column 1: Cannot deserialize value of type `{_SPEC_SET}` "
                     f"from {token}", call.cid, category=None)
    if not value:
        raise _reply(400, "Invalid input: at least one association spec is required", call.cid)
    out: list[_Spec] = []
    for spec in value:
        if not isinstance(spec, dict):
            raise _reply(400, "Invalid input JSON: each association spec must be an object", call.cid)
        category, type_value = spec.get("associationCategory"), spec.get("associationTypeId")
        missing = [k for k, v in (("associationCategory", category), ("associationTypeId", type_value)) if v is None]
        if missing:
            raise _reply(400, "Invalid input JSON on line 1, column 3. Some required fields were not set: "
                         f"[{', '.join(missing)}]", call.cid)
        if category not in _CATEGORIES:
            raise _reply(400, f"Invalid input JSON: Cannot deserialize value of type `AssociationCategory` from "
                         f"String {orjson.dumps(category).decode()}: not one of the values accepted for Enum "
                         f"class: [{', '.join(_CATEGORIES)}]", call.cid)
        if isinstance(type_value, bool) or not isinstance(type_value, int) or not 0 <= type_value <= _INT32_MAX:
            raise _reply(400, f"Invalid input JSON: associationTypeId {orjson.dumps(type_value).decode()} is not "
                         "a valid int32 value", call.cid)
        out.append((category, type_value))
    return out


def _put_specs(raw: bytes, call: Call) -> list[_Spec]:
    return _specs(_load(raw, call), call)


def _object_id(value: Any) -> str | None:
    """`{"id": "…"}` → the ID (JSON integers accepted, as older clients send them)."""
    if not isinstance(value, dict):
        return None
    ident = value.get("id")
    if isinstance(ident, bool):
        return None
    if isinstance(ident, int):
        return str(ident)
    return ident if isinstance(ident, str) and ident else None


def _batch_inputs(raw: bytes, call: Call) -> list[tuple[str, str, list[_Spec]]]:
    data = _load(raw, call)
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list):
        raise _reply(400, "Invalid input JSON on line 1, column 1. Some required fields were not set: [inputs]",
                     call.cid)
    if len(inputs) > MAX_CREATE_INPUTS:
        raise _reply(400, f"Batch input size {len(inputs)} exceeds the limit of {MAX_CREATE_INPUTS} inputs",
                     call.cid)
    out: list[tuple[str, str, list[_Spec]]] = []
    for item in inputs:
        item = item if isinstance(item, dict) else {}
        from_id, to_id, types = _object_id(item.get("from")), _object_id(item.get("to")), item.get("types")
        missing = [k for k, v in (("from", from_id), ("to", to_id), ("types", types)) if v is None]
        if missing:
            raise _reply(400, "Invalid input JSON on line 1, column 1. Some required fields were not set: "
                         f"[{', '.join(missing)}]", call.cid)
        assert from_id is not None and to_id is not None
        out.append((from_id, to_id, _specs(types, call)))
    return out


# ------------------------------------------------------------------------------------------- checks


def _problem(fake: Portal, from_type: str, from_id: str, to_type: str, to_id: str,
             specs: list[_Spec]) -> dict[str, Any] | None:
    """The StandardError for one input (pair + specs), or None when it can be created."""
    for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
        if not fake.exists(object_type, object_id):
            return _invalid(object_type, object_id)
    allowed = None if fake.types is None else fake.types.get((from_type, to_type), frozenset())
    if allowed is not None and any(str(type_id) not in allowed for _, type_id in specs):
        return _invalid(to_type, to_id)
    return None


def _invalid(object_type: str, object_id: str) -> dict[str, Any]:
    label = bodies.object_label(object_type)
    text = f"{label}={object_id} is not valid"
    return {"status": "error", "category": "VALIDATION_ERROR", "message": text,
            "context": {"INVALID_OBJECT_IDS": [text], "objectId": [object_id], "objectType": [label]},
            "errors": [], "links": {}}


# ------------------------------------------------------------------------------------------ writes


def _store(fake: Portal, from_type: str, from_id: str, to_type: str, to_id: str, specs: list[_Spec]) -> None:
    """v4 creates replace the pair's labels with the ones sent (docs/hubspot-api.md §9)."""
    fake.replace(from_type, from_id, to_type, to_id, list(dict.fromkeys(str(type_id) for _, type_id in specs)))


def _pair(from_type: str, from_id: str, to_type: str, to_id: str, specs: list[_Spec]) -> dict[str, Any]:
    """A `LabelsBetweenObjectPair` (IDs as strings, as in the current spec)."""
    known = HUBSPOT_DEFINED_LABELS.get((from_type, to_type), {})
    labels = [label for category, type_id in specs
              if category == "HUBSPOT_DEFINED" and (label := known.get(type_id)) is not None]
    return {"fromObjectTypeId": _TYPE_IDS.get(from_type, from_type), "fromObjectId": from_id,
            "toObjectTypeId": _TYPE_IDS.get(to_type, to_type), "toObjectId": to_id, "labels": labels}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
