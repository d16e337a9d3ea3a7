"""Table tests (issue 16): the timeline recorder's bins and percentiles, bounded text, the rate's source
in words, the event log's two formats."""

from __future__ import annotations

import io
import sqlite3

import orjson
import pytest

from bulkassoc.engine.events import EventLog
from bulkassoc.engine.watch import rate_source
from bulkassoc.ledger.timeline import TimelineRecorder, ensure_table, read_timeline
from bulkassoc.pacing.rate import Rate
from bulkassoc.rows.bounded import bound, bound_field


def test_a_point_per_interval_with_percentiles_and_failures() -> None:
    rec = TimelineRecorder(7, interval=10.0)
    rec.begin(100.0, 1_700_000_000.0)
    for ms in range(1, 101):  # 1..100 ms
        rec.bin.starts += 1
        rec.bin.latency(ms / 1000)
    rec.bin.succeeded, rec.bin.failed, rec.bin.throttled, rec.bin.retries = 90, 10, 2, 5
    rec.bin.failures = {"OBJECT_NOT_FOUND": 10}
    assert not rec.due(109.9) and rec.due(110.0)
    rec.roll(110.0, 1_700_000_010.0, pace=10.0, advertised=15.0)
    rec.roll(120.0, 1_700_000_020.0, pace=15.0, advertised=None)  # an empty interval is kept too
    conn = sqlite3.connect(":memory:")
    ensure_table(conn)
    rec.save(conn)
    first, second = list(read_timeline(conn))
    assert (first.run_id, first.t, first.seconds, first.starts, first.succeeded, first.failed) == (
        7, 1_700_000_000.0, 10.0, 100, 90, 10)
    assert (first.throttled, first.retries, first.pace, first.advertised) == (2, 5, 10.0, 15.0)
    assert (first.p50_ms, first.p90_ms, first.p99_ms, first.max_ms) == pytest.approx((51, 91, 100, 100))
    assert first.failures == {"OBJECT_NOT_FOUND": 10}
    assert (second.starts, second.p50_ms, second.failures, second.t) == (0, None, {}, 1_700_000_010.0)
    assert rec.closed == []


def test_latency_samples_stay_bounded() -> None:
    rec = TimelineRecorder(1)
    for i in range(100_000):
        rec.bin.latency(i / 1e6)
    assert len(rec.bin.latencies) < 4096


def test_no_timeline_table_reads_as_none() -> None:
    assert list(read_timeline(sqlite3.connect(":memory:"))) == []


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("short", 10, "short"),
    ("x" * 10, 10, "x" * 10),
    ("x" * 5000, 1000, "x" * 974 + "…[cut: 5,000 chars in all]"),
])
def test_bound(text: str, limit: int, expected: str) -> None:
    assert bound(text, limit) == expected
    assert len(bound(text, limit)) <= limit


def test_bound_field_keeps_long_values_apart() -> None:
    a, b = bound_field("9" * 10_000), bound_field("9" * 10_000 + "1")
    assert a != b and len(a) == len(b) == 256 and "chars in all, sha256 " in a
    assert bound_field("12345") == "12345"


@pytest.mark.parametrize(("chosen", "adopted", "advertised", "expected"), [
    (Rate(100, 10), Rate(100, 10), None, "--rate (HubSpot sent no X-HubSpot-RateLimit-* headers)"),
    (None, Rate(100, 10), None, "--rate auto's starting pace (HubSpot sent no X-HubSpot-RateLimit-* headers)"),
    (None, Rate(150, 10), Rate(150, 10), "X-HubSpot-RateLimit-Max/-Interval-Milliseconds: 150/10s"),
    (Rate(100, 10), Rate(100, 10), Rate(150, 10), "--rate (a ceiling; the headers advertise 150/10s)"),
    (None, Rate(90, 10), Rate(150, 10),
     "X-HubSpot-RateLimit-Max/-Interval-Milliseconds: 150/10s, less what other clients of the app use"),
])
def test_rate_source(chosen: Rate | None, adopted: Rate, advertised: Rate | None, expected: str) -> None:
    assert rate_source(chosen, adopted, advertised) == expected


def test_event_log_formats() -> None:
    text, js = io.StringIO(), io.StringIO()
    EventLog(text, "text").write("pace", "100/10s -> 150/10s (why)", old="100/10s")
    EventLog(js, "json").write("throttle", "429", wait=1.5, rate=Rate(1, 1.0))
    assert text.getvalue().endswith("Z pace: 100/10s -> 150/10s (why)\n")
    record = orjson.loads(js.getvalue())
    assert (record["event"], record["message"], record["wait"], record["rate"]) == ("throttle", "429", 1.5, "1/1s")
    with pytest.raises(ValueError, match="--log-format"):
        EventLog(io.StringIO(), "xml")  # type: ignore[arg-type]
