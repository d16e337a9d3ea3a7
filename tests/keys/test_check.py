"""Know before spending quota: `check` reads only and lists exactly the rows a run would fail; a dry run
writes its invalid rows too; a misspelled --from-type stops after ~50 writes; no fromType at all is a
usage error before anything is written."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson

from bulkassoc import run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from tests._support import TOKEN, acli, write_csv

from ._portal import config, contact_id, email, legacy, portal, service_id

ENV = {"HUBSPOT_ACCESS_TOKEN": TOKEN}
HEADER = ("fromId", "toType", "toId", "type", "fromIdProperty", "toIdProperty")


def _mixed(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """Good rows, and rows a run would fail: unknown types, keys that match nothing, invalid rows."""
    rows: list[list[str]] = []
    bad: dict[int, str] = {}
    for i in range(120):
        line = len(rows) + 2
        if i % 10 == 3:
            rows.append([legacy(i), "contacts", email(i), "Sales contact", "legacy_id", "email"])
            bad[line] = "UNKNOWN_ASSOCIATION_TYPE"
        elif i % 10 == 5:
            rows.append([legacy(i), "contacts", f"ghost{i}@example.com", "Billing contact", "legacy_id", "email"])
            bad[line] = "UNRESOLVED_TO"
        elif i % 10 == 7:
            rows.append([f"LEG-NOPE-{i}", "contacts", contact_id(i), "9101", "legacy_id", ""])
            bad[line] = "UNRESOLVED_FROM"
        elif i % 10 == 9:
            rows.append([service_id(i), "contacts", "1.2E+10", "9101", "", ""])
            bad[line] = "INVALID_ROW"
        else:
            rows.append([legacy(i), "contacts", email(i), "Billing contact", "legacy_id", "email"])
    return write_csv(tmp_path / "mixed.csv", rows, header=HEADER), bad


async def test_check_writes_nothing_and_lists_exactly_the_failing_rows(tmp_path: Path) -> None:
    src, bad = _mixed(tmp_path)
    out = tmp_path / "would-fail.csv"
    async with FakeHubSpot(portal(200)) as fake:
        r = await acli("check", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--failed-out", str(out), env=ENV)
        assert r.returncode == 1, r.stderr
        summary = orjson.loads(r.stdout)
        assert (summary["would_send"], summary["failed"], summary["invalid"], summary["unresolved"]) == (
            120 - len(bad), 36, 12, 24)
        assert summary["requests"] == 0 and summary["check"] is True
        assert fake.stats.puts == 0 and fake.stats.batch_requests == 0 and not fake.associations()
    assert not (tmp_path / "mixed.csv.ledger.sqlite").exists()  # not even the ledger is written
    with out.open(encoding="utf-8") as fh:
        listed = {int(row["line"]): row for row in csv.DictReader(fh)}
    assert {line: row["category"] for line, row in listed.items()} == bad
    ghost = next(row for row in listed.values() if row["category"] == "UNRESOLVED_TO")
    assert ghost["toId"].startswith("email=ghost") and ghost["toId"][6:] in ghost["error"]
    spreadsheet = next(row for row in listed.values() if row["category"] == "INVALID_ROW")
    assert "spreadsheet" in spreadsheet["error"]


async def test_check_then_run_agree(tmp_path: Path) -> None:
    src, bad = _mixed(tmp_path)
    async with FakeHubSpot(portal(200)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, check=True))
        assert fake.stats.puts == 0
        real = await run_async(config(tmp_path, fake.url, src))
        assert (real.succeeded, real.failed + real.invalid) == (s.would_send, len(bad))


async def test_dry_run_writes_its_failed_out(tmp_path: Path) -> None:
    src, bad = _mixed(tmp_path)
    out = tmp_path / "invalid.csv"
    r = await acli("run", str(src), "--from-type", "partner_services", "--dry-run", "--failed-out", str(out),
                   "--json")
    assert r.returncode == 1, r.stderr
    with out.open(encoding="utf-8") as fh:
        lines = {int(row["line"]) for row in csv.DictReader(fh)}
    assert lines == {line for line, category in bad.items() if category == "INVALID_ROW"}


async def test_misspelled_from_type_stops_after_about_fifty_writes(tmp_path: Path) -> None:
    rows = [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(2000)]
    src = write_csv(tmp_path / "links.csv", rows)
    known = {"partner_services": frozenset(service_id(i) for i in range(2000)),
             "contacts": frozenset(contact_id(i) for i in range(2000))}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        # --concurrency 8: the stop comes after 50 answers, and what is in flight then still lands (with
        # `auto` at 5,000/s that is up to 64 requests, as many as the latency seen on a loaded box asks for)
        args = ["run", str(src), "--from-type", "partner_servics", "--base-url", fake.url, "--json", "--no-progress",
                "--rate", "5000/1s", "--concurrency", "8"]
        r = await acli(*args, env=ENV)
        assert r.returncode == 3, r.stderr
        summary = orjson.loads(r.stdout.strip().splitlines()[-1])
        assert summary["aborted"] == "mass_failure"
        assert "--from-type" in summary["message"] and "404" in summary["message"]
        assert fake.stats.puts <= 50 + 8  # the limit, plus what was in flight
        r = await acli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--no-progress", "--rate", "5000/1s", env=ENV)  # fixed: the rerun goes through
        assert r.returncode == 0, r.stderr
        assert len(fake.associations()) == 2000


async def test_mass_failure_switch_off_sends_every_row(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(80)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids={"contacts": frozenset()})) as fake:
        s = await run_async(config(tmp_path, fake.url, src, stop_on_mass_failure=None))
        assert (s.failed, s.aborted, fake.stats.puts) == (80, None, 80)


async def test_no_from_type_anywhere_is_a_usage_error_before_anything_is_written(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(5)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await acli("run", str(src), "--base-url", fake.url, env=ENV)
        assert r.returncode == 2
        assert "--from-type" in r.stderr and "Traceback" not in r.stderr
        assert fake.stats.requests == 0
    assert not (tmp_path / "links.csv.ledger.sqlite").exists()


async def test_misspelled_from_type_in_batch_mode_stops_after_the_first_batch(tmp_path: Path) -> None:
    rows = [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(1000)]
    src = write_csv(tmp_path / "links.csv", rows)
    known = {"partner_services": frozenset(service_id(i) for i in range(1000)),
             "contacts": frozenset(contact_id(i) for i in range(1000))}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, from_type="partner_servics", mode="batch"))
        assert (s.aborted, s.exit_code) == ("mass_failure", 3)
        assert fake.stats.batch_requests <= 8 and fake.stats.batch_inputs <= 800 and not fake.associations()
        assert "partner_servics" in s.message


async def test_jsonl_without_any_from_type_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "links.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"fromId": service_id(i), "toType": "contacts", "toId": contact_id(i),
                                           "type": 9101}) + b"\n" for i in range(5)))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await acli("run", str(src), "--base-url", fake.url, env=ENV)
        assert r.returncode == 2 and "--from-type" in r.stderr, r.stderr
        assert fake.stats.puts == 0


async def test_a_property_that_cannot_be_looked_up_stops_before_any_write(tmp_path: Path) -> None:
    rows = [[legacy(i), "contacts", contact_id(i), "9101"] for i in range(3000)]
    src = write_csv(tmp_path / "links.csv", rows)
    async with FakeHubSpot(portal(10)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, from_id_property="legacy_code"))
        assert (s.aborted, s.exit_code, s.requests) == ("input", 2, 0)
        assert "legacy_code" in s.message and s.lookups <= 25  # the first chunk's, not the file's 30
        assert fake.stats.puts == 0
