"""Issue 12: verify's requests go through the paced caller, so verify keeps the daily reserve and a
Ctrl-C cuts a backoff short, exactly as `run` does."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from aiohttp import web

from bulkassoc import Rate, RetryPolicy, VerifyConfig, verify_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.verify import run as _verify

from .._support import TOKEN, Reply, ScriptedServer, simple_rows, wait_for_requests, write_csv


async def test_verify_keeps_the_daily_reserve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_verify, "MAX_IDS", 1)  # one read per fromId: 100 reads for 100 rows
    src = write_csv(tmp_path / "in.csv", simple_rows(100))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, daily=60)) as fake:
        summary = await verify_async(VerifyConfig(src, from_type="partner_services", base_url=fake.url, token=TOKEN,
                                                  rate=Rate(1000, 1.0), concurrency=4, daily_reserve=10))
        sent = fake.stats.requests
    assert summary.aborted == "daily_limit", summary
    assert summary.exit_code == 3
    assert "reserve of 10" in summary.message
    assert 40 <= sent <= 60 - 10, sent  # never below the reserve; in-flight reads are counted as spent


async def test_sigint_during_a_backoff_stops_verify_within_a_second(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", simple_rows(5))

    def script(n: int, request: web.Request) -> Reply:
        return Reply(503, {"status": "error", "message": "try later", "category": "INTERNAL_ERROR"})

    loop = asyncio.get_running_loop()
    async with ScriptedServer(script) as server:
        config = VerifyConfig(src, from_type="partner_services", base_url=server.url, token=TOKEN,
                              rate=Rate(1000, 1.0), handle_signals=True,
                              retry=RetryPolicy(max_attempts=5, backoff_base=60.0, backoff_cap=60.0))
        task = asyncio.ensure_future(verify_async(config))
        await wait_for_requests(server, 1)
        await asyncio.sleep(0.2)  # now in a backoff of 30-60 s
        sent_at = loop.time()
        os.kill(os.getpid(), signal.SIGINT)
        summary = await asyncio.wait_for(task, 10)
        took = loop.time() - sent_at
    assert summary.aborted == "interrupted"
    assert summary.exit_code == 3
    assert took < 1.0, took
    assert len(server.seen) == 1
