"""Batch mode and the endpoint families (issue 8), end to end against servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import orjson
from aiohttp import web

from bulkassoc import Rate, RetryPolicy, RunConfig, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from .._support import TOKEN, Reply, ScriptedServer, acli, simple_rows, write_csv

FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)


def cfg(tmp_path: Path, url: str, src: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {"input": src, "from_type": "partner_services", "base_url": url, "token": TOKEN,
                               "retry": FAST, "ledger": tmp_path / "ledger.sqlite", "rate": Rate(5000, 1.0),
                               "mode": "batch", "batch_linger": 0.05}
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


async def test_ten_thousand_rows_in_a_hundred_requests(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(10_000))
    async with FakeHubSpot(FakeConfig(rate=Rate(190, 1.0), token=TOKEN)) as fake:
        s = await run_async(cfg(tmp_path, fake.url, src, rate=Rate(190, 1.0)))
        assert (s.succeeded, s.failed, s.exit_code) == (10_000, 0, 0)
        assert s.requests == 100  # single mode sends one request per row: 10,000
        assert fake.stats.batch_requests == 100 and fake.stats.throttled == 0
        assert len(fake.associations()) == 10_000
        assert s.elapsed_s < 10  # 10,000 single PUTs at 190/s would need 53 s
        again = await run_async(cfg(tmp_path, fake.url, src, rate=Rate(190, 1.0)))
        assert (again.already_done, again.requests) == (10_000, 0)


async def test_three_bad_rows_among_a_hundred(tmp_path: Path) -> None:
    rows = simple_rows(100)
    src = write_csv(tmp_path / "links.csv", rows)
    bad = {rows[7][2], rows[42][2], rows[99][2]}  # toIds the portal does not know
    known = {"partner_services": frozenset(r[0] for r in rows),
             "contacts": frozenset(r[2] for r in rows if r[2] not in bad)}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        s = await run_async(cfg(tmp_path, fake.url, src))
        assert (s.succeeded, s.failed, s.requests) == (97, 3, 1)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        failed = {r[0] for r in conn.execute("SELECT to_id FROM assoc WHERE status = 'failed'")}
    assert failed == bad


async def test_whole_batch_400_is_split_to_isolate_bad_rows(tmp_path: Path) -> None:
    rows = simple_rows(16)
    src = write_csv(tmp_path / "links.csv", rows)
    poison = rows[5][0]
    sizes: list[int] = []

    def script(n: int, request: web.Request) -> Reply:
        if request.method == "GET":
            return Reply(404, {})
        return Reply(201, {})  # replaced below per body

    class Splitting(ScriptedServer):
        async def _handle(self, request: web.Request) -> web.StreamResponse:
            if request.method == "POST":
                inputs = orjson.loads(await request.read())["inputs"]
                sizes.append(len(inputs))
                if any(i["from"]["id"] == poison for i in inputs):
                    return web.json_response({"status": "error", "message": "Invalid input JSON",
                                              "category": "VALIDATION_ERROR", "correlationId": "x"}, status=400)
                return web.json_response({"status": "COMPLETE", "results": []}, status=201)
            return await super()._handle(request)

    async with Splitting(script) as server:
        s = await run_async(cfg(tmp_path, server.url, src, batch_size=16, read_first=False))  # it only creates
    assert (s.succeeded, s.failed) == (15, 1)
    assert sizes[0] == 16 and 1 in sizes and len(sizes) <= 2 * 16 - 1
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        assert conn.execute("SELECT from_id, http_status FROM assoc WHERE status = 'failed'").fetchall() == \
            [(poison, 400)]


async def test_partial_batches_linger_then_go(tmp_path: Path) -> None:
    """Rows arriving slowly on stdin still move: a partial batch is sent after the linger."""
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bulkassoc", "run", "-", "--format", "csv", "--from-type", "partner_services",
            "--ledger", str(tmp_path / "l.sqlite"), "--base-url", fake.url, "--mode", "batch", "--json",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={"HUBSPOT_ACCESS_TOKEN": TOKEN, "PATH": ""})
        assert proc.stdin is not None
        proc.stdin.write(b"fromId,toType,toId,type\n1,contacts,2,1\n")
        await proc.stdin.drain()
        for _ in range(300):  # the first row is created while stdin is still open
            if fake.associations():
                break
            await asyncio.sleep(0.01)
        assert len(fake.associations()) == 1
        proc.stdin.write(b"3,contacts,4,1\n")
        proc.stdin.close()
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0
        assert orjson.loads(out.strip().splitlines()[-1])["succeeded"] == 2


async def test_type_names_fail_without_a_request_in_batch_mode(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", [*simple_rows(3), ["9", "contacts", "8", "contact_to_company"]])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        s = await run_async(cfg(tmp_path, fake.url, src))
        assert (s.succeeded, s.failed, s.requests) == (3, 1, 1)


async def test_v4_and_date_versioned_single_writes(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(5))
    for api in ("v4", "2026-09"):
        async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
            s = await run_async(cfg(tmp_path, fake.url, src, mode="single", api=api,
                                    ledger=tmp_path / f"{api}.sqlite"))
            assert (s.succeeded, s.requests) == (5, 5), api
            assert len(fake.associations()) == 5


async def test_batch_mode_resumes_after_kill(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(3000))
    async with FakeHubSpot(FakeConfig(rate=Rate(20, 1.0), token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--mode", "batch",
                "--batch-size", "50", "--no-progress", "--json"]
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bulkassoc", *args, "--rate", "20/1s",
                                                    env={"HUBSPOT_ACCESS_TOKEN": TOKEN},
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        try:
            for _ in range(1000):
                if fake.stats.batch_requests >= 10:
                    break
                await asyncio.sleep(0.01)
        finally:
            proc.kill()
            await proc.wait()
        assert 0 < len(fake.associations()) < 3000
        r = await acli(*args, "--rate", "200/1s", env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert r.returncode == 0, r.stderr
        assert len(fake.associations()) == 3000
        # what the killed run had committed as done was not sent again
        summary = orjson.loads(r.stdout.strip().splitlines()[-1])
        assert summary["already_done"] + summary["succeeded"] == 3000
        assert max(fake.stats.put_counts.values()) <= 2
