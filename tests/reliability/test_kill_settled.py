"""Issue 13: a kill -9 in the middle of a file of several chunks, then a rerun. The chunks settled before
the kill are skipped by their digests (ledger/settled.py); no row is lost, none committed is PUT again,
and the rerun settles the rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bulkassoc.engine.feed import ADMIT_SLICE
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._harness import FAST, TOKEN, keys_for, last_json, num, succeeded, write_links
from .test_kill import HOOK, KILL_COST, Books


def settled_chunks(ledger: Path) -> int:
    with sqlite3.connect(ledger) as conn:
        return int(conn.execute("SELECT count(*) FROM settled_chunks").fetchone()[0])


async def test_sigkill_after_a_chunk_settled_then_rerun_skips_it_and_loses_nothing(tmp_path: Path) -> None:
    n = 2 * ADMIT_SLICE + 100  # three slices, each with its digest (admission goes by slices of a chunk)
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger),
                "--base-url", fake.url, "--concurrency", "8", *FAST]
        books = Books(fake, ledger)
        # killed as the second chunk's digest is about to be written: the first one's is committed
        await books.run(*args, expect=-9, timeout=60, prefix=(str(HOOK),),
                        extra_env={"KILL_AT_SQL": "INSERT OR REPLACE INTO settled_chunks", "KILL_AT_NTH": "2"})
        assert settled_chunks(ledger) == 1
        done_before = len(succeeded(ledger))
        assert ADMIT_SLICE <= done_before < n
        rerun = await books.run(*args, expect=0, timeout=60)
        summary = last_json(rerun.stdout)
        assert num(summary, "already_done") == done_before
        assert num(summary, "already_done") + num(summary, "succeeded") == n
        assert fake.associations() == keys_for(n)
        assert fake.stats.puts - n == books.lost_total <= KILL_COST
        assert settled_chunks(ledger) == 3
