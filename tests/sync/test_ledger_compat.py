"""Ledgers written before the origin record (issue 15) still resume: the columns are added on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bulkassoc import run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._setup import TOKEN, config, key, write_rows


async def test_an_old_ledger_resumes_and_gains_the_columns(tmp_path: Path) -> None:
    rows = [key(i, 10 + i) for i in range(1, 51)]
    src = write_rows(tmp_path / "links.csv", rows)
    ledger = tmp_path / "ledger.sqlite"
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        first = await run_async(config(tmp_path, fake.url, src, read_first=False))
        assert first.succeeded == 50
        with sqlite3.connect(ledger) as conn:  # back to the shape a bulkassoc before issue 15 wrote
            for column in ("origin", "origin_run", "origin_category", "before_types"):
                conn.execute(f"ALTER TABLE assoc DROP COLUMN {column}")
            conn.execute("DROP TABLE deletions")
        again = await run_async(config(tmp_path, fake.url, src))
        assert (again.already_done, again.requests, again.reads, again.exit_code) == (50, 0, 0, 0)
        with sqlite3.connect(ledger) as conn:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(assoc)")}
            assert {"origin", "origin_run", "origin_category", "before_types"} <= columns
            assert conn.execute("SELECT count(*) FROM deletions").fetchone()[0] == 0
