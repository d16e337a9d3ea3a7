"""What every endpoint of the fake shares: the `Reply` an endpoint raises to answer with a status, and the
`Call` (one request in flight). A leaf: the server and the endpoint modules import it, it imports nothing
of theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from . import bodies

__all__ = ["DROP", "Call", "Endpoint", "Reply", "Wrap", "id_inputs"]

DROP = 0  # pseudo-status: close the connection without answering


class Reply(Exception):
    """Answer the current request with `status` and `body` (raised from the checks and endpoints)."""

    def __init__(self, status: int, body: bytes = b"", retry_after: float | None = None) -> None:
        self.status, self.body, self.retry_after = status, body, retry_after


@dataclass(slots=True)
class Call:
    """One request in flight: its arrival time, correlation ID and its pre-drawn random numbers."""

    now: float
    cid: str
    fault: float
    kind: float
    latency: float


Endpoint = Callable[[web.Request, Call], Awaitable[bytes]]
"""An endpoint body: returns a 200 body, or raises `Reply` for any other answer."""
Wrap = Callable[[Endpoint], Callable[[web.Request], Awaitable[web.StreamResponse]]]
"""What the server wraps every endpoint in: count, auth, limits, latency, faults."""


def id_inputs(raw: bytes, call: Call, limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A batch read's body and its `inputs` ([{"id": "…"}, …], at most `limit`); a 400 otherwise."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Reply(400, bodies.bad_request("Invalid input JSON on line 1: the body is not JSON", call.cid)) from None
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in inputs):
        raise Reply(400, bodies.bad_request('Invalid input JSON: expected {"inputs":[{"id":"…"}]}', call.cid))
    if len(inputs) > limit:
        raise Reply(400, bodies.bad_request(
            f"Batch input size {len(inputs)} exceeds the limit of {limit} inputs", call.cid))
    return body, inputs

