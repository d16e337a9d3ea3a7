"""A ledger belongs to one portal; nightly syncs with a shared ledger; --resend (issue 9)."""

from __future__ import annotations

from pathlib import Path

import orjson

from bulkassoc import Rate, RetryPolicy, RunConfig, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from .._support import TOKEN, acli, simple_rows, write_csv

ENV = {"HUBSPOT_ACCESS_TOKEN": TOKEN}


def cfg(url: str, src: Path, ledger: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {"input": src, "from_type": "partner_services", "base_url": url, "token": TOKEN,
                               "retry": RetryPolicy(backoff_base=0.01), "ledger": ledger, "rate": Rate(5000, 1.0)}
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


async def test_sandbox_then_production_is_refused_until_a_new_ledger(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(25))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=111)) as sandbox:
        r = await acli("run", str(src), "--from-type", "partner_services", "--base-url", sandbox.url, "--json",
                       "--rate", "5000/1s", env=ENV)
        assert r.returncode == 0
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=222)) as production:
        r = await acli("run", str(src), "--from-type", "partner_services", "--base-url", production.url,
                       "--json", "--rate", "5000/1s", env=ENV)
        assert r.returncode == 2
        assert "portal 111" in r.stderr and "portal 222" in r.stderr and "--ledger" in r.stderr
        assert orjson.loads(r.stdout.strip().splitlines()[-1])["aborted"] == "portal"
        assert production.stats.puts == 0
        r = await acli("run", str(src), "--from-type", "partner_services", "--base-url", production.url,
                       "--ledger", str(tmp_path / "production.sqlite"), "--json", "--rate", "5000/1s", env=ENV)
        assert r.returncode == 0
        assert production.stats.puts == 25


async def test_same_portal_new_token_is_fine_and_fallback_identity_binds(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(5))
    ledger = tmp_path / "l.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=7)) as fake:
        first = await run_async(cfg(fake.url, src, ledger, preflight=False))  # no portal id learnt
        assert first.exit_code == 0
        again = await run_async(cfg(fake.url, src, ledger))  # learns portal 7 now, same fallback
        assert again.exit_code == 0 and again.already_done == 5
    async with FakeHubSpot(FakeConfig(rate=None, token="another-token", portal_id=7)) as same_portal:
        s = await run_async(cfg(same_portal.url, src, ledger, token="another-token"))
        assert s.aborted is None and s.exit_code == 0  # another token for portal 7: still portal 7


async def test_nightly_sync_with_a_shared_ledger_sends_only_new_pairs(tmp_path: Path) -> None:
    n, k = 40, 7
    day1 = write_csv(tmp_path / "day1.csv", simple_rows(n))
    day2 = write_csv(tmp_path / "day2.csv", list(reversed(simple_rows(n + k))))  # re-sorted, k new
    shared = tmp_path / "nightly.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        assert (await run_async(cfg(fake.url, day1, shared))).succeeded == n
        s = await run_async(cfg(fake.url, day2, shared))
        assert (s.requests, s.succeeded, s.already_done) == (k, k, n)
        assert fake.stats.puts == n + k


async def test_resend_sends_everything_again(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", [*simple_rows(10), simple_rows(1)[0]])
    ledger = tmp_path / "l.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(cfg(fake.url, src, ledger))
        s = await run_async(cfg(fake.url, src, ledger, resend=True))
        assert (s.requests, s.succeeded, s.duplicates, s.already_done) == (10, 10, 1, 0)
        assert fake.stats.puts == 20
