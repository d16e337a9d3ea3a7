"""Issue 5, item 1: `kill -9` anywhere costs nothing but a rerun.

One in-process fake HubSpot serves every run of a test, so its store and its per-association PUT counts
span the kills. Before each (re)run we read what the ledger has committed as succeeded; during that run
none of those rows may be PUT again. A kill may cost re-PUTs only of rows whose success was not yet
committed: at most one ledger batch (FLUSH_EVERY outcomes, committed at least every 0.25 s) plus the
requests in flight.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.ledger.store import FLUSH_EVERY

from ._harness import (
    FAST,
    TOKEN,
    Key,
    Result,
    arun,
    assert_no_token,
    finish,
    integrity,
    keys_for,
    last_json,
    num,
    start_cli,
    succeeded,
    wait_until,
    write_links,
)

CONCURRENCY = 8
UNCOMMITTED_MAX = FLUSH_EVERY  # the ledger commits its buffered outcomes at the latest every FLUSH_EVERY rows
KILL_COST = UNCOMMITTED_MAX + CONCURRENCY  # re-PUTs one kill may cause, at most
HOOK = Path(__file__).with_name("_killhook.py")


async def settle(fake: FakeHubSpot) -> None:
    """Let PUTs a dead client left in the fake's socket buffers finish (bounded: ≤ 1 s)."""
    deadline = time.monotonic() + 1.0
    last, quiet = -1, 0
    while quiet < 3 and time.monotonic() < deadline:
        quiet = quiet + 1 if fake.stats.puts == last else 0
        last = fake.stats.puts
        await asyncio.sleep(0.02)


class Books:
    """Keeps the accounts across runs: committed successes must never be PUT again."""

    def __init__(self, fake: FakeHubSpot, ledger: Path) -> None:
        self.fake, self.ledger = fake, ledger
        self.lost_total = 0
        self.runs = 0

    def before(self) -> None:
        self.committed = succeeded(self.ledger)
        self.counts: Counter[Key] = Counter(self.fake.stats.put_counts)

    def after(self, result: Result) -> int:
        """Check the run that just ended; return how many of its PUTs were not committed (lost)."""
        self.runs += 1
        counts = self.fake.stats.put_counts
        again = {k for k in self.committed if counts[k] != self.counts[k]}
        assert not again, f"run {self.runs}: {len(again)} rows committed as succeeded were PUT again"
        put_now = {k for k, n in counts.items() if n > self.counts[k]}
        assert all(counts[k] - self.counts[k] == 1 for k in put_now), "a row was PUT twice in one run"
        now_committed = succeeded(self.ledger)
        assert self.committed <= now_committed, "a committed success disappeared from the ledger"
        lost = put_now - now_committed
        assert len(lost) <= KILL_COST, f"run {self.runs} lost the record of {len(lost)} PUTs"
        if result.returncode == 0:
            assert not lost
        self.lost_total += len(lost)
        if self.ledger.exists():
            assert integrity(self.ledger) == "ok"
        return len(lost)

    async def run(self, *args: str, expect: int, timeout: float, prefix: Sequence[str] = ("-m", "bulkassoc"),
                  extra_env: Mapping[str, str] | None = None) -> Result:
        """One CLI run to its end, in the books: it must exit `expect` (-9: killed by the hook)."""
        self.before()
        result = await arun(*args, prefix=prefix, extra_env=extra_env, timeout=timeout)
        assert result.returncode == expect, result.stderr
        await settle(self.fake)
        self.after(result)
        return result


async def kill_moment(mode: str, arg: float, fake: FakeHubSpot, proc: asyncio.subprocess.Process,
                      wal: Path) -> None:
    """Return at the moment to kill: `arg` s after start, after `arg` PUTs of this run, or at the
    `arg`-th change of the WAL file once this run's PUTs have begun."""
    puts0 = fake.stats.puts
    if mode == "start":
        await asyncio.sleep(arg)
        return
    if mode == "puts":
        await wait_until(lambda: fake.stats.puts - puts0 >= arg, 30, f"{arg} PUTs", proc=proc)
        return
    changes = 0
    seen = (-1, -1)

    def wal_changed() -> bool:
        nonlocal changes, seen
        if fake.stats.puts == puts0:  # count the commits made once writes have begun
            return False
        try:
            st = wal.stat()
            now = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            now = (-1, -1)
        if now != seen:
            changes += seen != (-1, -1)
            seen = now
        return changes >= arg

    await wait_until(wal_changed, 30, f"WAL change {arg}", proc=proc)


async def test_sigkill_at_seeded_moments_then_rerun_loses_nothing(tmp_path: Path) -> None:
    n = 3000
    src = write_links(tmp_path / "links.csv", n)
    with src.open("a") as fh:  # repeats: sent once, counted as duplicates, never block exit 0
        fh.writelines(f"{10_000 + i},contacts,{900_000 + i},1\n" for i in range(0, n, 30))
    ledger = tmp_path / "links.sqlite"
    wal = Path(f"{ledger}-wal")
    rng = random.Random(0x5EED_0001)
    # Six kills: right after start-up (reading, opening, admitting), after k PUTs, and on the m-th change
    # of the WAL file once PUTs have begun (a commit is being written or has just been written).
    plan: list[tuple[str, float]] = [("start", rng.uniform(0.05, 0.4)), ("wal", rng.randint(1, 3))]
    plan += [(rng.choice(("puts", "puts", "wal")), 0.0) for _ in range(4)]
    plan = [(mode, arg or (rng.randint(1, 900) if mode == "puts" else rng.randint(1, 4))) for mode, arg in plan]
    rng.shuffle(plan)

    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--concurrency", str(CONCURRENCY), *FAST]
        books = Books(fake, ledger)
        kills = 0
        for mode, arg in plan:
            books.before()
            started = time.monotonic()
            proc = await start_cli(*args)
            try:
                await kill_moment(mode, arg, fake, proc, wal)
            finally:
                if proc.returncode is None:
                    proc.kill()
            result = await finish(proc, 30, started)
            assert result.returncode in (-9, 0), result.stderr
            kills += result.returncode == -9
            await settle(fake)
            books.after(result)

        # then rerun until exit 0 (one rerun must do, no fault is left)
        final = await books.run(*args, expect=0, timeout=60)
        summary = last_json(final.stdout)
        assert num(summary, "duplicates") == n // 30 and num(summary, "pending") == 0
        assert num(summary, "already_done") + num(summary, "succeeded") == n

        assert kills >= 5
        assert fake.associations() == keys_for(n)  # every valid pair is stored
        extra = fake.stats.puts - n
        assert extra == books.lost_total  # every extra PUT is one whose success a kill kept from the ledger
        assert extra <= kills * KILL_COST
    assert integrity(ledger) == "ok"
    assert succeeded(ledger) == keys_for(n)
    assert_no_token(files=[ledger])  # nor in a WAL left by a kill


# Kill points inside the ledger's own statements: the moments an external signal is unlikely to hit.
KILL_POINTS = [
    pytest.param("INSERT INTO runs", 1, id="after-schema-before-run-row"),
    pytest.param("INSERT OR IGNORE INTO assoc", 700, id="mid-admission-transaction"),
    pytest.param("UPDATE assoc SET status", 300, id="mid-outcome-flush-transaction"),
    pytest.param("^COMMIT", 4, id="at-a-commit"),
    # a chunk's digest is written in the transaction of its last outcomes: both or neither survive
    pytest.param("INSERT OR REPLACE INTO settled_chunks", 1, id="mid-settled-chunk-flush"),
    pytest.param("UPDATE runs SET finished_at", 1, id="at-the-final-summary"),
    # was a bug: a kill between CREATE TABLE and PRAGMA application_id left a file every rerun refused
    pytest.param("CREATE TABLE IF NOT EXISTS runs", 1, id="mid-ledger-creation"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("statement", "nth"), KILL_POINTS)
async def test_sigkill_inside_a_ledger_statement_then_rerun_completes(tmp_path: Path, statement: str,
                                                                      nth: int) -> None:
    n = 1100
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--concurrency", str(CONCURRENCY), *FAST]
        books = Books(fake, ledger)
        await books.run(*args, expect=-9, timeout=30, prefix=(str(HOOK),),
                        extra_env={"KILL_AT_SQL": statement, "KILL_AT_NTH": str(nth)})
        await books.run(*args, expect=0, timeout=30)
        assert fake.associations() == keys_for(n)
        assert fake.stats.puts - n == books.lost_total <= KILL_COST
