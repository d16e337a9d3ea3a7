"""The real CLI in subprocesses: exit codes, JSON summary, report, and the failed-rows round trip."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest

from bulkassoc import Rate
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from .._support import TOKEN, acli, cli, simple_rows, write_csv

ENV = {"HUBSPOT_ACCESS_TOKEN": TOKEN}
SUMMARY_KEYS = {"rows", "invalid", "duplicates", "already_done", "skipped_failed", "succeeded", "failed",
                "pending", "requests", "retries", "throttled", "elapsed_s", "aborted", "exit_code"}


def last_json(stdout: str) -> dict[str, object]:
    data = orjson.loads(stdout.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


async def test_exit_codes_json_and_failed_rows_round_trip(tmp_path: Path) -> None:
    rows = [*simple_rows(6), ["oops", "contacts", "1", "1"]]
    src = write_csv(tmp_path / "links.csv", rows)
    known = {"partner_services": frozenset(str(1000 + i) for i in range(5)),
             "contacts": frozenset(str(500000 + i) for i in range(6))}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                "--no-progress"]
        r = await acli(*args, env=ENV)
        assert r.returncode == 1, r.stderr
        summary = last_json(r.stdout)
        assert set(summary) >= SUMMARY_KEYS
        assert (summary["succeeded"], summary["failed"], summary["invalid"]) == (5, 1, 1)
        assert TOKEN not in r.stdout + r.stderr

        ledger = Path(f"{src}.ledger.sqlite")
        rep = await acli("report", str(ledger), "--json")
        assert rep.returncode == 0
        report = orjson.loads(rep.stdout)
        assert (report["total"], report["succeeded"], report["failed"], report["invalid"]) == (7, 5, 1, 1)
        assert report["by_status"] == {"404": 1}

        failed_csv = tmp_path / "failed.csv"
        assert (await acli("report", str(ledger), "--failed-out", str(failed_csv))).returncode == 0
        with failed_csv.open(newline="") as fh:
            records = list(csv.DictReader(fh))
        assert [r["fromId"] for r in records] == ["1005", "oops"]
        assert records[0]["status"] == "404" and records[0]["category"] == "OBJECT_NOT_FOUND"
        assert records[1]["category"] == "INVALID_ROW" and records[1]["line"] == "8"
        assert TOKEN not in failed_csv.read_text()
        assert TOKEN.encode() not in ledger.read_bytes()

    # the failed rows file is valid input: fix the portal, feed it back with the same ledger
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fixed:
        r = await acli("run", str(failed_csv), "--ledger", str(ledger), "--base-url", fixed.url, "--json",
                "--no-progress", env=ENV)
        again = last_json(r.stdout)
        assert (again["succeeded"], again["invalid"], r.returncode) == (1, 1, 1)
        assert fixed.stats.puts == 1


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--from-type", "partner_services"], {"HUBSPOT_ACCESS_TOKEN": ""}, "HUBSPOT_ACCESS_TOKEN"),
        (["--from-type", "partner_services", "--token-env", "MY_TOKEN"], {"MY_TOKEN": ""}, "MY_TOKEN"),
        (["--from-type", "partner_services", "--base-url", "http://example.com"], ENV, "http://"),
        (["--from-type", "partner_services", "--rate", "fast"], ENV, "rate"),
        (["--from-type", "bad type!"], ENV, "object type"),
        (["--from-type", "partner_services", "--concurrency", "0"], ENV, "concurrency"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(tmp_path: Path, args: list[str], env: dict[str, str],
                                                  needle: str) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(2))
    r = cli("run", str(src), "--base-url", "http://127.0.0.1:9", *args, env=env) if "--base-url" not in args \
        else cli("run", str(src), *args, env=env)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert not Path(f"{src}.ledger.sqlite").exists()


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("nocol.csv", "fromId,toType,toId\n1,contacts,2\n", "type"),
        ("empty.csv", "", "empty"),
        ("links.txt", "fromId,toType,toId,type\n", "--format"),
    ],
)
def test_unusable_input_exits_2(tmp_path: Path, name: str, content: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    r = cli("run", str(path), "--from-type", "partner_services", "--base-url", "http://127.0.0.1:9", env=ENV)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_file_and_bad_ledger(tmp_path: Path) -> None:
    r = cli("run", str(tmp_path / "nope.csv"), "--from-type", "partner_services", env=ENV)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    src = write_csv(tmp_path / "links.csv", simple_rows(1))
    r = cli("run", str(src), "--from-type", "partner_services", "--ledger", str(junk),
            "--base-url", "http://127.0.0.1:9", env=ENV)
    assert r.returncode == 2 and "ledger" in r.stderr and "Traceback" not in r.stderr
    r = cli("report", str(junk))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_stdin_needs_format_and_ledger(tmp_path: Path) -> None:
    r = cli("run", "-", "--from-type", "partner_services", "--format", "csv", env=ENV, input_bytes=b"")
    assert r.returncode == 2 and "--ledger" in r.stderr


def test_dry_run_needs_no_token(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(3))
    r = cli("run", str(src), "--from-type", "partner_services", "--dry-run", "--json",
            env={"HUBSPOT_ACCESS_TOKEN": ""})
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)["would_send"] == 3
    assert not Path(f"{src}.ledger.sqlite").exists()


def test_env_var_options(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(2))
    r = cli("run", str(src), "--dry-run", "--json", env={"BULKASSOC_FROM_TYPE": "partner_clients"})
    assert r.returncode == 0, r.stderr
    r = cli("run", str(src), "--dry-run", env={"BULKASSOC_RATE": "nonsense"})
    assert r.returncode == 2


async def test_sigint_exits_3_and_rerun_completes(tmp_path: Path) -> None:
    """A run interrupted mid-way prints its summary, exits 3, and the rerun finishes the rest."""
    src = write_csv(tmp_path / "links.csv", simple_rows(400))
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json", "--no-progress"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bulkassoc", *args, "--rate", "100/1s", env={**os.environ, **ENV},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            for _ in range(2000):  # bounded: until it is well under way
                if fake.stats.puts >= 60:
                    break
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 3, err
        first = last_json(out.decode())
        assert first["aborted"] == "interrupted"
        assert 0 < int(first["succeeded"]) < 400  # type: ignore[call-overload]
        r = await acli(*args, "--rate", "1000/1s", env=ENV)
        second = last_json(r.stdout)
        assert r.returncode == 0
        assert second["already_done"] == first["succeeded"]
        assert int(second["succeeded"]) + int(first["succeeded"]) == 400  # type: ignore[call-overload]
        assert max(fake.stats.put_counts.values()) == 1  # nothing settled was sent twice


def test_second_run_on_a_held_ledger_is_refused(tmp_path: Path) -> None:
    from bulkassoc.ledger.store import Ledger

    src = write_csv(tmp_path / "links.csv", simple_rows(2))
    holder = Ledger(Path(f"{src}.ledger.sqlite"))
    holder.open("other run")
    try:
        r = cli("run", str(src), "--from-type", "partner_services", "--base-url", "http://127.0.0.1:9", env=ENV)
        assert r.returncode == 2
        assert "in use" in r.stderr
    finally:
        holder.close()


async def test_progress_line_when_asked(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(60))
    async with FakeHubSpot(FakeConfig(rate=Rate(100, 1.0), token=TOKEN)) as fake:
        r = await acli("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--rate", "60/1s",
                "--progress", "--log-interval", "0.3", env=ENV)
    assert r.returncode == 0
    assert "req/s" in r.stderr and "done" in r.stderr
    assert "\r" not in r.stderr  # stderr is a pipe here: timestamped lines, not a redrawn line
