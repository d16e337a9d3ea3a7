"""`bulkassoc verify`: read-back against the fake HubSpot's v4 batch read, through the library and the CLI."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from bulkassoc import ConfigError, Rate, RetryPolicy, VerifyConfig, VerifySummary, verify_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.verify import run as _verify
from bulkassoc.verify.run import MISSING_COLUMNS

from .._support import TOKEN, Reply, ScriptedServer, acli, simple_rows, write_csv, write_jsonl

ENV = {"HUBSPOT_ACCESS_TOKEN": TOKEN}
FAST = Rate(1000, 1.0)
QUICK_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.01)
PUT = "/crm/v3/objects/{}/{}/associations/{}/{}/{}"
READ = "/crm/v4/associations/partner_services/contacts/batch/read"


async def seed(fake: FakeHubSpot, pairs: Iterable[tuple[str, str, str, str, str]]) -> None:
    """Store associations through the fake's own v3 PUT."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        for key in pairs:
            async with session.put(fake.url + PUT.format(*key)) as resp:
                assert resp.status == 200


def config(src: Path, url: str, **kw: Any) -> VerifyConfig:
    defaults: dict[str, Any] = {"from_type": "partner_services", "base_url": url, "token": TOKEN, "rate": FAST,
                                "retry": QUICK_RETRY}
    return VerifyConfig(src, **{**defaults, **kw})


def fake_config(**kw: Any) -> FakeConfig:
    return FakeConfig(**{"rate": None, "token": TOKEN, **kw})


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def last_json(stdout: str) -> dict[str, Any]:
    data = orjson.loads(stdout.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def counts(s: VerifySummary) -> tuple[int, int, int, int]:
    return s.checked, s.present, s.missing, s.unchecked


# ------------------------------------------------------------------------------------ must show (issue 9)


async def test_dropped_writes_are_reported_missing_and_a_resend_fixes_them(tmp_path: Path) -> None:
    rows = simple_rows(40)
    src = write_csv(tmp_path / "links.csv", rows)
    dropped = {("partner_services", r[0], "contacts", r[2]) for r in rows[3::8]}  # 5 rows
    async with FakeHubSpot(fake_config(drop_writes=frozenset(dropped))) as fake:
        common = ["--from-type", "partner_services", "--base-url", fake.url, "--rate", "1000/1s"]
        r = await acli("run", str(src), *common, "--json", "--no-progress", env=ENV)
        assert r.returncode == 0, r.stderr  # HubSpot answered 200 to every write
        assert last_json(r.stdout)["succeeded"] == 40

        missing_csv = tmp_path / "missing.csv"
        v = await acli("verify", str(src), *common, "--json", "--missing-out", str(missing_csv), env=ENV)
        assert v.returncode == 1, v.stderr
        summary = last_json(v.stdout)
        assert (summary["rows"], summary["present"], summary["missing"]) == (40, 35, 5)
        assert summary["exit_code"] == 1 and summary["aborted"] is None
        assert "missing 5" in v.stderr and TOKEN not in v.stdout + v.stderr
        records = read_csv(missing_csv)
        assert list(records[0]) == MISSING_COLUMNS
        assert {(r["fromType"], r["fromId"], r["toType"], r["toId"]) for r in records} == dropped
        assert [r["line"] for r in records] == [str(i + 2) for i in range(3, 40, 8)]  # header is line 1
        assert {r["type"] for r in records} == {"1"}

        fake.portal.drop_writes.clear()  # HubSpot's hiccup is over; what it lost must be sent again
        puts = fake.stats.puts
        resend = "--resend" in (await acli("run", "--help")).stdout
        # the lead's `--resend` re-sends rows the ledger records as done; until it lands, a fresh ledger
        ledger_args = ["--ledger", f"{src}.ledger.sqlite", "--resend"] if resend else [
            "--ledger", str(tmp_path / "fresh.sqlite")]
        r = await acli("run", str(missing_csv), *ledger_args, "--base-url", fake.url, "--rate", "1000/1s",
                       "--json", "--no-progress", env=ENV)
        assert r.returncode == 0, r.stderr
        assert last_json(r.stdout)["succeeded"] == 5 and fake.stats.puts - puts == 5

        v = await acli("verify", str(src), *common, "--json", "--missing-out", str(missing_csv), env=ENV)
        assert v.returncode == 0, v.stderr
        assert (last_json(v.stdout)["present"], last_json(v.stdout)["missing"]) == (40, 0)
        assert read_csv(missing_csv) == []


# ------------------------------------------------------------------------------------------- matching


async def test_paging_is_followed_until_every_row_is_decided(tmp_path: Path) -> None:
    async with FakeHubSpot(fake_config(read_page_size=2)) as fake:
        await seed(fake, [("partner_services", "1000", "contacts", str(t), "1") for t in range(1, 8)])
        await seed(fake, [("partner_services", "1000", "contacts", "5", "279")])
        src = write_csv(tmp_path / "in.csv", [
            ["1000", "contacts", "7", "1"],  # on the last of four pages
            ["1000", "contacts", "5", "279"],  # a second type of the same pair
            ["1000", "contacts", "3", "279"],  # the pair exists, with another type: missing
            ["1000", "contacts", "9", "1"],  # not there at all: every page is read
            ["1000", "contacts", "2", "partner_to_contact"],  # a type name: any association counts
            ["0001000", "contacts", "06", "1"],  # IDs compare as numbers
        ])
        before = fake.stats.requests
        out = tmp_path / "missing.csv"
        s = await verify_async(config(src, fake.url, missing_out=out))
        assert counts(s) == (6, 4, 2, 0) and s.exit_code == 1
        assert s.requests == 4 and fake.stats.requests - before == 4
        assert [(r["toId"], r["type"], r["line"]) for r in read_csv(out)] == [("3", "279", "4"), ("9", "1", "5")]

        # a row found on the first page needs no more pages
        src = write_csv(tmp_path / "first.csv", [["1000", "contacts", "1", "1"]])
        s = await verify_async(config(src, fake.url))
        assert counts(s) == (1, 1, 0, 0) and s.requests == 1 and s.exit_code == 0


async def test_ids_without_associations_or_unknown_are_missing(tmp_path: Path) -> None:
    known = {"partner_services": frozenset({"1", "2"}), "contacts": frozenset({"10", "11"})}
    async with FakeHubSpot(fake_config(known_ids=known)) as fake:
        await seed(fake, [("partner_services", "1", "contacts", "10", "1")])
        src = write_jsonl(tmp_path / "in.jsonl", [
            {"fromId": "1", "toType": "contacts", "toId": "10", "type": 1},
            {"fromId": "2", "toType": "contacts", "toId": "11", "type": "1"},  # no associations at all
            {"fromId": "3", "toType": "contacts", "toId": "10", "type": "1"},  # no such record
        ])
        s = await verify_async(config(src, fake.url, rate=None))  # `--rate auto`: paced by the headers
        assert counts(s) == (3, 1, 2, 0) and s.requests == 1


async def test_duplicates_invalid_rows_and_type_pairs_are_counted(tmp_path: Path) -> None:
    async with FakeHubSpot(fake_config()) as fake:
        await seed(fake, [("partner_services", "1", "contacts", "10", "1"), ("deals", "1", "contacts", "10", "3")])
        src = write_csv(tmp_path / "in.csv", [
            ["partner_services", "1", "contacts", "10", "1"],
            ["partner_services", "1", "contacts", "10", "1"],  # duplicate
            ["deals", "1", "contacts", "10", "3"],  # same ids, another fromType: its own batch read
            ["deals", "1", "contacts", "10", "1"],  # missing
            ["", "x", "contacts", "10", "1"],  # invalid: skipped
        ], header=("fromType", "fromId", "toType", "toId", "type"))
        s = await verify_async(config(src, fake.url, from_type=None))
        assert counts(s) == (3, 2, 1, 0)
        assert (s.read, s.invalid, s.duplicates, s.requests) == (5, 1, 1, 2)
        assert s.rows == s.read == s.invalid + s.duplicates + s.checked + s.unchecked


# ------------------------------------------------------------------------------------------ chunking


async def test_chunks_of_at_most_1000_ids(tmp_path: Path) -> None:
    rows = simple_rows(2500)
    stored = rows[::83]  # 31 rows spread over all three chunks
    async with FakeHubSpot(fake_config()) as fake:
        await seed(fake, [("partner_services", r[0], "contacts", r[2], "1") for r in stored])
        src = write_csv(tmp_path / "in.csv", rows)
        s = await verify_async(config(src, fake.url, concurrency=2))
        assert counts(s) == (2500, len(stored), 2500 - len(stored), 0)
        assert s.requests == 3 and s.exit_code == 1

        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            inputs = [{"id": str(i)} for i in range(1001)]
            async with session.post(fake.url + READ, json={"inputs": inputs}) as resp:
                assert resp.status == 400
                assert "1000" in (await resp.json())["message"]


async def test_chunk_limits_bound_what_is_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_verify, "MAX_IDS", 2)
    monkeypatch.setattr(_verify, "CHUNK_ROWS", 3)

    def script(n: int, request: web.Request) -> Reply:
        return Reply(200, {"status": "COMPLETE", "results": [], "startedAt": "x", "completedAt": "x"})

    async with ScriptedServer(script) as server:

        def read_ids() -> list[list[str]]:
            return [[i["id"] for i in orjson.loads(s.body)["inputs"]] for s in server.seen if s.method == "POST"]

        # five ids → three reads of at most two ids; one id with four rows → two reads
        src = write_csv(tmp_path / "in.csv", [*simple_rows(5), *[["9", "contacts", str(t), "1"] for t in range(4)]])
        s = await verify_async(config(src, server.url, concurrency=1))
        assert counts(s) == (9, 0, 9, 0)
        assert sorted(read_ids()) == sorted([["1000", "1001"], ["1002", "1003"], ["1004", "9"], ["9"]])

        # rows still filling their chunks are capped overall: the biggest open chunk goes first
        server.seen.clear()
        monkeypatch.setattr(_verify, "MAX_IDS", 1000)
        monkeypatch.setattr(_verify, "CHUNK_ROWS", 1000)
        monkeypatch.setattr(_verify, "OPEN_ROWS", 3)
        src = write_csv(tmp_path / "mixed.csv", [
            ["partner_services", "1", "contacts", "1", "1"], ["deals", "2", "contacts", "1", "1"],
            ["partner_services", "3", "contacts", "1", "1"], ["partner_services", "4", "contacts", "1", "1"],
        ], header=("fromType", "fromId", "toType", "toId", "type"))
        s = await verify_async(config(src, server.url, from_type=None, concurrency=1))
        assert counts(s) == (4, 0, 4, 0)
        assert read_ids() == [["1", "3", "4"], ["2"]]


# ------------------------------------------------------------------------------------ outcomes, aborts


async def test_wrong_token_aborts_with_exit_3(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", simple_rows(3))
    out = tmp_path / "missing.csv"
    async with FakeHubSpot(fake_config(token="another-token")) as fake:
        r = await acli("verify", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--missing-out", str(out), env=ENV)
    assert r.returncode == 3, r.stderr
    summary = last_json(r.stdout)
    assert summary["aborted"] == "auth" and summary["unchecked"] == 3 and summary["checked"] == 0
    assert "HUBSPOT_ACCESS_TOKEN" in summary["message"] and TOKEN not in r.stdout + r.stderr
    assert read_csv(out) == []


async def test_missing_read_scope_names_it(tmp_path: Path) -> None:
    body = {"status": "error", "category": "MISSING_SCOPES", "message": "This app hasn't been granted all scopes"}
    async with ScriptedServer(lambda n, req: Reply(403, body)) as server:
        s = await verify_async(config(write_csv(tmp_path / "in.csv", simple_rows(2)), server.url))
    assert (s.aborted, s.exit_code, s.requests) == ("auth", 3, 1)
    assert "crm.objects.partner-services.read" in s.message and "crm.objects.contacts.read" in s.message


async def test_throttle_and_server_errors_are_retried(tmp_path: Path) -> None:
    ok = {"status": "COMPLETE", "startedAt": "x", "completedAt": "x", "results": [
        {"from": {"id": "1000"}, "to": [{"toObjectId": 500000, "associationTypes": [  # a number, as in the guide
            {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}]}]}]}
    answers = [Reply(429, {"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "0"}),
               Reply(503, {"status": "error", "message": "Service Unavailable"}), Reply(207, ok)]
    async with ScriptedServer(lambda n, req: answers[n]) as server:
        s = await verify_async(config(write_csv(tmp_path / "in.csv", simple_rows(2)), server.url))
    assert counts(s) == (2, 1, 1, 0)
    assert (s.requests, s.retries, s.throttled, s.exit_code) == (3, 2, 1, 1)


async def test_a_read_refused_for_good_leaves_rows_unchecked(tmp_path: Path) -> None:
    body = {"status": "error", "category": "VALIDATION_ERROR", "message": "Unknown object type"}
    async with ScriptedServer(lambda n, req: Reply(400, body)) as server:
        s = await verify_async(config(write_csv(tmp_path / "in.csv", simple_rows(3)), server.url))
    assert counts(s) == (0, 0, 0, 3) and s.exit_code == 1 and s.aborted is None
    assert "400 VALIDATION_ERROR" in s.message and "Unknown object type" in s.message


async def test_unreachable_api_aborts(tmp_path: Path) -> None:
    async with ScriptedServer(lambda n, req: Reply()) as server:
        url = server.url  # closed when the block ends: nothing listens there any more
    s = await verify_async(config(write_csv(tmp_path / "in.csv", simple_rows(2)), url,
                                  retry=RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.01)))
    assert (s.aborted, s.exit_code, s.unchecked) == ("unreachable", 3, 2)


async def test_usage_errors_exit_2(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", simple_rows(1))
    bad = write_csv(tmp_path / "bad.csv", [["1", "2"]], header=("fromId", "toId"))
    base = ["--from-type", "partner_services", "--base-url", "http://127.0.0.1:9"]
    results = await asyncio.gather(
        acli("verify", str(src), *base, env={"HUBSPOT_ACCESS_TOKEN": ""}),
        acli("verify", str(bad), *base, env=ENV),
        acli("verify", str(tmp_path / "nope.csv"), *base, env=ENV),
        acli("verify", str(src), *base, "--missing-out", str(tmp_path / "no" / "dir.csv"), env=ENV),
        acli("verify", str(src), "--from-type", "partner_services", "--base-url", "http://example.com", env=ENV),
    )
    for r, needle in zip(results, ["HUBSPOT_ACCESS_TOKEN", "toType", "nope.csv", "--missing-out", "http://"],
                         strict=True):
        assert r.returncode == 2, r.stderr
        assert needle in r.stderr
    with pytest.raises(ConfigError, match="--format"):
        VerifyConfig("-", token=TOKEN)
