"""Settled-chunk digests (ledger/settled.py) end to end: a rerun of a done file skips whole chunks, and a
digest never skips a row that admission row by row would send. Chunks of 8 rows keep the files small."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bulkassoc import RunConfig, run_async
from bulkassoc.engine import feed
from bulkassoc.engine.summary import RunSummary
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.ledger.origins import mark_deletions, mark_undone

from .._support import TOKEN, simple_rows, write_csv
from .test_run import config

CHUNK = 8


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "CHUNK", CHUNK)


def settled(ledger: Path) -> int:
    with sqlite3.connect(ledger) as conn:
        return int(conn.execute("SELECT count(*) FROM settled_chunks").fetchone()[0])


def forget_settled(ledger: Path) -> None:
    """What a ledger without digests has: every chunk admitted row by row (the slow path)."""
    with sqlite3.connect(ledger) as conn:
        conn.execute("DELETE FROM settled_chunks")


def counts(s: RunSummary) -> tuple[int, ...]:
    return s.rows, s.already_done, s.duplicates, s.invalid, s.skipped_failed, s.succeeded, s.failed, s.requests


def key(row: list[str]) -> tuple[str, str, str, str, str]:
    return ("partner_services", row[0], row[1], row[2], row[3])


async def test_rerun_of_a_done_file_skips_every_chunk_with_the_slow_paths_counts(tmp_path: Path) -> None:
    rows = simple_rows(37)
    rows[5] = rows[2]  # a duplicate within a chunk (across chunks: see below)
    rows[30] = rows[27]
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        first = await run_async(config(tmp_path, fake.url, src))
        assert (first.succeeded, first.duplicates, first.exit_code) == (35, 2, 0)
        fast = await run_async(config(tmp_path, fake.url, src))
        assert settled(ledger) == 5  # 37 rows: 5 chunks, every one settled
        forget_settled(ledger)
        slow = await run_async(config(tmp_path, fake.url, src))
        assert settled(ledger) == 5  # the slow path records them again (nothing to send)
        assert fake.stats.puts == 35
    assert counts(fast) == counts(slow) == (37, 35, 2, 0, 0, 0, 0, 0)
    assert fast.exit_code == slow.exit_code == 0


async def test_digests_are_consulted_and_a_status_change_clears_them(tmp_path: Path) -> None:
    """With the triggers dropped, a doctored status is not noticed: proof the digests are what skips. With
    them in place (as always), any row leaving 'succeeded' clears every digest and the row is sent."""
    rows = simple_rows(16)
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        assert settled(ledger) == 2
        with sqlite3.connect(ledger) as conn:
            conn.execute("UPDATE assoc SET status = 'failed' WHERE from_id = ?", (rows[3][0],))
        assert settled(ledger) == 0
        again = await run_async(config(tmp_path, fake.url, src))
        assert (again.succeeded, again.already_done, fake.stats.puts) == (1, 15, 17)
        assert settled(ledger) == 2
        with sqlite3.connect(ledger) as conn:
            conn.execute("DROP TRIGGER settled_chunks_unsettled")
            conn.execute("UPDATE assoc SET status = 'failed' WHERE from_id = ?", (rows[3][0],))
        skipped = await run_async(config(tmp_path, fake.url, src, ledger=ledger))
        assert (skipped.already_done, fake.stats.puts) == (16, 17)  # the digest skipped it: it is consulted


async def test_a_file_edited_in_one_row_sends_only_that_row(tmp_path: Path) -> None:
    rows = simple_rows(40)
    src = write_csv(tmp_path / "links.csv", rows)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        rows[21] = [rows[21][0], "contacts", "777777", "1"]
        write_csv(src, rows)
        edited = await run_async(config(tmp_path, fake.url, src))
        assert (edited.succeeded, edited.already_done, edited.requests, fake.stats.puts) == (1, 39, 1, 41)
        assert key(rows[21]) in fake.associations()


async def test_undo_mirror_deletes_resend_and_failed_rows_are_never_skipped(tmp_path: Path) -> None:
    rows = simple_rows(24)
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        await run_async(config(tmp_path, fake.url, src))  # settles chunk 2 (its repeat was in flight at first)
        assert settled(ledger) == 3
        # --resend sends done rows: digests are bypassed (and neither consulted nor recorded)
        resent = await run_async(config(tmp_path, fake.url, src, resend=True))
        assert (resent.succeeded, fake.stats.puts) == (24, 48)
        # what undo does to the rows it removed, and what a mirror does to the ones it deleted
        with sqlite3.connect(ledger) as conn:
            conn.isolation_level = None
            mark_undone(conn, [key(rows[1])])
        assert settled(ledger) == 0
        after_undo = await run_async(config(tmp_path, fake.url, src))
        assert (after_undo.succeeded, fake.stats.puts) == (1, 49)
        assert settled(ledger) == 3
        with sqlite3.connect(ledger) as conn:
            conn.isolation_level = None
            mark_deletions(conn, 1, [key(rows[20])], "deleted")
        assert settled(ledger) == 0
        after_mirror = await run_async(config(tmp_path, fake.url, src))
        assert (after_mirror.succeeded, fake.stats.puts) == (1, 50)


async def test_failed_rows_keep_their_chunk_unsettled_and_are_retried(tmp_path: Path) -> None:
    rows = simple_rows(24)
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    known = {"partner_services": frozenset(r[0] for i, r in enumerate(rows) if i != 12),
             "contacts": frozenset(r[2] for r in rows)}
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, known_ids=known)) as failing:
        first = await run_async(config(tmp_path, failing.url, src))
        assert (first.succeeded, first.failed) == (23, 1)
        assert [f["count"] for f in first.top_failures] == [1]
        assert settled(ledger) == 2  # the chunk with the failed row is not settled
        kept = await run_async(config(tmp_path, failing.url, src, retry_failed=False))
        assert (kept.skipped_failed, kept.already_done, kept.requests) == (1, 23, 0)
        assert settled(ledger) == 2  # a skipped failure is not settled either
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        retried = await run_async(config(tmp_path, fake.url, src))
        assert (retried.succeeded, retried.already_done, fake.stats.puts) == (1, 23, 1)
        assert retried.top_failures == []  # none this run (and none looked for)
        assert settled(ledger) == 3


async def test_invalid_rows_keep_their_chunk_unsettled(tmp_path: Path) -> None:
    rows = simple_rows(16)
    rows[4] = ["abc", "contacts", "1", "1"]
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        again = await run_async(config(tmp_path, fake.url, src))
        assert (again.invalid, again.already_done, again.exit_code, settled(ledger)) == (1, 15, 1, 1)


async def test_counts_stay_exact_when_a_skipped_chunk_is_followed_by_one_admitted_row_by_row(
        tmp_path: Path) -> None:
    """Chunks are skipped only from the input's start (digests are chained); at the first one that is not
    settled, the skipped rows' keys are read again and marked seen, so a repeat of one of them in a chunk
    admitted row by row still counts as a duplicate (the contract), exactly as without digests."""
    rows = simple_rows(24)
    rows[20] = rows[3]  # chunk 2 repeats a key of chunk 0
    src = write_csv(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        await run_async(config(tmp_path, fake.url, src))  # settles chunk 2 (its repeat was in flight at first)
        assert settled(ledger) == 3
        rows[22] = [rows[22][0], "contacts", "888888", "1"]  # chunk 2 edited: admitted row by row
        write_csv(src, rows)
        mixed = await run_async(config(tmp_path, fake.url, src))
        assert (mixed.succeeded, mixed.already_done, mixed.duplicates, fake.stats.puts) == (1, 22, 1, 24)
        forget_settled(ledger)
        slow = await run_async(config(tmp_path, fake.url, src))
        assert (slow.already_done, slow.duplicates, slow.requests) == (23, 1, 0)
        rows[1] = [rows[1][0], "contacts", "777777", "1"]  # chunk 0 edited: no later chunk is skipped either
        write_csv(src, rows)
        first_edited = await run_async(config(tmp_path, fake.url, src))
        assert (first_edited.succeeded, first_edited.already_done, first_edited.duplicates) == (1, 22, 1)
        again = await run_async(config(tmp_path, fake.url, src))  # every chunk settled anew, chained
        assert counts(again) == (24, 23, 1, 0, 0, 0, 0, 0)
        assert fake.stats.puts == 25


async def test_a_dry_run_after_a_skipped_start_counts_as_the_real_run(tmp_path: Path) -> None:
    rows = simple_rows(24)
    rows[20] = rows[3]
    src = write_csv(tmp_path / "links.csv", rows)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        rows[22] = [rows[22][0], "contacts", "888888", "1"]
        write_csv(src, rows)
        dry = await run_async(config(tmp_path, fake.url, src, dry_run=True))
        assert (dry.already_done, dry.duplicates) == (22, 1)
        assert fake.stats.puts == 23


async def test_a_ledger_without_the_table_gains_it_and_its_triggers(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(16))
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        await run_async(config(tmp_path, fake.url, src))
        with sqlite3.connect(ledger) as conn:  # as a ledger written before this record
            for name in ("TRIGGER settled_chunks_unsettled", "TRIGGER settled_chunks_deleted", "TABLE settled_chunks",
                         "INDEX assoc_failed"):
                conn.execute(f"DROP {name}")
        old = await run_async(config(tmp_path, fake.url, src))
        assert (old.already_done, old.requests, settled(ledger)) == (16, 0, 2)
        with sqlite3.connect(ledger) as conn:  # the end of a run finds failed rows without a scan of the table
            plan = conn.execute("EXPLAIN QUERY PLAN SELECT count(*) FROM assoc WHERE status IN ('failed', 'invalid') "
                                "AND updated_at >= 0").fetchall()
        assert "assoc_failed" in str(plan)
        with sqlite3.connect(ledger) as conn:
            conn.execute("DELETE FROM assoc WHERE from_id = '1000'")
        assert settled(ledger) == 0
        again = await run_async(config(tmp_path, fake.url, src))
        assert (again.succeeded, again.already_done, fake.stats.puts) == (1, 15, 17)


def test_only_runs_whose_admission_skips_done_rows_use_digests(tmp_path: Path) -> None:
    def make(**kw: object) -> RunConfig:
        return config(tmp_path, "http://127.0.0.1:1", tmp_path / "x.csv", **kw)
    assert make().skip_settled
    assert make(retry_failed=False).skip_settled and make(dry_run=True).skip_settled
    assert not make(resend=True).skip_settled
    assert not make(mirror=True).skip_settled
    assert not make(input="-", format="csv").skip_settled
