"""One `POST /crm/v4/associations/{fromType}/{toType}/batch/read` through the paced caller: its path, its
body, what its answer means, and the pieces of a page (docs/hubspot-api.md §6).

Shared by `verify` (is a row there?) and `sync` (what exists before a write, a mirror's scope): up to
MAX_READ_IDS fromIds per call; `after` is set per input, so each fromId pages on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson

from .caller import Caller
from .client import Response
from .outcomes import Kind, Outcome, required_scope

__all__ = ["MAX_READ_IDS", "ReadFailed", "answer_id", "page_entries", "read_body", "read_page", "read_path"]

MAX_READ_IDS = 1000  # HubSpot's batch-read cap: inputs per request

TypeSpec = tuple[str, int]  # (category, typeId)


class ReadFailed(Exception):
    """A batch read failed for good; what it was to decide stays undecided."""


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


def read_scopes(from_type: str, to_type: str) -> str:
    return " and ".join(dict.fromkeys(required_scope(t).removesuffix(".write") + ".read"
                                      for t in (from_type, to_type)))


async def read_page(caller: Caller, body: bytes, from_type: str, to_type: str) -> dict[str, Any]:
    """One batch read, retried by the caller; the parsed 200/207 answer. Raises ReadFailed when it fails
    for good, `Halted` when the command stops."""
    answer = await caller.call("POST", read_path(from_type, to_type), body, purpose="read",
                               scope=read_scopes(from_type, to_type), judge=_judge)
    outcome = answer.outcome
    if answer.payload is not None:
        return answer.payload
    if outcome.kind is Kind.PERMANENT:
        raise ReadFailed(f"HubSpot answered {outcome.status} {outcome.category} to a batch read of "
                         f"{from_type} → {to_type}: {outcome.message}")
    if outcome.kind is Kind.THROTTLED:
        raise ReadFailed(f"still throttled (429) after {answer.sent} tries")
    raise ReadFailed(f"a batch read failed {answer.sent} times, last with "
                     f"{outcome.status or outcome.category}: {outcome.message}")


def answer_id(value: object) -> str | None:
    """An ID as HubSpot sends it (a string in the current spec, a number in the guide's examples),
    without leading zeros (record IDs compare as numbers)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip().lstrip("0") or "0"
    return None


def page_entries(answer: dict[str, Any]) -> Iterator[tuple[str, list[tuple[str, list[TypeSpec]]], str | None]]:
    """Per result of one answer: (fromId, [(toId, [(category, typeId)])], the next page's cursor or None)."""
    results = answer.get("results")
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict) or not isinstance(result.get("from"), dict):
            continue
        from_id = answer_id(result["from"].get("id"))
        if from_id is None:
            continue
        targets: list[tuple[str, list[TypeSpec]]] = []
        to_list = result.get("to")
        for target in to_list if isinstance(to_list, list) else ():
            if not isinstance(target, dict):
                continue
            to_id = answer_id(target.get("toObjectId"))
            if to_id is None:
                continue
            specs = target.get("associationTypes")
            types = [(str(s.get("category") or "HUBSPOT_DEFINED"), s["typeId"]) for s in specs
                     if isinstance(s, dict) and isinstance(s.get("typeId"), int) and not isinstance(s["typeId"], bool)
                     ] if isinstance(specs, list) else []
            targets.append((to_id, types))
        paging = result.get("paging")
        nxt = paging.get("next") if isinstance(paging, dict) else None
        after = nxt.get("after") if isinstance(nxt, dict) else None
        yield from_id, targets, (after if isinstance(after, str) and after else None)
