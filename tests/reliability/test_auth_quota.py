"""Issue 5, items 5 and 6: a bad token or a missing scope, and a spent daily quota.

Both stop the run (exit 3) before they cost more than one request per worker, say what to fix, and
leave the ledger resumable. The token string must appear nowhere: not in stdout, stderr, the ledger
(nor its -wal), nor the failed-rows CSV.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiohttp import web

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from .._support import Reply, ScriptedServer
from ._harness import (
    FAST,
    TOKEN,
    Result,
    arun,
    assert_no_token,
    integrity,
    keys_for,
    last_json,
    no_traceback,
    num,
    succeeded,
    write_links,
)

CONCURRENCY = 4


def with_bad_rows(path: Path, n: int) -> Path:
    """n valid rows, then two invalid ones (so the failed-rows CSV has content)."""
    write_links(path, n)
    with path.open("a") as fh:
        fh.write("abc,contacts,1,1\n10,contacts,-5,1\n")
    return path


async def leak_check(result: Result, ledger: Path, tmp_path: Path) -> None:
    failed_csv = tmp_path / "failed.csv"
    texts = [result.stdout, result.stderr]
    if ledger.exists():
        report = await arun("report", str(ledger), "--failed-out", str(failed_csv), timeout=30)
        assert report.returncode == 0, report.stderr
        texts += [report.stdout, report.stderr]
    assert_no_token(texts=texts, files=[p for p in (ledger, failed_csv) if p.exists()])


# ------------------------------------------------------------------------------------- 5. token


@pytest.mark.parametrize("preflight", [True, False], ids=["preflight", "no-preflight"])
async def test_bad_token_exits_3_within_concurrency_requests_and_leaks_nothing(tmp_path: Path,
                                                                               preflight: bool) -> None:
    src = with_bad_rows(tmp_path / "links.csv", 200)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token="the-portal-expects-another-token")) as fake:
        result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                            "--base-url", fake.url, "--concurrency", str(CONCURRENCY), *FAST,
                            *(() if preflight else ("--no-preflight",)), timeout=30)
        assert result.returncode == 3, result.stderr
        summary = last_json(result.stdout)
        assert summary["aborted"] == "auth"
        assert "HUBSPOT_ACCESS_TOKEN" in str(summary["message"]) and "401" in str(summary["message"])
        assert fake.stats.requests <= (1 if preflight else CONCURRENCY)
        assert fake.associations() == set() and num(summary, "failed") == 0
        no_traceback(result.stderr)
    await leak_check(result, ledger, tmp_path)


async def test_missing_scope_names_the_scope_and_the_rerun_with_the_scope_completes(tmp_path: Path) -> None:
    n = 300
    src = with_bad_rows(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
            "--concurrency", str(CONCURRENCY), *FAST]
    # the token may write associations from partner_clients only
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, scopes=frozenset({"partner_clients"}))) as fake:
        result = await arun(*args, "--base-url", fake.url, timeout=30)
        assert result.returncode == 3, result.stderr
        summary = last_json(result.stdout)
        assert summary["aborted"] == "auth"
        assert "crm.objects.partner-services.write" in str(summary["message"])
        assert "crm.objects.partner-services.write" in result.stderr
        assert fake.stats.puts <= CONCURRENCY
        assert num(summary, "failed") == 0  # a missing scope is not the rows' fault: they stay pending
        no_traceback(result.stderr)
    await leak_check(result, ledger, tmp_path)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fixed:  # the scope was granted
        rerun = await arun(*args, "--base-url", fixed.url, timeout=30)
        assert rerun.returncode == 1, rerun.stderr  # 1: the two invalid rows
        again = last_json(rerun.stdout)
        assert (num(again, "succeeded"), num(again, "invalid"), num(again, "failed")) == (n, 2, 0)
        assert fixed.associations() == keys_for(n)


async def test_token_echoed_by_the_api_is_not_stored_or_printed(tmp_path: Path) -> None:
    """Some gateways echo the credentials they reject ("invalid key pat-…"). Whatever the API says,
    the token must not end up in the ledger, the failed-rows CSV or the output. (Was a bug: the text was
    stored verbatim.)"""
    src = write_links(tmp_path / "links.csv", 20)
    ledger = tmp_path / "links.sqlite"

    def script(n: int, request: web.Request) -> Reply:
        if request.method == "GET":
            return Reply(200, {"portalId": 1, "timeZone": "US/Eastern"})
        auth = request.headers.get("Authorization", "")
        return Reply(400, {"status": "error", "category": "VALIDATION_ERROR", "correlationId": "c",
                           "message": f"request with '{auth}' rejected: invalid association"})

    async with ScriptedServer(script) as server:
        result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                            "--base-url", server.url, *FAST, timeout=30)
    assert result.returncode == 1, result.stderr
    await leak_check(result, ledger, tmp_path)


# ----------------------------------------------------------------------------------- 6. daily


class Clock:
    """The fake's clock: real time plus a jump we control (to reach the next day instantly)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_daily_quota_spent_stops_promptly_and_resumes_the_next_day(tmp_path: Path) -> None:
    n, daily = 1000, 600
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    clock = Clock()
    fake = FakeHubSpot(FakeConfig(rate=None, token=TOKEN, daily=daily), clock=clock)
    args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
            "--concurrency", str(CONCURRENCY), *FAST]
    async with fake:
        args += ["--base-url", fake.url]
        first = await arun(*args, timeout=30)
        assert first.returncode == 3, first.stderr
        summary = last_json(first.stdout)
        assert summary["aborted"] == "daily_limit" and "daily" in str(summary["message"])
        # no retry storm: once the quota is gone, at most one answer per worker says so
        assert fake.stats.daily_throttled <= CONCURRENCY
        assert fake.stats.requests <= daily + CONCURRENCY
        assert first.elapsed < 10
        done = succeeded(ledger)
        assert len(done) == num(summary, "succeeded") == len(fake.associations()) > 0
        assert num(summary, "failed") == 0
        no_traceback(first.stderr)

        same_day = await arun(*args, timeout=30)  # still spent: stops at once, sends no write
        assert same_day.returncode == 3 and last_json(same_day.stdout)["aborted"] == "daily_limit"
        assert fake.stats.daily_throttled <= 2 * CONCURRENCY
        assert fake.stats.puts == num(summary, "requests") + num(last_json(same_day.stdout), "requests")

        clock.offset += 86_400.0  # midnight has passed
        puts_before = fake.stats.puts
        next_day = await arun(*args, timeout=30)
        assert next_day.returncode == 0, next_day.stderr
        again = last_json(next_day.stdout)
        assert num(again, "already_done") == len(done)
        assert fake.associations() == keys_for(n)
        assert all(fake.stats.put_counts[k] == 1 for k in done)  # nothing recorded was sent again
        assert fake.stats.puts - puts_before == n - len(done)
    assert integrity(ledger) == "ok"
