"""The X-HubSpot-RateLimit-* headers (bulkassoc.pacing.headers): HeaderPacer and DailyGuard."""

from __future__ import annotations

import pytest

from bulkassoc import Rate
from bulkassoc.pacing.headers import DailyGuard, HeaderPacer, header_int
from bulkassoc.pacing.limiter import RollingWindowLimiter


def test_header_pacer_remembers_a_bounded_number_of_starts() -> None:
    """Without rate headers nothing trims the start log on answers: it must stay bounded anyway."""
    pacer = HeaderPacer(RollingWindowLimiter(Rate(100, 10.0)), Rate(100, 10.0))
    for i in range(100_000):
        pacer.note_start(i * 0.001)
    assert len(pacer._starts) <= 8192
    pacer.observe({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                   "X-HubSpot-RateLimit-Remaining": "50"}, 99.999)
    assert pacer.advertised == Rate(100, 10.0)


# -------------------------------------------------------------------------------------------- header_int


@pytest.mark.parametrize(
    ("raw", "low", "high", "expected"),
    [
        ("190", 0, 10**12, 190),
        (" 190 ", 0, 10**12, 190),
        ("0", 0, 10**12, 0),
        ("0", 1, 10**12, None),  # below `low`
        ("-1", 0, 10**12, None),
        ("1000001", 1, 1_000_000, None),  # above `high`
        ("1000000", 1, 1_000_000, 1_000_000),
        ("", 0, 10**12, None),
        ("abc", 0, 10**12, None),
        ("1.5", 0, 10**12, None),
        ("1e3", 0, 10**12, None),
        ("10000 ms", 0, 10**12, None),
        (None, 0, 10**12, None),  # the header is missing
        ("1_000", 0, 10**12, None),  # what Python's int() takes, HTTP's digits do not
        ("+5", 0, 10**12, None),
        ("\u0661\u0669\u0660", 0, 10**12, None),  # Arabic-Indic digits
        ("\uff11\uff19\uff10", 0, 10**12, None),  # full-width digits
        ("1" * 40, 0, 10**12, None),  # long: never converted (a huge int() is slow)
    ],
)
def test_header_int(raw: str | None, low: int, high: int, expected: int | None) -> None:
    headers = {} if raw is None else {"X-Test": raw}
    assert header_int(headers, "X-Test", low, high) == expected


# -------------------------------------------------------------------------------------------- DailyGuard

DAILY = "X-HubSpot-RateLimit-Daily"
LEFT = "X-HubSpot-RateLimit-Daily-Remaining"


def answer(daily: str | None, left: str | None) -> dict[str, str]:
    headers = {}
    if daily is not None:
        headers[DAILY] = daily
    if left is not None:
        headers[LEFT] = left
    return headers


@pytest.mark.parametrize(
    ("answers", "daily", "remaining"),
    [
        pytest.param([], None, None, id="nothing seen"),
        pytest.param([(None, None)], None, None, id="no headers (OAuth)"),
        pytest.param([("250000", "249000")], 250_000, 249_000, id="one answer"),
        pytest.param([("abc", "x"), ("", " ")], None, None, id="garbage"),
        pytest.param([("1000", "-5")], 1000, None, id="negative remaining"),
        pytest.param([("0", "5")], None, 5, id="a zero daily limit is nonsense, the remaining count still counts"),
        pytest.param([("1000", "1001")], 1000, None, id="remaining above the daily limit is nonsense"),
        pytest.param([(" 1000 ", " 900 ")], 1000, 900, id="whitespace"),
        pytest.param([("1000", "900"), ("1000", "850")], 1000, 850, id="falls"),
        pytest.param([("1000", "850"), ("1000", "900")], 1000, 850, id="an answer that overtook keeps the lowest"),
        pytest.param([("1000", "400"), ("1000", "900")], 1000, 400, id="at most half the quota back: not a reset"),
        pytest.param([("1000", "400"), ("1000", "901")], 1000, 901, id="more than half back: the quota reset"),
        pytest.param([("1000", "10"), ("1000", "1000")], 1000, 1000, id="midnight reset to full"),
        pytest.param([(None, "10"), (None, "5000")], None, 10, id="no reset without a known daily limit"),
        pytest.param([("1000", "900"), ("2000", "1900")], 2000, 900, id="reset judged by the new limit: exactly half"),
        pytest.param([("1000", "900"), ("2000", "1901")], 2000, 1901, id="reset judged by the new limit: over half"),
        pytest.param([("1000", "900"), ("abc", "800")], 1000, 800, id="a garbage limit keeps the last good one"),
        pytest.param([("1000", "900"), ("1000", "garbage")], 1000, 900, id="garbage remaining changes nothing"),
    ],
)
def test_daily_guard_observe(answers: list[tuple[str | None, str | None]], daily: int | None,
                             remaining: int | None) -> None:
    guard = DailyGuard(None)
    for d, left in answers:
        guard.observe(answer(d, left))
    assert (guard.daily, guard.remaining) == (daily, remaining)


@pytest.mark.parametrize(
    ("reserve", "daily", "expected"),
    [
        (None, None, 0),  # nothing known: keep nothing back
        (None, "250000", 2500),  # 1% of the advertised limit
        (None, "150", 2),  # rounded up
        (None, "1", 1),
        (0, "250000", 0),  # an explicit reserve wins, even 0
        (5000, "250000", 5000),
        (5000, None, 5000),
    ],
)
def test_daily_guard_reserve(reserve: int | None, daily: str | None, expected: int) -> None:
    guard = DailyGuard(reserve)
    guard.observe(answer(daily, None))
    assert guard.reserve == expected


@pytest.mark.parametrize(
    ("reserve", "daily", "left", "in_flight", "expected"),
    [
        (100, "1000", None, 10**6, True),  # no remaining count seen: nothing to guard
        (100, "1000", "101", 0, True),  # this request leaves exactly the reserve
        (100, "1000", "100", 0, False),
        (100, "1000", "110", 9, True),  # requests in flight count as spent
        (100, "1000", "110", 10, False),
        (0, "1000", "1", 0, True),
        (0, "1000", "0", 0, False),  # nothing left at all
        (None, "250000", "2501", 0, True),  # the default 1% reserve: 2500
        (None, "250000", "2500", 0, False),
        (None, None, "1", 0, True),  # no daily limit known: reserve 0
    ],
)
def test_daily_guard_may_start(reserve: int | None, daily: str | None, left: str | None, in_flight: int,
                               expected: bool) -> None:
    guard = DailyGuard(reserve)
    guard.observe(answer(daily, left))
    assert guard.may_start(in_flight) is expected


def test_daily_guard_stops_then_resumes_after_the_reset() -> None:
    guard = DailyGuard(50)
    guard.observe(answer("1000", "60"))
    assert guard.may_start(0)
    assert not guard.may_start(10)
    guard.observe(answer("1000", "51"))
    assert guard.may_start(0) and not guard.may_start(1)
    guard.observe(answer("1000", "50"))
    assert not guard.may_start(0)
    guard.observe(answer("1000", "70"))  # a late answer from before: still stopped
    assert not guard.may_start(0)
    guard.observe(answer("1000", "999"))  # midnight in the account's time zone
    assert guard.remaining == 999
    assert guard.may_start(900) and not guard.may_start(949)
