"""Issue 13: a kill -9 at 1,500 rows/s costs at most 50 repeated writes.

The ledger commits by count (every FLUSH_EVERY outcomes) as well as by time, so a kill loses the record
of at most FLUSH_EVERY successes plus the requests in flight; those rows are PUT again by the rerun.
The fake counts every PUT per association across the kills; a repeated write is a second PUT of a pair.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._harness import TOKEN, finish, keys_for, start_cli, wait_until, write_links
from .test_kill import Books, settle

KILLS = (400, 900, 1500, 2200)  # PUTs of each run before its kill
MAX_REPEATS_PER_KILL = 50


def reached(fake: FakeHubSpot, puts: int) -> bool:
    return fake.stats.puts >= puts


async def test_kill_at_1500_rows_per_second_repeats_at_most_50_writes(tmp_path: Path) -> None:
    n = 6000
    src = write_links(tmp_path / "links.csv", n)
    ledger = tmp_path / "links.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        # the default --concurrency auto; the pace of a busy integration
        args = ["run", str(src), "--from-type", "partner_services", "--ledger", str(ledger), "--base-url", fake.url,
                "--rate", "1500/1s", "--no-progress", "--json"]
        books = Books(fake, ledger)
        repeats: list[int] = []
        for puts in KILLS:
            books.before()
            started = time.monotonic()
            target = fake.stats.puts + puts
            proc = await start_cli(*args)
            try:
                await wait_until(functools.partial(reached, fake, target), 30, f"{puts} PUTs", proc=proc)
            finally:
                if proc.returncode is None:
                    proc.kill()
            result = await finish(proc, 30, started)
            assert result.returncode == -9, result.stderr
            await settle(fake)
            repeats.append(books.after(result))  # PUTs whose success the ledger had not committed

        await books.run(*args, expect=0, timeout=60)
        assert fake.associations() == keys_for(n)
        assert fake.stats.puts - n == sum(repeats)  # every extra PUT is one a kill kept from the ledger
        print("repeated writes per kill:", repeats)
        assert max(repeats) <= MAX_REPEATS_PER_KILL, repeats
