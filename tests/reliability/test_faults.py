"""Issue 5, items 3, 4 and 9: a flaky API, a portal limit lower than the user believed, an API that is gone.

Each case ends with every valid pair stored at the fake, and the ledger agreeing.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Middleware

from bulkassoc import Rate
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._harness import (
    FAST,
    TOKEN,
    arun,
    finish,
    free_port,
    integrity,
    keys_for,
    last_json,
    ledger_rows,
    no_traceback,
    num,
    port_of,
    serve,
    start_cli,
    succeeded,
    wait_until,
    write_links,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Spikes:
    """A middleware in front of the fake: counts attempts per URL and, for a seeded few requests,
    holds the request longer than the client's --timeout before the fake sees it."""

    def __init__(self, rate: float, seconds: float, seed: int) -> None:
        self.rate, self.seconds = rate, seconds
        self.rng = random.Random(seed)
        self.attempts: Counter[str] = Counter()
        self.spiked = 0

    def middleware(self) -> Middleware:
        @web.middleware
        async def spike(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method == "PUT":
                self.attempts[request.path] += 1
            if self.rng.random() < self.rate:
                self.spiked += 1
                await asyncio.sleep(self.seconds)
            return await handler(request)

        return spike


# ------------------------------------------------------------------------------------ 3. flaky API


async def test_flaky_api_every_row_succeeds_within_max_attempts(tmp_path: Path) -> None:
    """~5% 502/503/504, ~2% dropped connections, ~2% latency spikes past --timeout, 5-15 ms latency."""
    n, max_attempts = 200, 6
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    # the fake's fail_rate is an even mix of 502, 503, 504 and a dropped connection: 0.07 → 5.25% + 1.75%
    fake = FakeHubSpot(FakeConfig(rate=None, token=TOKEN, fail_rate=0.07, latency_ms=10, seed=1234))
    spikes = Spikes(rate=0.02, seconds=0.8, seed=99)
    fake.app.middlewares.append(spikes.middleware())
    async with fake:
        result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                            "--base-url", fake.url, "--timeout", "0.5", "--max-attempts", str(max_attempts),
                            "--concurrency", "16",  # a row napping in backoff holds its worker
                            *FAST, timeout=80)
        assert result.returncode == 0, result.stderr
        summary = last_json(result.stdout)
        assert (num(summary, "succeeded"), num(summary, "failed"), summary["aborted"]) == (n, 0, None)
        stats = fake.stats
        assert stats.dropped > 0 and spikes.spiked > 0
        assert sum(stats.errors[s] for s in (502, 503, 504)) > 0
        assert num(summary, "retries") > 0
        # retries stay within --max-attempts per row, as the server counted them and as the ledger did
        assert max(spikes.attempts.values()) <= max_attempts
        rows = ledger_rows(ledger)
        assert all(status == "succeeded" and 1 <= attempts <= max_attempts for status, attempts in rows.values())
        assert num(summary, "requests") == sum(attempts for _, attempts in rows.values())
        assert fake.associations() == keys_for(n)
    assert integrity(ledger) == "ok"


# ------------------------------------------------------------------------------- 4. rate pressure


@pytest.mark.parametrize(("rate_headers", "retry_after"), [
    pytest.param(True, False, id="hubspot-headers"),
    pytest.param(False, True, id="retry-after-only"),
])
async def test_portal_limit_half_of_rate_finishes_without_hot_loop(tmp_path: Path, rate_headers: bool,
                                                                   retry_after: bool) -> None:
    """--rate 400/1s against a portal that allows 200/1s: the run finishes, 429s stay few, no row fails
    for throttling, and the client sleeps through the pauses instead of spinning."""
    n, limit = 450, 200
    src = write_links(tmp_path / "links.csv", n)
    config = FakeConfig(rate=Rate(limit, 1.0), token=TOKEN, rate_headers=rate_headers, retry_after=retry_after,
                        count_rejected=True)  # a hot loop would keep the window full and starve itself
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    async with FakeHubSpot(config) as fake:
        result = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                            "--ledger", str(tmp_path / "links.sqlite"), "--rate", "400/1s", "--concurrency", "8",
                            "--no-progress", "--json", timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert result.returncode == 0, result.stderr
        summary = last_json(result.stdout)
        assert (num(summary, "succeeded"), num(summary, "failed")) == (n, 0)
        assert fake.associations() == keys_for(n)
        requests, throttled = fake.stats.requests, fake.stats.throttled
        assert throttled <= 0.05 * requests + 8, f"{throttled} of {requests} requests were 429'd"
        assert num(summary, "throttled") == throttled
        # at least n / limit seconds of work: it must have waited, and waiting must not burn a core
        assert result.elapsed >= (n / limit) - 1.0
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 0.5 * result.elapsed, f"{cpu:.2f}s CPU in {result.elapsed:.2f}s: a hot loop?"


# ---------------------------------------------------------------------------------- 9. unreachable


async def test_unreachable_api_aborts_fast_then_resumes_when_back(tmp_path: Path) -> None:
    """Nothing listens: exit 3 'unreachable' in seconds, no row failed, and a rerun completes."""
    n = 300
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    port = free_port()
    args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
            "--base-url", f"http://127.0.0.1:{port}", *FAST]
    for extra in (("--max-attempts", "2"), ("--no-preflight",)):
        result = await arun(*args, *extra, timeout=30)
        assert result.returncode == 3, result.stderr
        summary = last_json(result.stdout)
        assert summary["aborted"] == "unreachable"
        assert "cannot reach" in str(summary["message"]) and f":{port}" in str(summary["message"])
        assert num(summary, "failed") == 0
        assert result.elapsed < 10, f"{result.elapsed:.1f}s to notice that nothing answers"
        assert "aborted (unreachable)" in result.stderr
        no_traceback(result.stderr)
    statuses = Counter(status for status, _ in ledger_rows(ledger).values())
    assert statuses["failed"] == 0  # no row's attempts were burnt: they wait, pending, for the rerun
    async with serve(FakeConfig(rate=None, token=TOKEN), port) as back:
        result = await arun(*args, timeout=30)
        assert result.returncode == 0, result.stderr
        assert back.associations() == keys_for(n)


async def test_api_gone_mid_run_aborts_then_resumes_without_resending(tmp_path: Path) -> None:
    """The fake stops after 300 PUTs: exit 3 'unreachable' (not exit 1 with failed rows); the rows
    recorded before stay recorded; when the API is back the rerun sends only the rest."""
    n = 1500
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    fake = FakeHubSpot(FakeConfig(rate=None, token=TOKEN))
    await fake.start("127.0.0.1", 0)
    port = port_of(fake.url)
    try:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--rate", "2000/1s", "--no-progress", "--json", "--max-attempts", "3"]
        proc = await start_cli(*args)
        try:
            await wait_until(lambda: fake.stats.puts >= 300, 30, "300 PUTs", proc=proc)
            await fake.stop()
            gone = time.monotonic()
        finally:
            first = await finish(proc, 40)
        assert first.returncode == 3, first.stderr
        assert time.monotonic() - gone < 10
        summary = last_json(first.stdout)
        assert summary["aborted"] == "unreachable" and num(summary, "failed") == 0
        committed = succeeded(ledger)
        assert committed == set(fake.stats.put_counts)  # what got a 200 before the fall is recorded
        counts_before = Counter(fake.stats.put_counts)

        await fake.start("127.0.0.1", port)  # the same API, with the same store, is back
        rerun = await arun(*args, timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        assert all(fake.stats.put_counts[k] == counts_before[k] for k in committed)
        assert fake.associations() == keys_for(n)
    finally:
        await fake.stop()
