"""Outcome classification and backoff math: pure functions, tested by table.

A response (or a transport failure) becomes an `Outcome`; the engine acts on its `kind`.
Nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

__all__ = [
    "Kind",
    "Outcome",
    "RetryPolicy",
    "backoff_delay",
    "classify_response",
    "classify_transport_error",
    "parse_retry_after",
    "required_scope",
    "throttle_wait",
]

_MESSAGE_LIMIT = 500
DEFAULT_THROTTLE_WAIT = 10.0
LOCK_WAIT = 2.0  # HubSpot: "Locks will last for 2 seconds"
MAX_SERVER_WAIT = 900.0  # never park the whole run longer than this on one server hint


class Kind(enum.Enum):
    SUCCESS = "success"
    THROTTLED = "throttled"  # 429 other than DAILY: pause the whole pool, retry the row
    DAILY_LIMIT = "daily_limit"  # 429 DAILY: stop the run
    AUTH = "auth"  # 401/403: stop the run
    RETRY = "retry"  # 423, 477, 5xx, timeouts, connection errors
    PERMANENT = "permanent"  # other 4xx: this row failed, the run goes on


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    status: int | None = None  # HTTP status; None when no response arrived
    category: str = ""  # HubSpot's category, or TIMEOUT / CONNECTION_ERROR / RATE_LIMIT
    message: str = ""
    correlation_id: str = ""
    wait: float | None = None  # the server's advised wait before the next attempt, in seconds
    scopes: tuple[str, ...] = ()  # scopes a 403 body reported as required


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one row within one run."""

    max_attempts: int = 5
    backoff_base: float = 1.0  # seconds; HubSpot advises pausing "a few seconds" on 5xx
    backoff_cap: float = 30.0
    max_throttles: int = 50  # 429 answers per row before it is recorded as failed (they cost no attempt)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff times must be >= 0")


def backoff_delay(attempt: int, rand: float, *, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    "Equal jitter": half the exponential step is fixed, half is random, so a retry never comes
    back immediately yet a herd of workers spreads out. `rand` is in [0, 1).
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    try:
        step = min(cap, base * 2.0 ** (attempt - 1))
    except OverflowError:
        step = cap
    return step / 2 + rand * step / 2


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (HubSpot documents seconds); HTTP dates are ignored."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, MAX_SERVER_WAIT)


def throttle_wait(headers: Mapping[str, str]) -> float:
    """How long the whole pool pauses after a ten-secondly 429.

    Retry-After if sent, else the window from X-HubSpot-RateLimit-Interval-Milliseconds, else 10 s.
    """
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval is not None:
        try:
            ms = float(interval)
        except ValueError:
            ms = 0.0
        if 0 < ms <= MAX_SERVER_WAIT * 1000:
            return ms / 1000
    return DEFAULT_THROTTLE_WAIT


def _parse_body(body: bytes) -> dict[str, object]:
    if not body:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _reported_scopes(data: Mapping[str, object]) -> tuple[str, ...]:
    """Scopes a MISSING_SCOPES body names, wherever HubSpot put them."""
    found: list[str] = []
    contexts: list[object] = [data.get("context")]
    errors = data.get("errors")
    if isinstance(errors, list):
        contexts += [e.get("context") for e in errors if isinstance(e, dict)]
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for key in ("requiredScopes", "requiredGranularScopes", "missingScopes"):
            values = ctx.get(key)
            if isinstance(values, list):
                found += [v for v in values if isinstance(v, str) and v not in found]
    return tuple(found)


_SUCCESS = {status: Outcome(Kind.SUCCESS, status) for status in range(200, 300)}  # immutable: shared


def classify_response(status: int, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """Turn one HTTP answer into an Outcome, following the contract's outcome classes."""
    if 200 <= status < 300:
        return _SUCCESS[status]
    data = _parse_body(body)
    message = _text(data, "message")[:_MESSAGE_LIMIT] or f"HTTP {status}"
    category = _text(data, "category")
    correlation_id = _text(data, "correlationId") or headers.get("X-HubSpot-Correlation-Id", "")

    def outcome(kind: Kind, cat: str, wait: float | None = None, scopes: tuple[str, ...] = ()) -> Outcome:
        return Outcome(kind, status, cat, message, correlation_id, wait, scopes)

    if status == 429:
        category = category or _text(data, "errorType") or "RATE_LIMIT"
        if _text(data, "policyName").upper() == "DAILY":
            return outcome(Kind.DAILY_LIMIT, category)
        return outcome(Kind.THROTTLED, category, throttle_wait(headers))
    if status in (401, 403):
        return outcome(Kind.AUTH, category, scopes=_reported_scopes(data))
    if status == 423:
        return outcome(Kind.RETRY, category or "LOCKED", LOCK_WAIT)
    if status == 477:
        return outcome(Kind.RETRY, category or "MIGRATION_IN_PROGRESS", parse_retry_after(headers.get("Retry-After")))
    if status >= 500:
        return outcome(Kind.RETRY, category)
    return outcome(Kind.PERMANENT, category)


def classify_transport_error(category: str, message: str) -> Outcome:
    """A request that got no HTTP answer (timeout, refused, reset) is retryable."""
    return Outcome(Kind.RETRY, None, category, message[:_MESSAGE_LIMIT])


@functools.lru_cache(maxsize=256)
def required_scope(object_type: str) -> str:
    """The write scope HubSpot wants for associations from `object_type`.

    partner_services → crm.objects.partner-services.write (docs/hubspot-api.md §7).
    """
    return f"crm.objects.{object_type.lower().replace('_', '-')}.write"
