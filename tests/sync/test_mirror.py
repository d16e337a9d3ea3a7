"""`run --mirror` (issue 15): the file is the truth for its scope; the guard refuses a mass delete."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from bulkassoc import Rate, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.sync.undo import undo_async

from ..reliability._harness import arun, last_json
from ._setup import FROM, LABEL, TOKEN, USER_LABELS, Key, config, key, write_rows
from .test_undo import undo_config

DAY1 = [key(f, 100_000 + f * 10 + j) for f in range(1, 2001) for j in range(5)]  # 10,000 rows
# outside the scope: another type on the same pairs, another object type, records the file does not name
OUTSIDE = frozenset(
    [key(f, 100_000 + f * 10, LABEL) for f in range(1, 2001, 4)]
    + [(FROM, str(f), "deals", str(900_000 + f), "4") for f in range(1, 2001, 4)]
    + [key(5000 + f, 100_000 + f) for f in range(1, 500)])
REMOVED = set(random.Random(15).sample(DAY1, 300))
ADDED = [key(f, 300_000 + f) for f in range(1, 201)]
DAY2 = [k for k in DAY1 if k not in REMOVED] + ADDED


def fake_config() -> FakeConfig:
    return FakeConfig(rate=Rate(2000, 1.0), token=TOKEN, existing=OUTSIDE, user_labels=USER_LABELS,
                      unlabeled_wipes=True)  # HubSpot: archiving 279 takes the pair's labels with it


async def day1(tmp_path: Path, fake: FakeHubSpot) -> None:
    src = write_rows(tmp_path / "day1.csv", DAY1)
    s = await run_async(config(tmp_path, fake.url, src, mirror=True, ledger=tmp_path / "day1.sqlite"))
    assert (s.created, s.deleted, s.exit_code) == (10_000, 0, 0)
    assert fake.associations() == OUTSIDE | set(DAY1)


async def test_day_two_deletes_exactly_what_left_the_file(tmp_path: Path) -> None:
    async with FakeHubSpot(fake_config()) as fake:
        await day1(tmp_path, fake)
        src = write_rows(tmp_path / "day2.csv", DAY2)
        out = tmp_path / "deletes.csv"
        dry = await run_async(config(tmp_path, fake.url, src, mirror=True, ledger=tmp_path / "day2.sqlite",
                                     dry_run=True, deletes_out=out))
        assert (dry.would_delete, dry.deleted, dry.exit_code) == (300, 0, 0)
        with out.open(newline="") as f:
            listed = {tuple(r[:5]) for r in list(csv.reader(f))[1:]}
        assert listed == REMOVED
        assert fake.stats.deletes == 0 and fake.associations() == OUTSIDE | set(DAY1)
        writes = fake.stats.batch_requests
        s = await run_async(config(tmp_path, fake.url, src, mirror=True, ledger=tmp_path / "day2.sqlite"))
        assert (s.deleted, s.created, s.present, s.exit_code) == (300, 200, 9_700, 0)
        assert fake.associations() == OUTSIDE | set(DAY2)  # nothing outside the scope touched
        assert set(fake.stats.delete_counts) == REMOVED
        # the 200 new rows (100 per batch), and per archive call at most one put-back of the labels HubSpot's
        # unlabeled-type trap took with the deleted 279s
        assert 2 < fake.stats.batch_requests - writes <= 2 + fake.stats.deletes
        # the deletes are recorded and undoable: undo day 2 → day 1 again
        u = await undo_async(undo_config(fake, tmp_path / "day2.sqlite"), rand=random.random)
        assert (u.undone, u.restored, u.exit_code) == (200, 300, 0)
        assert fake.associations() == OUTSIDE | set(DAY1)


async def test_the_guard_refuses_a_mass_delete(tmp_path: Path) -> None:
    async with FakeHubSpot(fake_config()) as fake:
        await day1(tmp_path, fake)
        kept: list[Key] = [k for k in DAY1 if int(k[3]) % 10 < 3]  # 2 of each fromId's 5 rows removed: 40%
        src = write_rows(tmp_path / "day2.csv", kept + ADDED)
        out = tmp_path / "deletes.csv"
        writes, held = fake.stats.batch_requests, fake.associations()
        r = await arun("run", str(src), "--mirror", "--mode", "batch", "--base-url", fake.url,
                       "--rate", "5000/1s", "--ledger", str(tmp_path / "day2.sqlite"), "--deletes-out", str(out),
                       "--json", extra_env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert r.returncode == 2, r.stderr
        summary = last_json(r.stdout)
        assert (summary["aborted"], summary["would_delete"], summary["deleted"]) == ("mirror_guard", 4000, 0)
        assert "--max-deletes" in r.stderr and "Traceback" not in r.stderr
        assert fake.stats.deletes == 0 and fake.stats.batch_requests == writes and fake.associations() == held
        assert len(out.read_text().splitlines()) == 4001
        # raised on purpose, it goes through
        r = await arun("run", str(src), "--mirror", "--mode", "batch", "--base-url", fake.url, "--max-deletes",
                       "40%", "--rate", "5000/1s", "--ledger", str(tmp_path / "day2.sqlite"), "--json",
                       extra_env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert r.returncode == 0, r.stderr
        assert last_json(r.stdout)["deleted"] == 4000
        assert fake.associations() == OUTSIDE | set(kept) | set(ADDED)
