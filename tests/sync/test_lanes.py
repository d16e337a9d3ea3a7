"""`sync/lanes.py`: full batches, many at once, never two running on one pair, the first error stops the
intake. Sends are coroutines that wait on futures the test resolves: no sleeping, every loop bounded."""

from __future__ import annotations

import asyncio

import pytest

from bulkassoc.sync.lanes import Lanes, Pair, pair_of

Key = tuple[str, str, str, str, str]


def k(from_id: str, to_id: str, type_id: str = "1", to_type: str = "companies") -> Key:
    return ("contacts", from_id, to_type, to_id, type_id)


class Recorder:
    """A send that records what runs at once and finishes when the test says so."""

    def __init__(self, *, fail_on: int | None = None) -> None:
        self.batches: list[tuple[str, str, list[Key]]] = []
        self.running: list[set[Pair]] = []
        self.peak = 0
        self.overlaps = 0
        self.gates: list[asyncio.Future[None]] = []
        self.fail_on = fail_on

    async def send(self, from_type: str, to_type: str, items: list[Key]) -> None:
        pairs = {pair_of(i) for i in items}
        self.overlaps += sum(not pairs.isdisjoint(other) for other in self.running)
        self.running.append(pairs)
        self.peak = max(self.peak, len(self.running))
        self.batches.append((from_type, to_type, items))
        n = len(self.batches)
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        try:
            await gate
            if n == self.fail_on:
                raise RuntimeError(f"batch {n} failed")
        finally:
            self.running.remove(pairs)

    def open_all(self) -> None:
        for g in self.gates:
            if not g.done():
                g.set_result(None)


async def drive(lanes: Lanes[Key], rec: Recorder, keys: list[Key]) -> None:
    """Put every key, opening the gates whenever the intake would otherwise wait forever."""

    async def opener() -> None:
        for _ in range(10_000):  # bounded: each round yields to the loop
            await asyncio.sleep(0)
            rec.open_all()

    task = asyncio.ensure_future(opener())
    try:
        for key in keys:
            await lanes.put(key, key)
        await lanes.close()
    finally:
        task.cancel()


@pytest.mark.parametrize(("n", "size", "workers"), [(1, 100, 8), (250, 100, 8), (1000, 100, 4), (37, 5, 64)])
async def test_batches_are_full_and_every_item_goes_once(n: int, size: int, workers: int) -> None:
    rec = Recorder()
    lanes: Lanes[Key] = Lanes(workers, size, rec.send)
    keys = [k(str(i), str(10_000 + i)) for i in range(n)]
    await drive(lanes, rec, keys)
    sent = [i for _, _, items in rec.batches for i in items]
    assert sorted(sent) == sorted(keys)
    assert len(rec.batches) == -(-n // size)  # no more requests than full batches need
    assert rec.overlaps == 0


async def test_many_batches_run_at_once_up_to_the_workers() -> None:
    rec = Recorder()
    lanes: Lanes[Key] = Lanes(4, 10, rec.send)
    for i in range(40):  # four full batches on distinct pairs
        await lanes.put(k(str(i), "1"), k(str(i), "1"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert (lanes.started, len(rec.running)) == (4, 4)  # four running, none answered yet
    fifth = asyncio.ensure_future(drive(lanes, rec, [k(str(i), "1") for i in range(40, 50)]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert lanes.started == 4  # the fifth waits for a free worker
    await fifth
    assert (rec.peak, lanes.started) == (4, 5)


async def test_a_batch_waits_while_another_runs_on_one_of_its_pairs() -> None:
    rec = Recorder()
    lanes: Lanes[Key] = Lanes(8, 2, rec.send)
    await lanes.put(k("1", "9"), k("1", "9"))
    await lanes.put(k("2", "9"), k("2", "9"))  # batch 1 starts: pairs 1→9, 2→9
    await asyncio.sleep(0)
    assert len(rec.running) == 1
    await lanes.put(k("3", "9"), k("3", "9"))
    starting = asyncio.ensure_future(lanes.put(k("01", "9", "5"), k("01", "9", "5")))  # 1→9 again (as a number)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not starting.done() and len(rec.running) == 1  # held back: batch 1 is on pair 1→9
    rec.open_all()
    await starting
    assert len(rec.batches) == 2
    await drive(lanes, rec, [])
    assert rec.overlaps == 0


async def test_type_pairs_never_share_a_batch() -> None:
    rec = Recorder()
    lanes: Lanes[Key] = Lanes(8, 3, rec.send)
    keys = [k(str(i), "7", to_type=("companies" if i % 2 else "deals")) for i in range(12)]
    await drive(lanes, rec, keys)
    for _, to_type, items in rec.batches:
        assert {i[2] for i in items} == {to_type}
    assert len(rec.batches) == 4


async def test_the_first_error_stops_the_intake_and_is_raised() -> None:
    rec = Recorder(fail_on=1)
    lanes: Lanes[Key] = Lanes(2, 1, rec.send)
    await lanes.put(k("1", "1"), k("1", "1"))
    await lanes.put(k("2", "1"), k("2", "1"))
    await asyncio.sleep(0)
    rec.gates[0].set_result(None)  # batch 1 answers (and fails); batch 2 is still on the wire
    for _ in range(20):
        await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="batch 1 failed"):
        await lanes.put(k("3", "1"), k("3", "1"))
    assert len(rec.running) == 1
    rec.open_all()
    with pytest.raises(RuntimeError, match="batch 1 failed"):
        await lanes.close()  # waits for batch 2, then raises batch 1's error
    assert len(rec.batches) == 2  # nothing started after the error
    assert not rec.running


def test_workers_and_size_must_be_positive() -> None:
    async def send(a: str, b: str, items: list[Key]) -> None:
        del a, b, items

    with pytest.raises(ValueError, match="at least 1"):
        Lanes(0, 100, send)
