"""The engine end to end through the library API, against servers on 127.0.0.1."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web

from bulkassoc import Rate, RetryPolicy, RunConfig, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from .._support import TOKEN, Reply, ScriptedServer, simple_rows, write_csv, write_jsonl

FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)
FAST_RATE = Rate(10_000, 1.0)


def config(tmp_path: Path, url: str, source: str | Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "input": source, "from_type": "partner_services", "base_url": url, "token": TOKEN,
        "rate": FAST_RATE, "retry": FAST, "ledger": tmp_path / "ledger.sqlite",
    }
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


def ledger_statuses(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM assoc GROUP BY status").fetchall())


async def test_csv_happy_path_then_resume_skips_everything(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(120))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        first = await run_async(config(tmp_path, fake.url, src))
        assert (first.rows, first.succeeded, first.failed, first.exit_code) == (120, 120, 0, 0)
        assert first.requests == 120 and fake.stats.puts == 120
        assert len(fake.associations()) == 120
        second = await run_async(config(tmp_path, fake.url, src))
        assert (second.already_done, second.requests, second.exit_code) == (120, 0, 0)
        assert fake.stats.puts == 120  # nothing was sent again
    assert ledger_statuses(tmp_path / "ledger.sqlite") == {"succeeded": 120}


async def test_jsonl_per_row_from_type_and_stdin(tmp_path: Path) -> None:
    objs = [{"fromType": "partner_clients", "fromId": 10 + i, "toType": "companies", "toId": str(90 + i), "type": 7}
            for i in range(20)]
    src = write_jsonl(tmp_path / "links.jsonl", objs)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        summary = await run_async(config(tmp_path, fake.url, src, from_type=None))
        assert summary.succeeded == 20
        assert ("partner_clients", "10", "companies", "90", "7") in fake.associations()
        piped = await run_async(config(tmp_path, fake.url, "-", format="csv", ledger=tmp_path / "stdin.sqlite",
                                       stdin=io.BytesIO(b"fromId,toType,toId,type\r\n1,contacts,2,1\r\n")))
        assert (piped.rows, piped.succeeded) == (1, 1)
        assert ("partner_services", "1", "contacts", "2", "1") in fake.associations()


async def test_duplicates_and_invalid_rows(tmp_path: Path) -> None:
    rows = [*simple_rows(5), simple_rows(1)[0], ["abc", "contacts", "1", "1"], ["1", "contacts", "-2", "1"]]
    src = write_csv(tmp_path / "links.csv", rows)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
        assert (s.rows, s.succeeded, s.duplicates, s.invalid, s.exit_code) == (8, 5, 1, 2, 1)
        assert fake.stats.puts == 5
        again = await run_async(config(tmp_path, fake.url, src))
        assert (again.already_done, again.duplicates, again.invalid, again.requests) == (5, 1, 2, 0)
    statuses = ledger_statuses(tmp_path / "ledger.sqlite")
    assert statuses == {"succeeded": 5, "invalid": 2}


async def test_permanent_failures_recorded_and_run_goes_on(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(10))
    known = {"partner_services": frozenset(str(1000 + i) for i in range(10) if i != 3),
             "contacts": frozenset(str(500000 + i) for i in range(10))}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
    assert (s.succeeded, s.failed, s.exit_code, s.requests) == (9, 1, 1, 10)  # 404 is not retried
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        row = conn.execute("SELECT from_id, http_status, category, message, correlation_id, line "
                           "FROM assoc WHERE status = 'failed'").fetchone()
    assert row[0] == "1003" and row[1] == 404 and row[2] == "OBJECT_NOT_FOUND" and row[4] and row[5] == 5


@pytest.mark.parametrize(("status", "reason"), [(401, "auth"), (403, "auth")])
async def test_auth_failure_stops_within_concurrency(tmp_path: Path, status: int, reason: str) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(200))

    def script(n: int, request: web.Request) -> Reply:
        if request.method == "GET":
            return Reply(200, {"portalId": 1})
        return Reply(status, {"status": "error", "message": "no", "category": "MISSING_SCOPES",
                              "correlationId": "x"})

    async with ScriptedServer(script) as server:
        s = await run_async(config(tmp_path, server.url, src, concurrency=4))
    assert s.aborted == reason and s.exit_code == 3
    assert 1 <= len(server.puts()) <= 4
    assert s.succeeded == 0 and s.failed == 0 and s.pending == s.rows - s.invalid - s.duplicates
    if status == 403:
        assert "crm.objects.partner-services.write" in s.message


async def test_bad_token_stops_at_preflight(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(50))
    async with FakeHubSpot(FakeConfig(rate=None, token="the-right-one")) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
        assert (s.aborted, s.exit_code, s.requests, fake.stats.puts) == ("auth", 3, 0, 0)
        assert TOKEN not in s.message and "HUBSPOT_ACCESS_TOKEN" in s.message


async def test_daily_limit_stops_then_resume_sends_only_the_rest(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(60))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, daily=25)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, concurrency=4))
        assert (s.aborted, s.exit_code) == ("daily_limit", 3)
        assert s.requests <= 24 + 4  # the budget (one went to preflight) plus at most one per worker
        assert fake.stats.daily_throttled <= 4
        done_first = s.succeeded
        assert done_first == len(fake.associations())
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fresh:
        s2 = await run_async(config(tmp_path, fresh.url, src))
        assert s2.exit_code == 0 and s2.already_done == done_first
        assert fresh.stats.puts == 60 - done_first  # only the remainder


async def test_retryable_errors_are_retried_then_recorded(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(3))
    calls: dict[str, int] = {}

    def script(n: int, request: web.Request) -> Reply:
        if request.method == "GET":
            return Reply(404, {})
        k = request.path
        calls[k] = calls.get(k, 0) + 1
        from_id = request.match_info["tail"].split("/")[4]
        if from_id == "1000":  # recovers after two failures of different kinds
            return [Reply(503, {}), Reply(drop=True), Reply(200)][min(calls[k] - 1, 2)]
        if from_id == "1001":  # always failing
            return Reply(502, b"bad gateway")
        return [Reply(423, {}), Reply(200)][min(calls[k] - 1, 1)]

    async with ScriptedServer(script) as server:
        s = await run_async(config(tmp_path, server.url, src, concurrency=1))
    assert (s.succeeded, s.failed, s.exit_code) == (2, 1, 1)
    assert sorted(calls.values()) == [2, 3, 4]  # 1001 used all 4 attempts
    assert s.retries == 1 + 2 + 3
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        assert conn.execute("SELECT http_status, attempts FROM assoc WHERE status = 'failed'").fetchone() == (502, 4)


async def test_throttle_pauses_the_whole_pool(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(40))
    throttled_at: list[float] = []

    def script(n: int, request: web.Request) -> Reply:
        if request.method == "GET":
            return Reply(200, {"portalId": 1})
        if n == 5:
            throttled_at.append(len(throttled_at))
            return Reply(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                               "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
                               "correlationId": "c"}, {"Retry-After": "0.4"})
        return Reply(200)

    async with ScriptedServer(script) as server:
        s = await run_async(config(tmp_path, server.url, src, concurrency=8))
    assert (s.succeeded, s.failed, s.throttled) == (40, 0, 1)
    t429 = server.seen[5].at
    # requests already in flight when the 429 came back may land, but none may *start* during the pause;
    # allow the few that were on the wire (at most concurrency - 1) within a few ms
    during = [x for x in server.seen[6:] if t429 + 0.05 < x.at < t429 + 0.4]
    assert during == []
    assert any(x.at >= t429 + 0.4 for x in server.seen[6:])


async def test_rolling_window_respected_on_loopback(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(90))
    # 40/s in a 2 s window: client and fake share one event loop here, and the limiter's margin
    # (1.5% of the window) must cover the loop's stalls; HubSpot's real window is 10 s
    rate = Rate(80, 2.0)
    async with FakeHubSpot(FakeConfig(rate=rate, token=TOKEN)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, rate=rate, concurrency=8))
        assert (s.succeeded, s.throttled) == (90, 0)
        assert fake.stats.throttled == 0
        assert fake.stats.max_in_window(2.0) <= 80
        # 92 requests (two checks) at <= 40/s need more than two seconds
        assert s.elapsed_s >= 2.0


async def test_unreachable_api_aborts(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(30))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        url = fake.url
    s = await run_async(config(tmp_path, url, src))  # nothing listens there any more
    assert (s.aborted, s.exit_code, s.failed) == ("unreachable", 3, 0)
    assert "cannot reach" in s.message
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as back:
        s2 = await run_async(config(tmp_path, back.url, src))
        assert (s2.succeeded, s2.exit_code) == (30, 0)


async def test_skip_failed_and_retry_failed(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(4))
    known = {"partner_services": frozenset({"1000", "1001", "1002"}),
             "contacts": frozenset(str(500000 + i) for i in range(4))}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
        assert (s.succeeded, s.failed) == (3, 1)
        skipped = await run_async(config(tmp_path, fake.url, src, retry_failed=False))
        assert (skipped.skipped_failed, skipped.requests, skipped.exit_code) == (1, 0, 1)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fixed:
        retried = await run_async(config(tmp_path, fixed.url, src))
        assert (retried.succeeded, retried.already_done, retried.exit_code) == (1, 3, 0)


async def test_dry_run_sends_nothing_and_leaves_no_ledger(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", [*simple_rows(7), simple_rows(1)[0], ["x", "contacts", "1", "1"]])
    s = await run_async(config(tmp_path, "http://127.0.0.1:9", src, dry_run=True, token=""))
    assert (s.rows, s.would_send, s.duplicates, s.invalid, s.requests, s.exit_code) == (9, 7, 1, 1, 0, 1)
    assert not (tmp_path / "ledger.sqlite").exists()


async def test_summary_partitions_rows(tmp_path: Path) -> None:
    rows = [*simple_rows(30), *simple_rows(5), ["1", "contacts", "z", "1"]]
    src = write_csv(tmp_path / "links.csv", rows)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        for _ in range(2):
            s = await run_async(config(tmp_path, fake.url, src))
            parts = (s.invalid + s.duplicates + s.already_done + s.skipped_failed + s.succeeded + s.failed
                     + s.pending)
            assert parts == s.rows == 36
