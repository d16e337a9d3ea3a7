"""Issue 16: a run under cron-like conditions (stderr not a terminal) writes timestamped progress lines
without carriage returns; `--log-file` with `--log-format json` writes one parseable event a line, with
the 429 pause and the stop among them; Ctrl-C says at once what the stop waits for."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import orjson

from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.pacing.rate import Rate

from ..reliability._harness import TOKEN, finish, last_json, no_traceback, num, start_cli, wait_until, write_links

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


async def test_cron_run_writes_timestamped_lines_and_a_json_event_log(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 400)
    log = tmp_path / "run.log"
    # no rate headers: the client cannot learn the limit and runs into the fake's window (Retry-After: 1 s)
    config = FakeConfig(rate=Rate(20, 1.0), token=TOKEN, rate_headers=False, retry_after=True)
    async with FakeHubSpot(config) as fake:
        proc = await start_cli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                               "--rate", "40/1s", "--log-interval", "1", "--log-file", str(log),
                               "--log-format", "json", "--json")
        try:
            await wait_until(lambda: fake.stats.throttled >= 1 and fake.stats.puts >= 60, 30, "a 429, 60 PUTs",
                             proc=proc)
            await asyncio.sleep(2.2)  # at least two more progress intervals
            proc.send_signal(signal.SIGINT)
        finally:
            result = await finish(proc, 30)
    assert result.returncode == 3, result.stderr
    no_traceback(result.stderr)
    assert "\r" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if STAMP.match(ln)]
    assert len(lines) >= 3, result.stderr
    assert all("done " in ln and "pace 40/1s" in ln for ln in lines)
    assert "stopping: " in result.stderr, result.stderr[-1500:]

    events = [orjson.loads(line) for line in log.read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "start" and names[-1] == "end"
    assert {"throttle", "progress", "stopping", "stop"} <= set(names)
    assert all(STAMP.match(e["ts"] + " ") for e in events)
    throttle = next(e for e in events if e["event"] == "throttle")
    assert throttle["wait"] == 1.0 and throttle["why"] == "Retry-After"
    stop = next(e for e in events if e["event"] == "stop")
    assert stop["reason"] == "interrupted" and "SIGINT" in stop["detail"]
    end = events[-1]
    assert end["summary"] == last_json(result.stdout)
    assert TOKEN not in log.read_text()


async def test_text_log_and_no_progress(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 30)
    log = tmp_path / "run.log"
    async with FakeHubSpot(FakeConfig(rate=Rate(1000, 1.0), token=TOKEN)) as fake:  # advertises 1000/1s
        proc = await start_cli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                               "--rate", "auto", "--no-progress", "--log-file", str(log), "--log-interval", "1")
        result = await finish(proc, 30)
    assert result.returncode == 0, result.stderr
    assert not any(STAMP.match(ln) for ln in result.stderr.splitlines())  # --no-progress: no lines
    text = log.read_text().splitlines()
    assert STAMP.match(text[0]) and " start: run 1: " in text[0]
    assert " end: exit 0: 30 rows; succeeded 30" in text[-1]
    pace = [ln for ln in text if " pace: " in ln]
    assert len(pace) == 1 and pace[0].endswith(" pace: 100/10s -> 1000/1s (HubSpot's headers advertise 1000/1s)")
    assert "rate 1000/1s from X-HubSpot-RateLimit-Max/-Interval-Milliseconds: 1000/1s" in result.stderr
    assert not Path(f"{tmp_path / 'links.csv'}.ledger.sqlite.lock").exists()  # removed on a clean exit


async def test_first_ctrl_c_says_what_it_waits_for_and_the_second_quits_at_once(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 40)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, latency_ms=6000, seed=3)) as fake:
        proc = await start_cli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                               "--concurrency", "4", "--no-preflight", "--rate", "1000/1s", "--json")
        try:
            await wait_until(lambda: fake.stats.puts >= 4, 30, "4 PUTs on the wire", proc=proc)
            proc.send_signal(signal.SIGINT)
            assert proc.stderr is not None
            said = await asyncio.wait_for(proc.stderr.readline(), 1.0)  # at once, not after the grace
            assert said.decode() == ("bulkassoc: stopping: waiting up to 5 s for 4 requests in flight "
                                     "(Ctrl-C again to quit now)\n")
            proc.send_signal(signal.SIGINT)
            signalled = time.monotonic()
        finally:
            result = await finish(proc, 30)
    assert result.returncode == 3
    assert time.monotonic() - signalled < 2.5
    assert "quitting now: 4 requests in flight stay pending" in result.stderr
    summary = last_json(result.stdout)
    assert summary["aborted"] == "interrupted" and num(summary, "pending") == 40 - num(summary, "succeeded")
    assert "rerun the same command to resume" in result.stderr
