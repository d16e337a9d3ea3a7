"""The association schema endpoints of the fake: v4 labels (typeId, label, category) and v3 types
({id, name}), from the portal's definitions (`Portal.pair_definitions`)."""

from __future__ import annotations

import orjson
from aiohttp import web

from .names import canonical_type
from .portal import Portal
from .reply import Call

__all__ = ["labels", "types"]


def _pair(request: web.Request) -> tuple[str, str]:
    return canonical_type(request.match_info["from_type"]), canonical_type(request.match_info["to_type"])


async def labels(portal: Portal, request: web.Request, call: Call) -> bytes:
    """`GET /crm/v4/associations/{from}/{to}/labels`: `label` is null for an unlabeled type."""
    defs = portal.pair_definitions(*_pair(request))
    return orjson.dumps({"results": [{"category": category, "typeId": type_id, "label": label}
                                     for type_id, _, label, category in defs]})


async def types(portal: Portal, request: web.Request, call: Call) -> bytes:
    """`GET /crm/v3/associations/{from}/{to}/types`: `id` is a string (spec: AssociationDefinition)."""
    defs = portal.pair_definitions(*_pair(request))
    return orjson.dumps({"results": [{"id": str(type_id), "name": name} for type_id, name, _, _ in defs]})
