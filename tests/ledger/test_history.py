"""Issue 16: fixed rows leave the report; bounded fields; a ledger written before the timeline and the
retired table still resumes; the per-interval timeline is recorded."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import orjson

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ..reliability._harness import TOKEN, arun, last_json

HEADER = "fromId,toType,toId,type\n"
KNOWN = {"partner_services": frozenset({"1", "2", "3", "4"}), "contacts": frozenset({"10", "11", "12", "13"})}


def failed_lines(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as fh:
        return [(r["line"], r["fromId"]) for r in csv.DictReader(fh)]


async def test_fixed_and_dropped_rows_leave_the_report(tmp_path: Path) -> None:
    src = tmp_path / "links.csv"
    ledger = f"{src}.ledger.sqlite"
    out = tmp_path / "failed.csv"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=KNOWN)) as fake:
        async def go(text: str, code: int) -> dict[str, object]:
            src.write_text(HEADER + text)
            r = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                           "--no-progress")
            assert r.returncode == code, r.stderr
            rep = await arun("report", ledger, "--json", "--failed-out", str(out))
            assert rep.returncode == 0
            data = orjson.loads(rep.stdout)
            assert isinstance(data, dict)
            return data

        first = await go("1,contacts,10,1\nx,contacts,11,1\n9,contacts,12,1\n2,contacts,13,1\n", 1)
        assert (first["failed"], first["invalid"]) == (1, 1)
        assert failed_lines(out) == [("3", "x"), ("4", "9")]

        # lines 3 and 4 fixed and re-sent: their old rows leave the report and the failed CSV
        fixed = await go("1,contacts,10,1\n3,contacts,11,1\n4,contacts,12,1\n2,contacts,13,1\n", 0)
        assert (fixed["failed"], fixed["invalid"], fixed["retired"]) == (0, 0, 2)
        assert failed_lines(out) == []

        # a failing row comes back: it is reported again
        back = await go("1,contacts,10,1\n9,contacts,12,1\n", 1)
        assert back["failed"] == 1 and failed_lines(out) == [("3", "9")]

        # and dropped from the input: gone from the report, kept in the ledger
        dropped = await go("1,contacts,10,1\n", 0)
        assert dropped["failed"] == 0 and failed_lines(out) == []
    conn = sqlite3.connect(ledger)
    try:
        kept = conn.execute("SELECT status FROM assoc WHERE from_id = '9'").fetchone()
    finally:
        conn.close()
    assert kept == ("failed",)


async def test_an_aborted_run_retires_nothing(tmp_path: Path) -> None:
    src = tmp_path / "links.csv"
    ledger = f"{src}.ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=KNOWN)) as fake:
        src.write_text(HEADER + "9,contacts,12,1\n")
        assert (await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                           "--no-progress")).returncode == 1
    src.write_text(HEADER + "1,contacts,10,1\n")
    async with FakeHubSpot(FakeConfig(rate=None, token="another")) as wrong:  # 401: the run aborts
        assert (await arun("run", str(src), "--from-type", "partner_services", "--base-url", wrong.url,
                           "--no-progress")).returncode == 3
    rep = orjson.loads((await arun("report", ledger, "--json")).stdout)
    assert rep["failed"] == 1 and rep["retired"] == 0


async def test_a_huge_garbage_field_is_cut_in_ledger_and_report(tmp_path: Path) -> None:
    src = tmp_path / "links.jsonl"
    garbage = "x" * 5_000_000
    src.write_text(orjson.dumps({"fromId": garbage, "toType": "contacts", "toId": "1", "type": 1}).decode() + "\n"
                   + orjson.dumps({"fromId": garbage + "y", "toType": "contacts", "toId": "1", "type": 1}).decode()
                   + "\n")
    r = await arun("run", str(src), "--from-type", "partner_services", "--dry-run", "--json")
    assert last_json(r.stdout)["invalid"] == 2
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--no-progress")
    assert last_json(r.stdout)["invalid"] == 2 and len(r.stderr) < 5_000
    ledger = Path(f"{src}.ledger.sqlite")
    assert ledger.stat().st_size < 200_000
    out = tmp_path / "failed.csv"
    assert (await arun("report", str(ledger), "--failed-out", str(out))).returncode == 0
    text = out.read_text()
    assert len(text) < 5_000 and "chars in all" in text
    with out.open(newline="") as fh:
        ids = [row["fromId"] for row in csv.DictReader(fh)]
    assert len(ids) == 2 and ids[0] != ids[1]  # two different values stay two entries
    assert not Path(f"{ledger}.lock").exists()


async def test_a_ledger_from_before_resumes_and_gains_a_timeline(tmp_path: Path) -> None:
    src = tmp_path / "links.csv"
    src.write_text(HEADER + "".join(f"{i},contacts,{100 + i},1\n" for i in range(1, 41)))
    ledger = f"{src}.ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                "--no-progress", "--timeline-interval", "0.1")
        assert (await arun(*args)).returncode == 0
        conn = sqlite3.connect(ledger)
        try:  # as a ledger written before issue 16 looks: no timeline, no retired table
            conn.execute("DROP TABLE timeline")
            conn.execute("DROP TABLE IF EXISTS retired")
            conn.execute("UPDATE assoc SET status = 'pending' WHERE CAST(from_id AS INTEGER) > 30")
            conn.commit()
        finally:
            conn.close()
        page = tmp_path / "old.html"
        assert (await arun("report", ledger, "--html", str(page))).returncode == 0
        assert "holds no timeline" in page.read_text()
        again = await arun(*args)
    summary = last_json(again.stdout)
    assert again.returncode == 0 and (summary["already_done"], summary["succeeded"]) == (30, 10)
    conn = sqlite3.connect(ledger)
    try:
        starts = conn.execute("SELECT sum(starts), sum(succeeded) FROM timeline").fetchone()
    finally:
        conn.close()
    assert starts[1] == 10 and starts[0] >= 10


async def test_a_ledger_shared_by_two_files_retires_per_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    ledger = str(tmp_path / "shared.sqlite")
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=KNOWN)) as fake:
        async def go(src: Path, text: str) -> dict[str, object]:
            src.write_text(HEADER + text)
            await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--no-progress",
                       "--ledger", ledger)
            data = orjson.loads((await arun("report", ledger, "--json")).stdout)
            assert isinstance(data, dict)
            return data

        assert (await go(a, "9,contacts,12,1\n"))["failed"] == 1
        assert (await go(b, "8,contacts,11,1\n"))["failed"] == 2  # b does not hold a's row: a's stays
        assert (await go(b, "1,contacts,10,1\n"))["failed"] == 1  # b's own failure was fixed in b
        fixed = await go(a, "2,contacts,13,1\n")
        assert (fixed["failed"], fixed["retired"]) == (0, 2)
