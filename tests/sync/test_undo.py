"""`bulkassoc undo` (issue 15): a migration undone leaves HubSpot exactly as it was; a kill during undo
costs a rerun and no delete is sent twice for a row recorded as undone."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
from pathlib import Path

from bulkassoc import Rate, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.ledger.report import read_report
from bulkassoc.sync.undo import UndoConfig, undo_async

from ..reliability._harness import finish, last_json, start_cli, wait_until
from ._setup import FAST, LABEL, TOKEN, USER_LABELS, Key, config, key, write_rows

ROWS = [key(i, 70_000 + i) for i in range(1, 10_001)]
EXISTED = ROWS[:2000]  # 2,000 of the migration's rows are in HubSpot already
# a label on 300 pairs the migration creates its default type for, and links outside the file
OTHERS = [key(i, 70_000 + i, LABEL) for i in range(5001, 5301)] + [key(i, 99_000 + i) for i in range(1, 200)]
BEFORE = frozenset(EXISTED + OTHERS)


def undo_config(fake: FakeHubSpot, ledger: Path, **kw: object) -> UndoConfig:
    base: dict[str, object] = {"ledger": str(ledger), "base_url": fake.url, "token": TOKEN,
                               "token_env": "HUBSPOT_ACCESS_TOKEN", "rate": Rate(5000, 1.0), "retry": FAST}
    base.update(kw)
    return UndoConfig(**base)  # type: ignore[arg-type]


def statuses(ledger: Path) -> dict[Key, str]:
    with sqlite3.connect(ledger) as conn:
        return {(a, b, c, d, e): s for a, b, c, d, e, s in conn.execute(
            "SELECT from_type, from_id, to_type, to_id, type, status FROM assoc")}


async def migrate(tmp_path: Path, fake: FakeHubSpot) -> Path:
    src = write_rows(tmp_path / "links.csv", ROWS)
    s = await run_async(config(tmp_path, fake.url, src))
    assert (s.succeeded, s.present, s.created, s.exit_code) == (10_000, 2000, 8000, 0)
    assert fake.associations() == BEFORE | set(ROWS)
    return tmp_path / "ledger.sqlite"


async def test_undo_restores_the_exact_association_set(tmp_path: Path) -> None:
    fake_config = FakeConfig(rate=Rate(1000, 1.0), token=TOKEN, existing=BEFORE, user_labels=USER_LABELS,
                             unlabeled_wipes=True)
    async with FakeHubSpot(fake_config) as fake:
        ledger = await migrate(tmp_path, fake)
        dry = await undo_async(undo_config(fake, ledger, dry_run=True), rand=random.random)
        assert (dry.to_undo, dry.undone, dry.requests, dry.exit_code) == (8000, 0, 0, 0)
        assert fake.stats.deletes == 0
        u = await undo_async(undo_config(fake, ledger), rand=random.random)
        assert (u.to_undo, u.undone, u.failed, u.unknown, u.exit_code) == (8000, 8000, 0, 0, 0)
        assert fake.associations() == BEFORE  # the full set, labels on the 300 pairs included
        assert u.to_dict()["deleted"] == 8000
        assert set(fake.stats.delete_counts) == set(ROWS[2000:])  # only the created type, never the label
        after = statuses(ledger)
        assert sum(s == "undone" for s in after.values()) == 8000
        assert all(after[k] == "succeeded" for k in EXISTED)
        report = read_report(ledger)
        assert (report.undone, report.succeeded, report.total) == (8000, 2000, 10_000)
        sent = fake.stats.deletes
        again = await undo_async(undo_config(fake, ledger), rand=random.random)
        assert (again.to_undo, again.undone, again.exit_code) == (0, 0, 0)
        assert fake.stats.deletes == sent  # nothing sent for rows already undone
        # a run after the undo writes the rows again (undone is not succeeded)
        s = await run_async(config(tmp_path, fake.url, tmp_path / "links.csv"))
        assert (s.already_done, s.created, s.present) == (2000, 8000, 0)


async def test_kill_9_during_undo_then_rerun(tmp_path: Path) -> None:
    fake_config = FakeConfig(rate=Rate(1000, 1.0), token=TOKEN, existing=BEFORE, user_labels=USER_LABELS,
                             unlabeled_wipes=True)
    async with FakeHubSpot(fake_config) as fake:
        ledger = await migrate(tmp_path, fake)
        args = ("undo", str(ledger), "--base-url", fake.url, "--rate", "40/1s", "--json")
        proc = await start_cli(*args, extra_env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        try:
            await wait_until(lambda: fake.stats.deletes >= 10, 30, "ten archive calls", proc=proc)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            await finish(proc, 10)
        done_at_kill = {k for k, s in statuses(ledger).items() if s == "undone"}
        assert 0 < len(done_at_kill) < 8000
        counts_at_kill = dict(fake.stats.delete_counts)
        rerun = await finish(await start_cli(*args[:-3], "--rate", "5000/1s", "--json",
                                             extra_env={"HUBSPOT_ACCESS_TOKEN": TOKEN}), 60)
        assert rerun.returncode == 0, rerun.stderr
        summary = last_json(rerun.stdout)
        assert summary["undone"] == 8000 - len(done_at_kill)
        assert fake.associations() == BEFORE
        counts = fake.stats.delete_counts
        assert all(counts[k] == counts_at_kill[k] == 1 for k in done_at_kill), "a done row was deleted twice"
        assert set(counts) == set(ROWS[2000:]) and max(counts.values()) <= 2


async def test_undo_refuses_a_ledger_of_another_portal(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "links.csv", ROWS[:50])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=111)) as first:
        s = await run_async(config(tmp_path, first.url, src))
        assert s.created == 50
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, portal_id=222)) as other:
        r = await finish(await start_cli("undo", str(tmp_path / "ledger.sqlite"), "--base-url", other.url, "--json",
                                         extra_env={"HUBSPOT_ACCESS_TOKEN": TOKEN}), 30)
        assert r.returncode == 2, r.stderr
        assert last_json(r.stdout)["aborted"] == "portal" and other.stats.deletes == 0
        assert "belongs to" in r.stderr and TOKEN not in r.stderr + r.stdout


async def test_undo_keeps_many_calls_on_the_wire_and_ends_exact(tmp_path: Path) -> None:
    """Issue 13: undo's calls go out side by side (the caller's in-flight gate sizes them), batches stay full,
    and the end state is the same as one call at a time gives: with HubSpot's unlabeled-type trap on, pairs
    holding a label keep it (no two calls ever run on one pair)."""
    rows = [key(i, 80_000 + i) for i in range(1, 3001)]
    labelled = [key(i, 80_000 + i, LABEL) for i in range(1, 3001, 7)]  # a label on 429 of the pairs
    fake_config = FakeConfig(rate=Rate(2000, 1.0), token=TOKEN, existing=frozenset(labelled),
                             user_labels=USER_LABELS, unlabeled_wipes=True, latency_ms=40, seed=5)
    async with FakeHubSpot(fake_config) as fake:
        s = await run_async(config(tmp_path, fake.url, write_rows(tmp_path / "links.csv", rows)))
        assert (s.created, s.exit_code) == (3000, 0)
        fake.stats.peak_in_flight = 0
        u = await undo_async(undo_config(fake, tmp_path / "ledger.sqlite"), rand=random.random)
        assert (u.undone, u.failed, u.exit_code) == (3000, 0, 0)
        assert fake.associations() == frozenset(labelled)
        assert fake.stats.peak_in_flight >= 4, fake.stats.peak_in_flight
        assert fake.stats.deletes == 30  # 3,000 rows in full batches of 100
