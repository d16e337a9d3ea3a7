"""settle_batch: per-row truth from batch create answers, table by table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkassoc.hubspot.batch_answers import MAX_SPLIT_DEPTH, BatchVerdict, halves, settle_batch, split_depth
from bulkassoc.hubspot.outcomes import Kind, Outcome
from bulkassoc.rows.reader import Row

CID = "c0ffee00-0000-4000-8000-000000000001"
HEADERS = {"X-HubSpot-Correlation-Id": CID}


def make_rows(n: int, *, from_id: str | None = None) -> list[Row]:
    """n contact → company rows with distinct IDs (or one shared fromId)."""
    return [Row("contacts", from_id or str(38374260000 + i), "companies", str(21678220000 + i), "279", i + 2)
            for i in range(n)]


ROWS = make_rows(100)
BAD = (ROWS[3], ROWS[41], ROWS[99])


def pair(r: Row) -> dict[str, Any]:
    return {"fromObjectTypeId": "0-1", "fromObjectId": r.from_id, "toObjectTypeId": "0-2",
            "toObjectId": r.to_id, "labels": []}


def invalid(object_id: str, label: str = "COMPANY") -> dict[str, Any]:
    """A per-input StandardError shaped like HubSpot's observed INVALID_OBJECT_IDS body."""
    text = f"{label}={object_id} is not valid"
    return {"status": "error", "category": "VALIDATION_ERROR", "message": text,
            "context": {"INVALID_OBJECT_IDS": [text], "objectId": [object_id], "objectType": [label]},
            "errors": [], "links": {}}


def answer(results: Sequence[Row] = (), errors: Sequence[dict[str, Any]] = (), **extra: Any) -> bytes:
    body: dict[str, Any] = {"status": "COMPLETE", "results": [pair(r) for r in results],
                            "startedAt": "2026-09-01T00:00:00.000Z", "completedAt": "2026-09-01T00:00:00.100Z"}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = list(errors)
    body.update(extra)
    return orjson.dumps(body)


def good(rows: Sequence[Row] = ROWS, bad: Sequence[Row] = BAD) -> list[Row]:
    return [r for r in rows if r not in bad]


def failed(verdict: BatchVerdict) -> dict[Row, Outcome]:
    return {r: o for r, o in verdict.per_row if o.kind is Kind.PERMANENT}


def succeeded(verdict: BatchVerdict) -> list[Row]:
    return [r for r, o in verdict.per_row if o.kind is Kind.SUCCESS]


def assert_covers(verdict: BatchVerdict, rows: Sequence[Row]) -> None:
    """per_row + resend hold every row exactly once; no whole/split alongside."""
    assert verdict.whole is None and not verdict.split and verdict.cause is None
    settled = [r for r, _ in verdict.per_row]
    assert sorted(settled + verdict.resend, key=rows.index) == list(rows)
    assert {o.kind for _, o in verdict.per_row} <= {Kind.SUCCESS, Kind.PERMANENT}


# ------------------------------------------------------------------------------------ 2xx, per-row table


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    body: bytes
    rows: Sequence[Row]
    failed: Sequence[Row]  # exactly these rows PERMANENT, the rest SUCCESS
    check: Callable[[dict[Row, Outcome]], None] | None = None


def _three_bad_messages(out: dict[Row, Outcome]) -> None:
    for r, o in out.items():
        assert (o.status, o.category, o.correlation_id) == (400, "VALIDATION_ERROR", CID)
        assert o.message.startswith(f"COMPANY={r.to_id} is not valid [INVALID_OBJECT_IDS: COMPANY={r.to_id}")


def _unplaced(out: dict[Row, Outcome]) -> None:
    for o in out.values():
        assert o.category == "VALIDATION_ERROR"
        assert "did not say which input this error belongs to" in o.message


def _unconfirmed(out: dict[Row, Outcome]) -> None:
    for o in out.values():
        assert (o.status, o.category) == (207, "UNCONFIRMED")
        assert "neither confirmed nor rejected" in o.message


def _not_found(out: dict[Row, Outcome]) -> None:
    assert [(o.status, o.category) for o in out.values()] == [(404, "OBJECT_NOT_FOUND")]


SHARED = make_rows(100, from_id="38374264688")
TRACE_ONLY = {"status": "error", "category": "VALIDATION_ERROR", "message": "Something went wrong",
              "context": {"objectWriteTraceId": ["549b1c2a9351"]}, "errors": [], "links": {}}

CASES = [
    Case("201 with every result", 201, answer(ROWS), ROWS, []),
    Case("200 with every result (201 → 200 drift)", 200, answer(ROWS), ROWS, []),
    Case("201 with an empty body", 201, b"", ROWS, []),
    Case("200 with a garbage body", 200, b"<html>oops</html>", ROWS, []),
    Case("201 with a JSON array body", 201, b"[1, 2]", ROWS, []),
    Case("201 with results missing", 201, b'{"status":"COMPLETE"}', ROWS, []),
    Case("207: 3 bad among 100, one error each", 207, answer(good(), [invalid(r.to_id) for r in BAD]), ROWS, BAD,
         _three_bad_messages),
    Case("207: 3 bad among 100, errors only (results empty)", 207, answer((), [invalid(r.to_id) for r in BAD]), ROWS,
         BAD, _three_bad_messages),
    Case("207: one grouped error naming all 3", 207,
         answer(good(), [{"status": "error", "category": "VALIDATION_ERROR", "message": "One or more are invalid",
                          "context": {"INVALID_OBJECT_IDS": [f"COMPANY={r.to_id} is not valid" for r in BAD]}}]),
         ROWS, BAD),
    Case("207: IDs only in the message", 207,
         answer(good(), [{"status": "error", "category": "VALIDATION_ERROR",
                          "message": f"Objects {BAD[0].to_id}, {BAD[1].from_id} and {BAD[2].to_id} were not found."}]),
         ROWS, BAD),
    Case("207: an error naming a shared fromId fails only the unconfirmed row", 207,
         answer(SHARED[1:], [invalid(SHARED[0].from_id, "CONTACT")]), SHARED, [SHARED[0]]),
    Case("207: unmappable error, results list the others", 207, answer(ROWS[:98], [TRACE_ONLY]), ROWS, ROWS[98:],
         _unplaced),
    Case("207: unmappable error, no results: all fail", 207, answer((), [TRACE_ONLY]), ROWS[:5], ROWS[:5], _unplaced),
    Case("207: numErrors above the errors listed", 207,
         answer(good(), [invalid(BAD[0].to_id)], numErrors=3), ROWS, BAD),
    Case("207: no errors at all, one row not in results", 207, answer(ROWS[1:]), ROWS, ROWS[:1], _unconfirmed),
    Case("207: every error placed, one other row missing from results", 207,
         answer(ROWS[2:], [invalid(ROWS[0].to_id)]), ROWS, ROWS[:2]),
    Case("207: no errors, no results", 207, answer(), ROWS[:3], ROWS[:3], _unconfirmed),
    Case("200 with errors (2026-09 shape)", 200, answer(good(), [invalid(r.to_id) for r in BAD]), ROWS, BAD),
    Case("200 with numErrors but no error list", 200, answer(ROWS[:99], numErrors=1), ROWS, ROWS[99:]),
    Case("201 CANCELED: only listed rows succeeded", 201, answer(ROWS[:50], status="CANCELED"), ROWS, ROWS[50:]),
    Case("207: error status and category kept", 207,
         answer(ROWS[1:3], [{"status": "404", "category": "OBJECT_NOT_FOUND",
                              "message": f"CONTACT={ROWS[0].from_id} does not exist",
                              "context": {"fromObjectId": [ROWS[0].from_id]}}]), ROWS[:3], ROWS[:1], _not_found),
    Case("207: OBJECT_NOT_FOUND without a numeric status is a 404", 207,
         answer(ROWS[1:3], [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone",
                              "context": {"objectId": [ROWS[0].to_id]}}]), ROWS[:3], ROWS[:1], _not_found),
    Case("207: detail `in` names the input index", 207,
         answer(ROWS[:3] + ROWS[4:6], [{"status": "error", "category": "VALIDATION_ERROR", "message": "bad input",
                                        "errors": [{"message": "not valid", "in": "inputs[3].to.id"}]}]),
         ROWS[:6], ROWS[3:4]),
    Case("207: IDs in ErrorDetail context", 207,
         answer(ROWS[1:4], [{"status": "error", "category": "VALIDATION_ERROR", "message": "bad",
                              "errors": [{"message": "x", "context": {"ids": [ROWS[0].to_id]}}]}]),
         ROWS[:4], ROWS[:1]),
    Case("207: results with numeric IDs and from/to objects", 207,
         orjson.dumps({"status": "COMPLETE", "results": [
             {"fromObjectId": int(ROWS[0].from_id), "toObjectId": int(ROWS[0].to_id)},
             {"from": {"id": ROWS[1].from_id}, "to": {"id": ROWS[1].to_id}}],
             "errors": [invalid(ROWS[2].to_id)]}), ROWS[:3], ROWS[2:3]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_2xx_table(case: Case) -> None:
    verdict = settle_batch(case.status, case.body, HEADERS, case.rows)
    assert_covers(verdict, case.rows)
    assert verdict.resend == []
    out = failed(verdict)
    assert list(out) == list(case.failed)
    assert succeeded(verdict) == [r for r in case.rows if r not in case.failed]
    assert all(o.status == case.status for r, o in verdict.per_row if o.kind is Kind.SUCCESS)
    if case.check is not None:
        case.check(out)


def test_three_bad_among_100_exactly() -> None:
    """The issue's 'must show': exactly those 3 failed, 97 succeeded."""
    verdict = settle_batch(207, answer(good(), [invalid(r.to_id) for r in BAD]), HEADERS, ROWS)
    assert list(failed(verdict)) == list(BAD)
    assert len(succeeded(verdict)) == 97


def test_side_keys_restrict_matching() -> None:
    # Row 0's toId equals row 1's fromId; `fromObjectId` may only mean a fromId.
    rows = [Row("contacts", "11", "companies", "22", "279", 2), Row("contacts", "22", "companies", "33", "279", 3)]
    err = {"status": "error", "category": "VALIDATION_ERROR", "message": "x", "context": {"fromObjectId": ["22"]}}
    assert list(failed(settle_batch(207, answer((), [err]), HEADERS, rows))) == [rows[1]]
    err["context"] = {"toObjectId": ["22"]}
    assert list(failed(settle_batch(207, answer((), [err]), HEADERS, rows))) == [rows[0]]
    err["context"] = {"objectId": ["22"]}  # either side: both rows
    assert list(failed(settle_batch(207, answer((), [err]), HEADERS, rows))) == rows


def test_type_ids_and_trace_ids_are_not_record_ids() -> None:
    rows = [Row("contacts", "279", "companies", "549", "279", 2), Row("contacts", "5", "companies", "6", "279", 3)]
    err = {"status": "error", "category": "VALIDATION_ERROR", "message": "type 0-1 ratio 2.79 is wrong",
           "context": {"associationTypeId": ["279"], "objectWriteTraceId": ["549"], "objectId": ["6"]}}
    assert list(failed(settle_batch(207, answer(rows[:1], [err]), HEADERS, rows))) == [rows[1]]


def test_leading_zeros_compare_equal() -> None:
    rows = [Row("contacts", "0012", "companies", "0034", "279", 2), Row("contacts", "56", "companies", "78", "279", 3)]
    verdict = settle_batch(207, answer((), [invalid("34")]), HEADERS, rows)
    assert list(failed(verdict)) == [rows[0]]
    confirmed = orjson.dumps({"results": [{"fromObjectId": "12", "toObjectId": "34"}], "errors": [invalid("78")]})
    assert list(failed(settle_batch(207, confirmed, HEADERS, rows))) == [rows[1]]


def test_same_pair_twice_needs_two_confirmations() -> None:
    """Two types for one pair, one rejected: results list the pair once, so both stay in doubt and fail."""
    rows = [Row("contacts", "1", "companies", "2", "279", 2), Row("contacts", "1", "companies", "2", "999", 3),
            Row("contacts", "1", "companies", "7", "279", 4)]
    verdict = settle_batch(207, answer([rows[0], rows[2]], [invalid("2")]), HEADERS, rows)
    assert list(failed(verdict)) == rows[:2]
    assert succeeded(verdict) == rows[2:]


def test_207_with_an_unreadable_body_is_a_whole_retry() -> None:
    for body in (b"", b"not json", b"[]", b'"x"'):
        verdict = settle_batch(207, body, HEADERS, ROWS)
        assert verdict.whole is not None and verdict.per_row == [] and not verdict.split
        assert (verdict.whole.kind, verdict.whole.status, verdict.whole.correlation_id) == (Kind.RETRY, 207, CID)


def test_odd_shapes_inside_a_207_do_not_crash() -> None:
    body = orjson.dumps({"results": [None, 3, {"fromObjectId": True, "toObjectId": []}, {"from": "x"}],
                         "errors": ["x", None, {"context": "not a dict", "message": 5, "status": True},
                                    {"context": {"objectId": [None, 1.5, {"a": 1}, ROWS[0].to_id]}}],
                         "numErrors": "2"})
    verdict = settle_batch(207, body, HEADERS, ROWS[:3])
    assert_covers(verdict, ROWS[:3])
    assert list(failed(verdict)) == ROWS[:3]  # an unplaceable error and no confirmations: all in doubt
    assert failed(verdict)[ROWS[0]].status == 400


def test_messages_are_bounded() -> None:
    err = {"status": "error", "category": "VALIDATION_ERROR", "message": "m" * 2000,
           "context": {"objectId": [ROWS[0].to_id] + [str(n) for n in range(100)]}}
    out = failed(settle_batch(207, answer(ROWS[1:3], [err]), HEADERS, ROWS[:3]))
    assert len(out[ROWS[0]].message) == 500


# ------------------------------------------------------------------------------------------- non-2xx


def body(**fields: Any) -> bytes:
    return orjson.dumps({"status": "error", "correlationId": CID, **fields})


@pytest.mark.parametrize(("status", "payload", "headers", "kind", "wait"), [
    (429, body(message="You have reached your ten_secondly_rolling limit.", errorType="RATE_LIMIT",
               policyName="TEN_SECONDLY_ROLLING"), {"Retry-After": "3"}, Kind.THROTTLED, 3.0),
    (429, body(message="x", errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING"),
     {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, Kind.THROTTLED, 10.0),
    (429, body(message="You have reached your daily limit.", errorType="RATE_LIMIT", policyName="DAILY"), {},
     Kind.DAILY_LIMIT, None),
    (401, body(message="Authentication credentials not found.", category="INVALID_AUTHENTICATION"), {}, Kind.AUTH,
     None),
    (403, body(message="scopes", category="MISSING_SCOPES",
               errors=[{"message": "m", "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]}}]), {},
     Kind.AUTH, None),
    (500, body(message="internal error"), {}, Kind.RETRY, None),
    (502, b"<html>bad gateway</html>", {}, Kind.RETRY, None),
    (503, b"", {}, Kind.RETRY, None),
    (504, body(message="Gateway Timeout", category="GATEWAY_TIMEOUT"), {}, Kind.RETRY, None),
    (423, body(message="locked", category="LOCKED"), {}, Kind.RETRY, 2.0),
    (477, body(message="migrating"), {"Retry-After": "60"}, Kind.RETRY, 60.0),
])
def test_whole_request_outcomes(status: int, payload: bytes, headers: dict[str, str], kind: Kind,
                                wait: float | None) -> None:
    for rows in (ROWS, ROWS[:1]):
        verdict = settle_batch(status, payload, headers, rows)
        assert verdict.whole is not None and verdict.per_row == [] and verdict.resend == [] and not verdict.split
        assert (verdict.whole.kind, verdict.whole.status, verdict.whole.wait) == (kind, status, wait)
    if status == 403:
        assert verdict.whole is not None and verdict.whole.scopes == ("crm.objects.contacts.write",)


@pytest.mark.parametrize(("status", "payload"), [
    (400, body(message="Invalid input JSON on line 1, column 3", category="VALIDATION_ERROR")),
    (400, b""),
    (400, b"<html>"),
    (413, b"Request Entity Too Large"),
    (422, body(message="Unprocessable", category="VALIDATION_ERROR")),
])
def test_whole_4xx_naming_no_row_splits(status: int, payload: bytes) -> None:
    verdict = settle_batch(status, payload, HEADERS, ROWS)
    assert verdict.split and verdict.whole is None and verdict.per_row == [] and verdict.resend == []
    assert verdict.cause is not None and (verdict.cause.kind, verdict.cause.status) == (Kind.PERMANENT, status)


def test_400_on_a_one_row_batch_is_that_rows_failure() -> None:
    payload = body(message="One or more associations are invalid", category="VALIDATION_ERROR",
                   context={"INVALID_OBJECT_IDS": ["CONTACT=38374264688 is not valid"]})
    verdict = settle_batch(400, payload, HEADERS, ROWS[:1])
    assert not verdict.split and verdict.resend == []
    [(r, o)] = verdict.per_row
    assert r == ROWS[0]
    assert (o.kind, o.status, o.category, o.correlation_id) == (Kind.PERMANENT, 400, "VALIDATION_ERROR", CID)
    assert o.message == "One or more associations are invalid"


def test_whole_400_naming_rows_fails_them_and_resends_the_rest() -> None:
    payload = body(message="One or more associations are invalid", category="VALIDATION_ERROR",
                   context={"INVALID_OBJECT_IDS": [f"COMPANY={ROWS[7].to_id} is not valid"],
                            "objectId": [ROWS[7].to_id], "objectType": ["COMPANY"]})
    verdict = settle_batch(400, payload, HEADERS, ROWS)
    assert_covers(verdict, ROWS)
    assert [(r, o.status) for r, o in verdict.per_row] == [(ROWS[7], 400)]
    assert verdict.resend == ROWS[:7] + ROWS[8:]


def test_whole_400_message_numbers_are_not_ids_but_labelled_ids_are() -> None:
    rows = [Row("contacts", "1", "companies", "3", "279", 2), Row("contacts", "2000", "companies", "4", "279", 3),
            Row("contacts", "5", "companies", "6", "279", 4)]
    plain = body(message="Invalid input JSON on line 1, column 3; at most 2000 inputs", category="VALIDATION_ERROR")
    assert settle_batch(400, plain, {}, rows).split
    labelled = body(message="COMPANY=6 is not valid", category="VALIDATION_ERROR")
    verdict = settle_batch(400, labelled, {}, rows)
    assert [r for r, _ in verdict.per_row] == rows[2:] and verdict.resend == rows[:2]


def test_whole_4xx_naming_every_row_fails_them_all() -> None:
    payload = body(message=f"CONTACT={SHARED[0].from_id} does not exist", category="OBJECT_NOT_FOUND")
    verdict = settle_batch(404, payload, HEADERS, SHARED[:10])
    assert_covers(verdict, SHARED[:10])
    assert verdict.resend == [] and len(failed(verdict)) == 10


@pytest.mark.parametrize("status", [404, 405, 409, 415])
def test_other_whole_4xx_naming_no_row_fails_every_row(status: int) -> None:
    verdict = settle_batch(status, body(message="Unable to infer object type from: foo", category="X"), {}, ROWS[:4])
    assert_covers(verdict, ROWS[:4])
    assert [(o.kind, o.status, o.category) for _, o in verdict.per_row] == [(Kind.PERMANENT, status, "X")] * 4


def test_empty_batch() -> None:
    assert settle_batch(201, b"", {}, []) == BatchVerdict()
    assert settle_batch(400, b"", {}, []) == BatchVerdict()


# ----------------------------------------------------------------------------------- split helpers


def test_halves_and_depth() -> None:
    assert halves(ROWS[:5]) == (ROWS[:3], ROWS[3:5])
    assert halves(ROWS[:2]) == ([ROWS[0]], [ROWS[1]])
    assert halves(ROWS[:1]) == ([ROWS[0]], [])
    assert [split_depth(n) for n in (1, 2, 3, 4, 100, 2000)] == [0, 1, 2, 2, 7, 11]
    assert split_depth(2000) == MAX_SPLIT_DEPTH


def test_split_recursion_isolates_the_bad_rows() -> None:
    """Drive the documented recursion against an all-or-nothing 400 server: only bad rows fail, 2·bad·depth
    requests at most."""
    bad = {ROWS[5], ROWS[60]}
    requests = 0
    settled: dict[Row, Kind] = {}

    def send(batch: list[Row], depth: int) -> None:
        nonlocal requests
        requests += 1
        status, payload = (400, body(message="invalid input", category="VALIDATION_ERROR")) if bad & set(batch) \
            else (201, answer(batch))
        verdict = settle_batch(status, payload, {}, batch)
        if verdict.split:
            assert depth < MAX_SPLIT_DEPTH
            for half in halves(batch):
                send(half, depth + 1)
            return
        settled.update((r, o.kind) for r, o in verdict.per_row)

    send(list(ROWS), 0)
    assert [r for r, k in settled.items() if k is Kind.PERMANENT] == [ROWS[5], ROWS[60]]
    assert len(settled) == 100
    assert requests <= 1 + 2 * len(bad) * split_depth(100)


# ------------------------------------------------------------------------------------------ property


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 39)), st.sets(st.integers(0, 39)), st.booleans(), st.booleans())
def test_exact_with_fake_shaped_answers(bad: set[int], shared_from: set[int], grouped: bool, as_200: bool) -> None:
    """HubSpot-shaped answers (results for every good row, errors naming each bad row's toId) settle
    exactly, even when rows share a fromId, whatever the grouping of errors."""
    rows = [Row("contacts", "7" if i in shared_from else str(1000 + i), "companies", str(5000 + i), "279", i + 2)
            for i in range(40)]
    bad_rows = [rows[i] for i in sorted(bad)]
    if grouped and bad_rows:
        errors = [{"status": "error", "category": "VALIDATION_ERROR", "message": "One or more are invalid",
                   "context": {"INVALID_OBJECT_IDS": [f"COMPANY={r.to_id} is not valid" for r in bad_rows]}}]
    else:
        errors = [invalid(r.to_id) for r in bad_rows]
    status = 200 if as_200 else (207 if bad_rows else 201)
    verdict = settle_batch(status, answer(good(rows, bad_rows), errors), {}, rows)
    assert_covers(verdict, rows)
    assert list(failed(verdict)) == bad_rows


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.sets(st.integers(0, 29)), st.sets(st.integers(0, 29)), st.integers(0, 3))
def test_never_a_success_without_evidence(n: int, listed: set[int], named: set[int], extra_errors: int) -> None:
    """A row is SUCCESS only if results list it, or no results are listed and every error is placed."""
    rows = make_rows(n)
    results = [rows[i] for i in sorted(listed) if i < n]
    errors = [invalid(rows[i].to_id) for i in sorted(named) if i < n] + [TRACE_ONLY] * extra_errors
    verdict = settle_batch(207, answer(results, errors), {}, rows)
    assert_covers(verdict, rows)
    for r in succeeded(verdict):
        assert r in results or (not results and not extra_errors and errors)
