"""Issue 5, item 8: ledger faults → a clear message, the right exit code, and nothing lost.

Unwritable path, a full disk (simulated with RLIMIT_FSIZE: writes past the limit fail with EFBIG, as they
would on a full device), a ledger shared with another input or written for another portal, a corrupted
ledger, and a second run on a ledger that a live run holds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._harness import (
    FAST,
    TOKEN,
    Result,
    arun,
    finish,
    integrity,
    keys_for,
    last_json,
    no_traceback,
    num,
    start_cli,
    succeeded,
    wait_until,
    write_links,
)

CONCURRENCY = 8
KILL_COST = 512 + CONCURRENCY  # see test_kill: what one lost ledger batch can cost in repeated PUTs


def one_clear_line(result: Result, *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulkassoc: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    no_traceback(result.stderr)


# --------------------------------------------------------------------------------- unwritable


def _under_a_file(tmp: Path) -> Path:
    (tmp / "file.txt").write_text("a regular file, not a folder\n")
    return tmp / "file.txt" / "ledger.sqlite"


def _in_a_readonly_folder(tmp: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the other cases cover an unwritable path")
    folder = tmp / "ro"
    folder.mkdir(mode=0o500)
    return folder / "ledger.sqlite"


@pytest.mark.parametrize("where", [
    pytest.param(_under_a_file, id="parent-is-a-file"),
    pytest.param(lambda tmp: Path("/proc/bulkassoc-ledger.sqlite"), id="unwritable-filesystem"),
    pytest.param(lambda tmp: tmp / "missing" / "ledger.sqlite", id="folder-missing"),
    pytest.param(_in_a_readonly_folder, id="read-only-folder"),
])
async def test_unwritable_ledger_path_is_refused_before_any_request(tmp_path: Path,
                                                                   where: Callable[[Path], Path]) -> None:
    ledger = where(tmp_path)
    src = write_links(tmp_path / "links.csv", 50)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                            "--base-url", fake.url, *FAST, timeout=30)
        assert result.returncode == 2, result.stderr
        one_clear_line(result, str(ledger))
        assert fake.stats.requests == 0


# ----------------------------------------------------------------------------------- disk full

FSIZE_WRAPPER = (
    "import resource, runpy, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"  # a write past the limit fails (EFBIG) instead of killing
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "runpy.run_module('bulkassoc', run_name='__main__', alter_sys=True)\n"
)


async def test_disk_full_mid_run_aborts_resumably_and_the_rerun_loses_nothing(tmp_path: Path) -> None:
    n = 2000
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger), "--base-url", fake.url,
                "--concurrency", str(CONCURRENCY), *FAST]
        # 150 kB: room for the schema and the first chunk, not for the whole run
        full = await arun(*args, prefix=("-c", FSIZE_WRAPPER, "150000"), timeout=30)
        assert full.returncode == 3, full.stderr
        summary = last_json(full.stdout)
        assert summary["aborted"] == "ledger"
        assert str(ledger) in str(summary["message"]) and "sent again" in str(summary["message"])
        assert "aborted (ledger)" in full.stderr
        no_traceback(full.stderr)
        assert num(summary, "requests") < n  # it stopped instead of sending everything unrecorded
        assert integrity(ledger) == "ok"
        committed = succeeded(ledger)
        sent_before = set(fake.stats.put_counts)
        assert committed <= sent_before

        rerun = await arun(*args, timeout=30)  # space freed
        assert rerun.returncode == 0, rerun.stderr
        assert fake.associations() == keys_for(n)
        assert all(fake.stats.put_counts[k] == 1 for k in committed)
        assert fake.stats.puts - n == len(sent_before - committed) <= KILL_COST


# ------------------------------------------------------------------ another input, another portal


async def test_a_ledger_shared_by_another_input_sends_only_new_pairs(tmp_path: Path) -> None:
    """One ledger, two files that overlap (a nightly sync): the second run sends only what is new."""
    a = write_links(tmp_path / "monday.csv", 600)
    b = write_links(tmp_path / "tuesday.csv", 600, start=10_300)  # rows 300..599 of monday again, then 300 new
    ledger = tmp_path / "shared.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        for src in (a, b):
            result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                                "--base-url", fake.url, *FAST, timeout=30)
            assert result.returncode == 0, result.stderr
        second = last_json(result.stdout)
        assert (num(second, "already_done"), num(second, "succeeded")) == (300, 300)
        assert fake.stats.puts == 900 and max(fake.stats.put_counts.values()) == 1
        assert fake.associations() == keys_for(900)
    assert succeeded(ledger) == keys_for(900)


async def test_a_ledger_of_another_portal_is_refused_before_any_write(tmp_path: Path) -> None:
    src = write_links(tmp_path / "links.csv", 50)
    ledger = tmp_path / "links.sqlite"
    args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger), *FAST]
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=111)) as first:
        assert (await arun(*args, "--base-url", first.url, timeout=30)).returncode == 0
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=222)) as other:
        result = await arun(*args, "--base-url", other.url, timeout=30)
        assert result.returncode == 2, result.stderr
        assert "111" in result.stderr and "222" in result.stderr
        no_traceback(result.stderr)
        assert other.stats.puts == 0
    assert succeeded(ledger) == keys_for(50)  # the ledger is unharmed


# ---------------------------------------------------------------------------------- corruption


def _overwrite(offset: Callable[[int], int], data: Callable[[int], bytes]) -> Callable[[BinaryIO, int], None]:
    def corrupt(fh: BinaryIO, size: int) -> None:
        fh.seek(offset(size))
        fh.write(data(size))

    return corrupt


def damage(path: Path, corrupt: Callable[[BinaryIO, int], None], size: int) -> None:
    with path.open("r+b") as fh:
        corrupt(fh, size)


def _truncate(fh: BinaryIO, size: int) -> None:
    fh.truncate(size // 2)


PAGE = 4096
CORRUPTIONS = [
    pytest.param(_truncate, id="truncated-to-half"),
    pytest.param(_overwrite(lambda size: 0, lambda size: b"\0" * 100), id="header-zeroed"),
    # these two were a bug: exit 3 and "rerun the same command to resume", which failed the same way forever
    pytest.param(_overwrite(lambda size: 5 * PAGE, lambda size: bytes(range(256)) * 48), id="pages-overwritten"),
    pytest.param(_overwrite(lambda size: size - PAGE, lambda size: b"\xff" * PAGE), id="last-page-overwritten"),
]


@pytest.fixture(scope="module")
def good_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ledger with 1500 succeeded rows, made once by a real run (copied for each corruption)."""
    tmp = tmp_path_factory.mktemp("good")
    src = write_links(tmp / "links.csv", 1500)
    ledger = tmp / "links.sqlite"

    async def make() -> None:
        async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
            result = await arun("run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                                "--base-url", fake.url, *FAST, timeout=30)
            assert result.returncode == 0, result.stderr

    asyncio.run(make())
    assert not Path(f"{ledger}-wal").exists()  # a finished run leaves one self-contained file
    return src, ledger


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
async def test_a_corrupted_ledger_is_refused_with_exit_2_and_nothing_is_sent(
        tmp_path: Path, good_ledger: tuple[Path, Path], corrupt: Callable[[BinaryIO, int], None]) -> None:
    src, good = good_ledger
    ledger = tmp_path / "links.sqlite"
    shutil.copy(good, ledger)
    damage(ledger, corrupt, good.stat().st_size)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger), "--base-url", fake.url,
                *FAST]
        result = await arun(*args, timeout=30)
        assert fake.stats.puts == 0
        assert result.returncode == 2, result.stderr
        one_clear_line(result, str(ledger))
        report = await arun("report", str(ledger), timeout=30)
        assert report.returncode == 2
        one_clear_line(report, str(ledger))
        # nothing is lost: with the damaged file moved aside, a fresh ledger completes the job
        ledger.rename(tmp_path / "damaged.sqlite")
        fresh = await arun(*args, timeout=30)
        assert fresh.returncode == 0, fresh.stderr
        assert fake.associations() == keys_for(1500)


@pytest.mark.slow
async def test_a_garbled_wal_after_a_kill_costs_only_repeated_puts(tmp_path: Path) -> None:
    """The WAL of a killed run is damaged: SQLite drops the damaged frames (their outcomes are lost),
    the rerun sends those rows again, and every pair ends up stored."""
    n = 1200
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger), "--base-url", fake.url,
                *FAST]
        proc = await start_cli(*args)
        try:
            await wait_until(lambda: fake.stats.puts >= 800, 30, "800 PUTs", proc=proc)
        finally:
            proc.kill()
            killed = await finish(proc, 10)
        assert killed.returncode == -signal.SIGKILL
        wal = Path(f"{ledger}-wal")
        size = wal.stat().st_size
        assert size > 3 * PAGE
        damage(wal, _overwrite(lambda size: size // 2, lambda size: b"\xa5" * PAGE), size)
        rerun = await arun(*args, timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        assert fake.associations() == keys_for(n)
    assert integrity(ledger) == "ok" and succeeded(ledger) == keys_for(n)


# ------------------------------------------------------------------------------ concurrent runs


async def _two_runs(tmp_path: Path, second_ledger: Callable[[Path], Path]) -> None:
    """A slow first run holds the ledger; a fast second one must be refused. Then the first is stopped
    (SIGINT) and a rerun finishes the job: no row is ever sent twice."""
    n = 1200
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        def args(path: Path, rate: str) -> list[str]:
            return ["run", str(src), "--from-type", "partner_services", "--ledger", str(path),
                    "--base-url", fake.url, "--rate", rate, "--no-progress", "--json"]

        first = await start_cli(*args(ledger, "200/1s"))  # 6 s of work: it is alive while the second starts
        try:
            await wait_until(lambda: fake.stats.puts > 0, 30, "the first run's first PUT", proc=first)
            second = await arun(*args(second_ledger(ledger), "5000/1s"), timeout=30)
            assert second.returncode == 2, second.stderr
            one_clear_line(second, "in use")
            assert first.returncode is None, "the first run ended before the second started: no race tested"
            first.send_signal(signal.SIGINT)
        finally:
            stopped = await finish(first, 30)
        assert stopped.returncode == 3, stopped.stderr
        rerun = await arun(*args(ledger, "5000/1s"), timeout=30)
        assert rerun.returncode == 0, rerun.stderr
        assert fake.associations() == keys_for(n)
        assert max(fake.stats.put_counts.values()) == 1  # nobody sent a row twice


async def test_a_second_run_on_a_live_ledger_is_refused(tmp_path: Path) -> None:
    await _two_runs(tmp_path, lambda ledger: ledger)


async def test_a_second_run_through_a_symlink_to_the_live_ledger_is_refused(tmp_path: Path) -> None:
    """Was a bug: the lock was '<path>.lock' as spelled, so two runs shared the ledger and sent every row."""
    def alias(ledger: Path) -> Path:
        link = ledger.with_name("current.sqlite")
        link.symlink_to(ledger.name)
        return link

    await _two_runs(tmp_path, alias)
