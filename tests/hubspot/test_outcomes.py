"""Outcome classification and backoff math, by table."""

from __future__ import annotations

import orjson
import pytest

from bulkassoc import RetryPolicy
from bulkassoc.hubspot.outcomes import (
    Kind,
    backoff_delay,
    classify_response,
    classify_transport_error,
    parse_retry_after,
    required_scope,
    throttle_wait,
)

DAILY = orjson.dumps({"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
                      "correlationId": "c0", "policyName": "DAILY"})
ROLLING = orjson.dumps({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT", "correlationId": "c1", "policyName": "TEN_SECONDLY_ROLLING"})
NOT_FOUND = orjson.dumps({"status": "error", "message": "Object not found", "category": "OBJECT_NOT_FOUND",
                          "correlationId": "c2"})
SCOPES = orjson.dumps({"status": "error", "message": "missing scopes", "category": "MISSING_SCOPES",
                       "correlationId": "c3",
                       "errors": [{"message": "x",
                                   "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]}}]})


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "category"),
    [
        (200, b"{}", {}, Kind.SUCCESS, ""),
        (201, b"", {}, Kind.SUCCESS, ""),
        (204, b"", {}, Kind.SUCCESS, ""),
        (429, DAILY, {}, Kind.DAILY_LIMIT, "RATE_LIMIT"),
        (429, ROLLING, {}, Kind.THROTTLED, "RATE_LIMIT"),
        (429, b"not json", {}, Kind.THROTTLED, "RATE_LIMIT"),
        (429, b"", {}, Kind.THROTTLED, "RATE_LIMIT"),
        (401, b'{"category":"INVALID_AUTHENTICATION","message":"bad"}', {}, Kind.AUTH, "INVALID_AUTHENTICATION"),
        (403, SCOPES, {}, Kind.AUTH, "MISSING_SCOPES"),
        (423, b"", {}, Kind.RETRY, "LOCKED"),
        (477, b"", {"Retry-After": "7"}, Kind.RETRY, "MIGRATION_IN_PROGRESS"),
        (500, b'{"status":"error","message":"internal error"}', {}, Kind.RETRY, ""),
        (502, b"<html>bad gateway</html>", {}, Kind.RETRY, ""),
        (503, b"", {}, Kind.RETRY, ""),
        (504, b"", {}, Kind.RETRY, ""),
        (400, b'{"category":"VALIDATION_ERROR","message":"One or more associations are invalid"}', {},
         Kind.PERMANENT, "VALIDATION_ERROR"),
        (404, NOT_FOUND, {}, Kind.PERMANENT, "OBJECT_NOT_FOUND"),
        (409, b"[1,2]", {}, Kind.PERMANENT, ""),
        (422, b"", {}, Kind.PERMANENT, ""),
    ],
)
def test_classify(status: int, body: bytes, headers: dict[str, str], kind: Kind, category: str) -> None:
    outcome = classify_response(status, body, headers)
    assert outcome.kind is kind
    assert outcome.status == status
    assert outcome.category == category


def test_failure_keeps_hubspot_fields() -> None:
    outcome = classify_response(404, NOT_FOUND, {})
    assert (outcome.message, outcome.correlation_id) == ("Object not found", "c2")
    # correlation id from the header when the body has none
    assert classify_response(500, b"", {"X-HubSpot-Correlation-Id": "h1"}).correlation_id == "h1"
    assert classify_response(500, b"", {}).message == "HTTP 500"


def test_scopes_reported() -> None:
    assert classify_response(403, SCOPES, {}).scopes == ("crm.objects.contacts.write",)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({}, 10.0),
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "1.5", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 1.5),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "1000"}, 1.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "garbage"}, 10.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "-5"}, 10.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 10.0),
        ({"Retry-After": "99999"}, 900.0),
    ],
)
def test_throttle_wait(headers: dict[str, str], wait: float) -> None:
    assert throttle_wait(headers) == wait
    assert classify_response(429, ROLLING, headers).wait == wait


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), ("", None), ("5", 5.0), (" 2 ", 2.0), ("-1", None), ("nan", None), ("x", None)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_lock_and_migration_waits() -> None:
    assert classify_response(423, b"", {}).wait == 2.0
    assert classify_response(477, b"", {"Retry-After": "30"}).wait == 30.0


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 0.999, 0.9995),
        (2, 0.0, 1.0),
        (3, 0.5, 3.0),
        (4, 1.0, 8.0),
        (6, 0.0, 15.0),  # capped: step 30 -> [15, 30]
        (60, 0.0, 15.0),
        (5000, 1.0, 30.0),  # no OverflowError
    ],
)
def test_backoff_table(attempt: int, rand: float, expected: float) -> None:
    assert backoff_delay(attempt, rand, base=1.0, cap=30.0) == pytest.approx(expected)


def test_backoff_bounds_and_growth() -> None:
    for attempt in range(1, 12):
        step = min(30.0, 2.0 ** (attempt - 1))
        low = backoff_delay(attempt, 0.0, base=1.0, cap=30.0)
        high = backoff_delay(attempt, 0.9999, base=1.0, cap=30.0)
        assert step / 2 == low <= high < step + 1e-9
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, 0.5, base=1, cap=1)


def test_transport_error() -> None:
    outcome = classify_transport_error("TIMEOUT", "no answer")
    assert (outcome.kind, outcome.status, outcome.category) == (Kind.RETRY, None, "TIMEOUT")


@pytest.mark.parametrize(
    ("object_type", "scope"),
    [
        ("partner_services", "crm.objects.partner-services.write"),
        ("partner_clients", "crm.objects.partner-clients.write"),
        ("contacts", "crm.objects.contacts.write"),
    ],
)
def test_required_scope(object_type: str, scope: str) -> None:
    assert required_scope(object_type) == scope


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max attempts"):
        RetryPolicy(max_attempts=0)
