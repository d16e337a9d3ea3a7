"""Issue 16: one vocabulary, environment variables named after the options, verify refusing to check
nothing, report's exit code for scripts, messages that name real options, rerun advice only where it helps."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ..reliability._harness import TOKEN, arun, last_json, no_traceback, num, run, write_links


def test_help_shows_the_variables() -> None:
    r = run("run", "--help")
    assert r.returncode == 0
    for var in ("BULKASSOC_JSON", "BULKASSOC_FORMAT", "BULKASSOC_RATE", "BULKASSOC_LOG_FILE",
                "BULKASSOC_RETRY_FAILED", "BULKASSOC_PROGRESS"):
        assert var in r.stdout, var
    assert "BULKASSOC_JSON" in run("verify", "--help").stdout
    assert "BULKASSOC_EXIT_CODE" in run("report", "--help").stdout
    assert "auto" in r.stdout and "150/10s on" in r.stdout  # which rate, said right


def test_a_bad_value_names_the_variable(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 2)
    r = run("run", str(src), "--from-type", "partner_services", "--dry-run", extra_env={"BULKASSOC_RATE": "fast"})
    assert r.returncode == 2
    assert "BULKASSOC_RATE" in r.stderr and "'fast' is not a rate" in r.stderr
    r = run("run", str(src), "--from-type", "partner_services", "--dry-run", extra_env={"BULKASSOC_FORMAT": "xml"})
    assert r.returncode == 2 and "BULKASSOC_FORMAT" in r.stderr


@pytest.mark.parametrize(("env", "json_out"), [
    ({"BULKASSOC_JSON": "1"}, True), ({"BULKASSOC_AS_JSON": "1"}, True), ({}, False)])
def test_json_from_the_environment(tmp_path: Path, env: dict[str, str], json_out: bool) -> None:
    src = write_links(tmp_path / "links.csv", 3)
    r = run("run", str(src), "--from-type", "partner_services", "--dry-run", extra_env=env)
    assert r.returncode == 0, r.stderr
    assert (r.stdout.strip() != "") is json_out
    if json_out:
        assert last_json(r.stdout)["would_send"] == 3


def test_format_from_the_environment(tmp_path: Path) -> None:
    src = tmp_path / "links.txt"
    src.write_text("fromId,toType,toId,type\n1,contacts,2,1\n")
    r = run("run", str(src), "--from-type", "partner_services", "--dry-run", "--json",
            extra_env={"BULKASSOC_FORMAT": "csv"})
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)["rows"] == 1


async def test_verify_refuses_to_check_nothing(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 50)  # no fromType column, and no --from-type
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await arun("verify", str(src), "--base-url", fake.url, "--json", "--no-progress")
        assert r.returncode == 2, r.stderr
        summary = last_json(r.stdout)
        assert summary["aborted"] == "input" and summary["rows"] == 50 and summary["invalid"] == 50
        assert "nothing to check: all 50 rows are invalid (first: line 2: " in r.stderr
        assert "fromType" in r.stderr
        assert fake.stats.requests == 0
        no_traceback(r.stderr)

        # with the type, the same file is checked; rows means what it means for run
        ok = await arun("verify", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                        extra_env={"BULKASSOC_PROGRESS": "0"})
        summary = last_json(ok.stdout)
        assert ok.returncode == 1 and (summary["rows"], summary["checked"], summary["missing"]) == (50, 50, 50)


async def test_verify_counts_a_repeat_in_a_later_chunk_as_a_duplicate(tmp_path: Path) -> None:
    src = tmp_path / "links.csv"
    row = "partner_services,1,contacts,10,1"
    src.write_text("fromType,fromId,toType,toId,type\n" + row + "\n"
                   + "".join(f"partner_services,{i},contacts,10,1\n" for i in range(2, 1200)) + row + "\n")
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await arun("verify", str(src), "--base-url", fake.url, "--json", "--no-progress")
    s = last_json(r.stdout)
    assert (s["rows"], s["duplicates"], s["checked"]) == (1200, 1, 1199)
    assert num(s, "present") + num(s, "missing") == s["checked"]


async def test_report_exit_code_and_messages(tmp_path: Path) -> None:
    src = tmp_path / "links.csv"
    src.write_text("fromId,toType,toId,type\n1,contacts,2,1\nx,contacts,3,1\n")
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        r = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--no-progress")
    assert r.returncode == 1
    assert "rerun" not in r.stderr  # nothing to resume: the invalid row must be fixed
    assert "failed INVALID_ROW: 1  e.g. line 3: " in r.stderr
    ledger = f"{src}.ledger.sqlite"
    assert (await arun("report", ledger)).returncode == 0  # the contract's use: 0 whatever it found
    flagged = await arun("report", ledger, "--exit-code")
    assert flagged.returncode == 1
    wrong = await arun("report", str(src))
    assert wrong.returncode == 2
    assert "--ledger" not in wrong.stderr and "is not a bulkassoc ledger" in wrong.stderr


async def test_no_rerun_advice_after_a_refused_token(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 3)
    async with FakeHubSpot(FakeConfig(rate=None, token="other")) as fake:
        r = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--json",
                       "--no-progress")
    assert r.returncode == 3
    assert "rerun the same command to resume;" not in r.stderr
    assert "fix the token or its scopes, then rerun" in r.stderr


def test_run_summary_json_keeps_the_contract_keys(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 2)
    r = run("run", str(src), "--from-type", "partner_services", "--dry-run", "--json")
    data = orjson.loads(r.stdout)
    assert {"rows", "invalid", "duplicates", "already_done", "skipped_failed", "succeeded", "failed", "pending",
            "requests", "retries", "throttled", "elapsed_s", "aborted", "exit_code"} <= set(data)
    assert {"rate", "rate_source", "top_failures"} <= set(data)
    assert not Path(f"{src}.ledger.sqlite").exists()


async def test_verify_progress_lines_off_a_terminal(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 50)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, latency_ms=1000, seed=1)) as fake:
        r = await arun("verify", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                       "--log-interval", "0.2")
        quiet = await arun("verify", str(src), "--from-type", "partner_services", "--base-url", fake.url,
                           "--no-progress", "--log-interval", "0.2")
    lines = [ln for ln in r.stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ done ", ln)]
    assert len(lines) >= 2 and all(" missing " in ln and "/50 " in ln for ln in lines), r.stderr
    assert "\r" not in r.stderr
    assert not re.search(r"Z done ", quiet.stderr)
