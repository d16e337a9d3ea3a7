"""Per-row truth from one batch create answer: pure functions, no I/O, no clock.

`settle_batch(status, body, headers, rows)` turns HubSpot's answer to
`POST …/associations/…/batch/create` (rows sent as inputs, in order) into a `BatchVerdict`:

- **whole**: the answer is about the request, not its rows: 429 (THROTTLED / DAILY_LIMIT), 401/403 (AUTH),
  423/477/5xx (RETRY), exactly as `classify_response` says for a single PUT; also RETRY for a 207 whose
  body cannot be read. The engine applies it to every row of the batch as it would to one row (pause,
  stop, or back off and resend the same batch).
- **split**: a 400/413/422 for the whole batch that names none of its rows: nothing was created and the bad
  input is unknown. The engine sends the two `halves()` as batches of their own. `cause` holds the
  answer's outcome, for the rows of a batch that cannot be split further (see "Engine notes").
- **per_row**: every row settled with an Outcome of kind SUCCESS or PERMANENT, plus `resend`: rows
  HubSpot did not process (only after a whole-batch 4xx that named some rows: those are failed, the rest
  go back into the queue). `resend` is empty otherwise.

Exactly one of these holds: `whole is not None`, `split`, or neither (then `per_row` + `resend` together
hold every row of the batch exactly once).

## 2xx answers
- 201 or 200 (HubSpot changed batch create from 201 to 200 once, hubspot-api-python#448; the 2026-09
  spec lists only 200) with no `errors` and no `numErrors` > 0: every row succeeded. A missing, empty or
  odd body changes nothing: the status says all succeeded.
- 207, or a 2xx whose body carries `errors` / `numErrors` > 0 (the 2026-09 spec's 200 schema has both),
  or a body `status` of CANCELED: rows are settled one by one by the rules below. A 207 whose body is not a
  JSON object is a whole RETRY (probably a truncated answer; resending creates nothing twice).

## Mapping per-input errors to rows (207 and friends)
HubSpot's batch errors (`StandardError`) carry no input index; they name objects in `context`
(`{"INVALID_OBJECT_IDS": ["CONTACT=38374264688 is not valid"], "objectId": ["38374264688"], …}`) and
in their `message`. For each error we collect ID tokens: standalone digit runs (not part of a word, a
type ID such as `0-1`, or a decimal) in its `context` values, its `message`, and the same in its
`errors[]` details. Context keys that start with `from` / `to` (`fromObjectId`, `toObjectId`) name that
side only; other keys and messages may mean either side. Keys naming types, trace/correlation/request
IDs, scopes or links are skipped (a type ID 279 is not a record ID 279). A detail whose `in` says
`inputs[N]` names input N directly. IDs compare without leading zeros.

An error **matches** a row when one of its tokens equals the row's fromId (or toId) on a side the token
may mean. `results[]` (LabelsBetweenObjectPair `fromObjectId`/`toObjectId`, or `from.id`/`to.id`)
**confirms** a row's (fromId, toId) pair; the pair is **fully confirmed** when results list it at least
as often as the batch holds rows with that pair. Then, per row:
1. Matched by an error: PERMANENT with that error (the first that matches), unless its pair is fully
   confirmed (the error named an ID the row merely shares, e.g. a common fromId): SUCCESS.
2. Else listed in results: SUCCESS.
3. Else, if some error matched no row, or `numErrors` exceeds the errors listed, or a 207 lists no
   errors at all: PERMANENT with the unplaced error (or an `UNCONFIRMED` outcome): a failure exists that
   we cannot place, and this row is among the unconfirmed.
4. Else, if results list any pair: PERMANENT `UNCONFIRMED` (results list the successes, and not this one).
5. Else (no results at all, every error placed): SUCCESS: the rest succeeded.

So a row is SUCCESS only when results confirm it, or when every error was placed and no results
contradict it; every doubt becomes a failure, which a rerun (`--retry-failed`, the default) sends again:
a repeated create is harmless, a false success is a missing association.

Failed rows keep the error's own details: `status` is the error's `status` when that is an HTTP code
(HubSpot writes "error" there in practice), else 404 for OBJECT_NOT_FOUND, 409 for CONFLICT and 400 for
everything else (VALIDATION_ERROR and unknown categories: a per-input rejection is a client error);
`category` and `message` are the error's, the message followed by its context (e.g. the invalid IDs);
`correlation_id` is the answer's. Per-input errors are always PERMANENT, whatever their status.

## Whole-batch 4xx (classify_response says PERMANENT)
- One-row batch: that row fails with the answer's outcome (no split).
- The answer names some rows (same token rules over the body's context and `errors[]`, except that from
  messages only `LABEL=ID` tokens count, such as `CONTACT=38374264688`: a whole-request message's numbers
  are more often line numbers or limits): those rows fail with the outcome; the others are `resend`
  (HubSpot rejected the request, so it created nothing). If it names every row, every row fails.
- Else 400, 413 or 422: `split`, `cause` = the outcome.
- Else (404, 405, 409, 415 …, naming no row: a path-level problem that every half would repeat): every
  row fails with the outcome.

## Engine notes
- One batch is ONE HTTP request for the limiter, the daily budget and `requests`; rows are counted by
  their outcomes. A `whole` RETRY costs every row of the batch an attempt.
- Split recursion: send `halves(rows)` as two batches at depth + 1; a single row is never split (its
  400 is its own PERMANENT failure, settled here). Depth ceil(log2(batch size)) reaches single rows
  (7 for 100, 11 for 2000), so a cap of `MAX_SPLIT_DEPTH` = 11 is never the binding limit unless you want
  a lower one; at the cap, fail the rows with `cause`. Worst case (every row bad) costs 2n-1 requests.
- `resend` rows were not processed: requeue them (at depth + 1, so repeated 400s stay bounded) without
  charging an attempt.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from ..rows.reader import Row
from .error_ids import ErrorIds, RowIds, matches, norm_id
from .outcomes import Kind, Outcome, classify_response

__all__ = ["MAX_SPLIT_DEPTH", "SPLIT_STATUSES", "BatchVerdict", "halves", "settle_batch", "split_depth"]

SPLIT_STATUSES = frozenset({400, 413, 422})
MAX_SPLIT_DEPTH = 11  # ceil(log2(2000)): enough to isolate any single row of the largest batch
_MESSAGE_LIMIT = 500
_CONTEXT_VALUES = 3  # context values quoted per key in a failure message
_UNCONFIRMED = "UNCONFIRMED"

_CATEGORY_STATUS = {"OBJECT_NOT_FOUND": 404, "CONFLICT": 409}


@dataclass(frozen=True, slots=True)
class BatchVerdict:
    """What one batch answer means; see the module docstring for the rules."""

    per_row: list[tuple[Row, Outcome]] = field(default_factory=list)
    """Rows settled by this answer (SUCCESS or PERMANENT), in batch order."""
    whole: Outcome | None = None
    """Set when the answer is about the request: apply it to every row of the batch."""
    split: bool = False
    """Send the batch again as its two halves."""
    resend: list[Row] = field(default_factory=list)
    """Rows HubSpot did not process: queue them again (no attempt used)."""
    cause: Outcome | None = None
    """With `split`: the answer's outcome, for rows that cannot be split any further."""


def halves(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """The two halves of a batch to split (the first one gets the odd row)."""
    mid = (len(rows) + 1) // 2
    return list(rows[:mid]), list(rows[mid:])


def split_depth(batch_size: int) -> int:
    """Splits needed to reach single rows from a batch of `batch_size` rows."""
    return max(0, math.ceil(math.log2(batch_size))) if batch_size > 1 else 0


def settle_batch(status: int, body: bytes, headers: Mapping[str, str], rows: Sequence[Row]) -> BatchVerdict:
    """Settle the rows of one batch create request from HubSpot's answer (rows in the order sent)."""
    rows = list(rows)
    if 200 <= status < 300:
        return _settle_2xx(status, body, headers, rows)
    outcome = classify_response(status, body, headers)
    if outcome.kind is not Kind.PERMANENT:
        return BatchVerdict(whole=outcome)
    if len(rows) <= 1:
        return BatchVerdict(per_row=[(row, outcome) for row in rows])
    data = _parse(body) or {}
    named = matches(ErrorIds.of(data, strict=True), RowIds(rows))
    if named:
        failed = [(row, outcome) for i, row in enumerate(rows) if i in named]
        return BatchVerdict(per_row=failed, resend=[row for i, row in enumerate(rows) if i not in named])
    if status in SPLIT_STATUSES:
        return BatchVerdict(split=True, cause=outcome)
    return BatchVerdict(per_row=[(row, outcome) for row in rows])


# ------------------------------------------------------------------------------------------------- 2xx


def _settle_2xx(status: int, body: bytes, headers: Mapping[str, str], rows: list[Row]) -> BatchVerdict:
    data = _parse(body)
    cid = headers.get("X-HubSpot-Correlation-Id", "")
    if data is None:
        if status == 207:
            return BatchVerdict(whole=Outcome(
                Kind.RETRY, status, "UNREADABLE_RESPONSE",
                "HubSpot answered the batch with 207 but a body that is not a JSON object", cid))
        data = {}
    cid = _text(data, "correlationId") or cid
    errors = [e for e in _list(data.get("errors")) if isinstance(e, dict)]
    num_errors = data.get("numErrors")
    declared = num_errors if isinstance(num_errors, int) and not isinstance(num_errors, bool) else 0
    checked = status == 207 or errors or declared > 0 or _text(data, "status").upper() in ("CANCELED", "CANCELLED")
    if not checked:
        success = Outcome(Kind.SUCCESS, status)
        return BatchVerdict(per_row=[(row, success) for row in rows])
    return BatchVerdict(per_row=_per_row(status, data, errors, declared, rows, cid))


def _per_row(status: int, data: Mapping[str, object], errors: list[dict[str, object]], declared: int,
             rows: list[Row], cid: str) -> list[tuple[Row, Outcome]]:
    ids = RowIds(rows)
    confirmed = _result_pairs(data.get("results"))
    pair_rows = Counter(ids.pairs)
    first_error: dict[int, Outcome] = {}
    unplaced: list[Outcome] = []
    for error in errors:
        outcome = _error_outcome(error, cid)
        hits = matches(ErrorIds.of(error), ids)
        if not hits:
            unplaced.append(outcome)
        for i in sorted(hits):
            first_error.setdefault(i, outcome)
    unaccounted = bool(unplaced) or declared > len(errors) or (status == 207 and not errors)
    success = Outcome(Kind.SUCCESS, status)
    out: list[tuple[Row, Outcome]] = []
    for i, row in enumerate(rows):
        pair = ids.pairs[i]
        listed = confirmed[pair]
        if i in first_error:
            out.append((row, success if listed >= pair_rows[pair] else first_error[i]))
        elif listed:
            out.append((row, success))
        elif unaccounted:
            out.append((row, _unplaced(unplaced[0]) if unplaced else _unconfirmed(status, cid, errors)))
        elif confirmed:
            out.append((row, _unconfirmed(status, cid, errors)))
        else:
            out.append((row, success))
    return out


def _unplaced(error: Outcome) -> Outcome:
    note = " (HubSpot's batch answer did not say which input this error belongs to, nor confirm this one)"
    return Outcome(Kind.PERMANENT, error.status, error.category,
                   (error.message + note)[:_MESSAGE_LIMIT], error.correlation_id)


def _unconfirmed(status: int, cid: str, errors: list[dict[str, object]]) -> Outcome:
    why = "reported errors it did not attribute" if errors else "reported failures without details"
    return Outcome(
        Kind.PERMANENT, status, _UNCONFIRMED,
        f"HubSpot's {status} batch answer neither confirmed nor rejected this association (it {why}); "
        "recorded as failed so that a rerun sends it again", cid)


def _error_outcome(error: Mapping[str, object], cid: str) -> Outcome:
    category = _text(error, "category")
    raw = error.get("status")
    code = int(raw) if isinstance(raw, str) and raw.isdigit() else raw if isinstance(raw, int) else None
    if not (isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599):
        code = _CATEGORY_STATUS.get(category.upper(), 400)
    message = _text(error, "message") or "HubSpot rejected this input of the batch"
    context = error.get("context")
    if isinstance(context, dict) and context:
        shown = []
        for key, values in context.items():
            items = [str(v) for v in (values if isinstance(values, list) else [values])]
            more = f", … ({len(items)})" if len(items) > _CONTEXT_VALUES else ""
            shown.append(f"{key}: {', '.join(items[:_CONTEXT_VALUES])}{more}")
        message = f"{message} [{'; '.join(shown)}]"
    return Outcome(Kind.PERMANENT, code, category, message[:_MESSAGE_LIMIT], cid)


def _result_pairs(results: object) -> Counter[tuple[str, str]]:
    pairs: Counter[tuple[str, str]] = Counter()
    for item in _list(results):
        if not isinstance(item, dict):
            continue
        frm, to = item.get("fromObjectId"), item.get("toObjectId")
        if frm is None and isinstance(item.get("from"), dict):
            frm = item["from"].get("id")
        if to is None and isinstance(item.get("to"), dict):
            to = item["to"].get("id")
        f, t = norm_id(frm), norm_id(to)
        if f is not None and t is not None:
            pairs[(f, t)] += 1
    return pairs


# -------------------------------------------------------------------------------------------- parsing


def _parse(body: bytes) -> dict[str, object] | None:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""
