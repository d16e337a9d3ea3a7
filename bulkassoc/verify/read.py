"""One `POST /crm/v4/associations/{fromType}/{toType}/batch/read` through the paced caller
(`hubspot/caller.py`): its path, its body, and what its answer means."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from ..hubspot.caller import Caller
from ..hubspot.client import Response
from ..hubspot.outcomes import Kind, Outcome, required_scope
from .chunks import Chunk

__all__ = ["Unchecked", "read_body", "read_page", "read_path"]


class Unchecked(Exception):
    """A batch read failed for good; the rows it was to decide stay unchecked."""


def read_path(from_type: str, to_type: str) -> str:
    return f"/crm/v4/associations/{quote(from_type, safe='')}/{quote(to_type, safe='')}/batch/read"


def read_body(cursors: dict[str, str | None]) -> bytes:
    """The request for these fromIds, each from its page cursor (None: the first page)."""
    inputs = [{"id": i} if after is None else {"id": i, "after": after} for i, after in cursors.items()]
    return orjson.dumps({"inputs": inputs})


def _judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, dict[str, Any] | None]:
    """A 200/207 whose body is not a JSON object is resent (probably a truncated answer)."""
    if outcome.kind is not Kind.SUCCESS or response is None:
        return outcome, None
    try:
        answer = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict):
        return outcome, answer
    return Outcome(Kind.RETRY, response.status, "BAD_ANSWER", "the answer is not a JSON object"), None


def _read_scopes(chunk: Chunk) -> str:
    return " and ".join(dict.fromkeys(required_scope(t).removesuffix(".write") + ".read"
                                      for t in (chunk.from_type, chunk.to_type)))


async def read_page(caller: Caller, body: bytes, chunk: Chunk) -> dict[str, Any]:
    """One batch read, retried by the caller; the parsed 200/207 answer. Raises Unchecked when it fails
    for good, `Halted` when the verify stops."""
    answer = await caller.call("POST", read_path(chunk.from_type, chunk.to_type), body, purpose="read",
                               scope=_read_scopes(chunk), judge=_judge)
    outcome = answer.outcome
    if answer.payload is not None:
        return answer.payload
    if outcome.kind is Kind.PERMANENT:
        raise Unchecked(f"HubSpot answered {outcome.status} {outcome.category} to a batch read of "
                        f"{chunk.from_type} → {chunk.to_type}: {outcome.message}")
    if outcome.kind is Kind.THROTTLED:
        raise Unchecked(f"still throttled (429) after {answer.sent} tries")
    raise Unchecked(f"a batch read failed {answer.sent} times, last with "
                    f"{outcome.status or outcome.category}: {outcome.message}")
