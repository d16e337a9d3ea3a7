"""Issue 5, item 2: SIGINT / SIGTERM mid-run → exit 3 within a few seconds, a summary, no loss on rerun.

A graceful stop is stronger than a kill: what settled is committed before exit, so the rerun sends only
the rest and no association is PUT twice. test_cli covers one SIGINT; these go further (SIGTERM, slow
requests in flight, a second signal, a signal during a pool-wide 429 pause).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from bulkassoc import Rate
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._harness import (
    FAST,
    TOKEN,
    arun,
    finish,
    integrity,
    keys_for,
    last_json,
    no_traceback,
    num,
    port_of,
    serve,
    start_cli,
    succeeded,
    wait_until,
    write_links,
)

PROMPT = 3.0  # seconds from the signal to the exit, when nothing slow is in flight


def partition(summary: dict[str, object]) -> int:
    return sum(num(summary, k) for k in ("invalid", "duplicates", "already_done", "skipped_failed", "succeeded",
                                         "failed", "pending"))


@pytest.mark.parametrize(("sig", "after_puts"), [(signal.SIGINT, 250), (signal.SIGTERM, 600)],
                         ids=["SIGINT", "SIGTERM"])
async def test_signal_mid_run_exits_3_promptly_and_the_rerun_sends_only_the_rest(
        tmp_path: Path, sig: signal.Signals, after_puts: int) -> None:
    n = 1200
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--no-progress", "--json", "--rate", "1000/1s"]
        proc = await start_cli(*args)
        try:
            await wait_until(lambda: fake.stats.puts >= after_puts, 30, f"{after_puts} PUTs", proc=proc)
            proc.send_signal(sig)
            signalled = time.monotonic()
        finally:
            first = await finish(proc, 30)
        took = time.monotonic() - signalled
        assert first.returncode == 3, first.stderr
        assert took < PROMPT, f"exit {took:.1f}s after {sig.name}"
        summary = last_json(first.stdout)
        assert summary["aborted"] == "interrupted" and summary["exit_code"] == 3
        assert sig.name in str(summary["message"])
        assert partition(summary) == num(summary, "rows")
        assert 0 < num(summary, "succeeded") < n and num(summary, "pending") > 0
        assert "aborted (interrupted)" in first.stderr and "rerun" in first.stderr
        no_traceback(first.stderr)
        # graceful: every outcome that came back was committed before exit, and nothing more was sent
        assert len(succeeded(ledger)) == num(summary, "succeeded") == len(fake.associations())
        assert fake.stats.puts == num(summary, "requests")
        assert integrity(ledger) == "ok"

        rerun = await arun(*args[:-2], "--rate", "4000/1s", timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        again = last_json(rerun.stdout)
        assert num(again, "already_done") == num(summary, "succeeded")
        assert num(again, "succeeded") == n - num(summary, "succeeded")
        assert fake.associations() == keys_for(n)
        assert max(fake.stats.put_counts.values()) == 1  # a graceful stop costs no repeated PUT


async def test_requests_in_flight_get_their_grace_and_are_recorded(tmp_path: Path) -> None:
    """Slow answers (0.25-0.75 s) in flight at SIGTERM: the run waits for them, records them, then exits."""
    n = 200
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, latency_ms=500, seed=7)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--concurrency", "6", *FAST]
        proc = await start_cli(*args)
        try:
            await wait_until(lambda: fake.stats.puts >= 6, 30, "6 PUTs on the wire", proc=proc)
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
        finally:
            first = await finish(proc, 30)
        assert first.returncode == 3, first.stderr
        assert time.monotonic() - signalled < 0.75 + PROMPT  # the slowest answer, then the exit
        summary = last_json(first.stdout)
        # every PUT that got its 200 is in the ledger: the in-flight ones were waited for, not abandoned
        stored = set(fake.stats.put_counts)
        assert stored <= succeeded(ledger)
        assert num(summary, "succeeded") == len(stored)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as back:
        args[args.index("--base-url") + 1] = back.url
        rerun = await arun(*args, timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        assert set(back.stats.put_counts).isdisjoint(stored)  # nothing recorded was sent again
        assert stored | back.associations() == keys_for(n)


@pytest.mark.slow
async def test_a_second_signal_abandons_slow_requests_at_once(tmp_path: Path) -> None:
    """Answers that take 2-6 s: the first SIGINT waits for them, a second one stops waiting."""
    n = 100
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, latency_ms=4000, seed=3)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--concurrency", "4", "--no-preflight", *FAST]
        proc = await start_cli(*args)
        try:
            await wait_until(lambda: fake.stats.puts >= 4, 30, "4 PUTs on the wire", proc=proc)
            proc.send_signal(signal.SIGINT)
            await asyncio.sleep(0.2)  # two signals sent back to back may be merged by the kernel into one
            assert proc.returncode is None
            proc.send_signal(signal.SIGINT)
            signalled = time.monotonic()
        finally:
            first = await finish(proc, 30)
        assert first.returncode == 3, first.stderr
        assert time.monotonic() - signalled < PROMPT
        summary = last_json(first.stdout)
        assert summary["aborted"] == "interrupted"
        assert num(summary, "pending") == n - num(summary, "succeeded") - num(summary, "failed")
        no_traceback(first.stderr)
    async with serve(FakeConfig(rate=None, token=TOKEN), port_of(fake.url)):  # same API, now fast
        rerun = await arun(*args, timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        assert succeeded(ledger) == keys_for(n)


async def fill_window(fake: FakeHubSpot) -> None:
    """Use up the fake's whole window with one request of our own (another integration, say)."""
    async with aiohttp.ClientSession() as session, session.get(
            fake.url + "/account-info/v3/details", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("where", [
    pytest.param("writes", id="pool-paused-during-writes"),
    # was a bug: the preflight's 429 pause (up to 900 s with a Retry-After) ignored the signal
    pytest.param("preflight", id="pool-paused-during-preflight"),
])
async def test_signal_during_a_throttle_pause_exits_promptly(tmp_path: Path, where: str) -> None:
    """The window is full and the pool waits 30 s (the fake's interval); a signal must not wait with it."""
    src = write_links(tmp_path / "links.csv", 200)
    period = 30.0
    limit = 1 if where == "preflight" else 25
    # no rate headers: the client cannot learn the limit in advance, so it does run into the 429
    config = FakeConfig(rate=Rate(limit, period), token=TOKEN, retry_after=True, rate_headers=False)
    async with FakeHubSpot(config) as fake:
        if where == "preflight":
            await fill_window(fake)
        proc = await start_cli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                               "--ledger", str(tmp_path / "links.sqlite"), *FAST)
        try:
            await wait_until(lambda: fake.stats.throttled >= 1, 30, "a 429", proc=proc)
            await asyncio.sleep(0.1)  # let the 429 be read and the pause begin
            proc.send_signal(signal.SIGINT)
            signalled = time.monotonic()
            result = await finish(proc, PROMPT)  # kills it (and fails) if it waits out the pause
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert result.returncode == 3, result.stderr
        assert time.monotonic() - signalled < PROMPT
        assert last_json(result.stdout)["aborted"] == "interrupted"
