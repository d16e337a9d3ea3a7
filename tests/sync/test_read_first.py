"""Read before write (issue 15): existing labels survive a batch run, rows already there cost no write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bulkassoc import Rate, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

from ._setup import DEFAULT, LABEL, TOKEN, USER_LABELS, config, key, write_rows


async def test_seeded_labels_survive_and_present_rows_cost_no_write(tmp_path: Path) -> None:
    labelled = [key(i, 50_000 + i, LABEL) for i in range(1, 1001)]
    also_default = [key(i, 50_000 + i) for i in range(1, 501)]
    seed = frozenset(labelled + also_default)
    rows = [key(i, 50_000 + i) for i in range(1, 1001)] + [key(i, 50_000 + i) for i in range(1001, 10_001)]
    src = write_rows(tmp_path / "links.csv", rows)
    fake_config = FakeConfig(rate=Rate(1000, 1.0), token=TOKEN, existing=seed, user_labels=USER_LABELS)
    async with FakeHubSpot(fake_config) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
        held = fake.associations()
        writes = fake.stats.put_counts
    assert (s.succeeded, s.failed, s.exit_code) == (10_000, 0, 0)
    assert set(labelled) <= held, "a seeded label was removed"
    assert held == seed | set(rows)
    assert (s.present, s.created) == (500, 9_500)
    assert all(writes[k] == 0 for k in also_default), "a present row was written"
    assert s.reads <= 10_000 // 1000, s.reads
    assert s.requests == fake.stats.batch_requests
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        origins = dict(conn.execute("SELECT origin, count(*) FROM assoc GROUP BY origin").fetchall())
        before = conn.execute("SELECT before_types FROM assoc WHERE from_id = '700'").fetchone()[0]
    assert origins == {"present": 500, "created": 9_500}
    assert before == '[["USER_DEFINED",37]]'


async def test_without_the_read_a_labelled_write_replaces_the_label(tmp_path: Path) -> None:
    """The fake's v4 create replaces a pair's labels (HubSpot's documented semantics): the switch off shows
    what the read prevents."""
    seed = frozenset({key(1, 2, LABEL)})
    src = write_rows(tmp_path / "links.csv", [key(1, 2)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, existing=seed, user_labels=USER_LABELS)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, read_first=False))
        assert s.exit_code == 0 and s.reads == 0
        assert fake.associations() == {key(1, 2, DEFAULT)}


async def test_several_rows_of_one_pair_go_in_one_input(tmp_path: Path) -> None:
    seed = frozenset({key(1, 2, LABEL)})
    src = write_rows(tmp_path / "links.csv", [key(1, 2), key(1, 2, "1"), key(3, 4)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, existing=seed, user_labels=USER_LABELS)) as fake:
        s = await run_async(config(tmp_path, fake.url, src))
        assert (s.succeeded, s.created, s.exit_code) == (3, 3, 0)
        assert fake.associations() == {key(1, 2, LABEL), key(1, 2), key(1, 2, "1"), key(3, 4)}
        assert fake.stats.batch_inputs == 2  # the pair (1, 2) once, with all three types


async def test_single_v4_put_sends_the_union(tmp_path: Path) -> None:
    seed = frozenset({key(1, 2, LABEL), key(5, 6)})
    src = write_rows(tmp_path / "links.csv", [key(1, 2), key(5, 6)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, existing=seed, user_labels=USER_LABELS)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, mode="single", api="v4"))
        assert (s.present, s.created, s.requests, s.exit_code) == (1, 1, 1, 0)
        assert fake.associations() == {key(1, 2, LABEL), key(1, 2), key(5, 6)}


async def test_a_read_that_fails_for_good_writes_nothing(tmp_path: Path) -> None:
    """Every request fails (5xx or dropped): the read never succeeds, so nothing is written (a write
    without the read could remove labels); the rows stay for a rerun."""
    src = write_rows(tmp_path / "links.csv", [key(1, 2)])
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN, fail_rate=1.0, seed=3)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, preflight=False))
        assert s.exit_code in (1, 3)
        assert fake.associations() == set() and fake.stats.batch_requests == 0
