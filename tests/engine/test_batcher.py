"""Batcher (bulkassoc.engine.batcher), by table: per-pair buffers flushed when full, when they linger, and at the
end of the input. Time is passed in explicitly, so nothing here waits."""

from __future__ import annotations

import pytest

from bulkassoc.engine.batcher import Batcher
from bulkassoc.rows.types import Row


def row(n: int, from_type: str = "partner_services", to_type: str = "contacts", assoc_type: str = "1") -> Row:
    return Row(from_type, str(n), to_type, str(1000 + n), assoc_type, n + 1)


def ids(batch: list[Row] | None) -> list[str] | None:
    return None if batch is None else [r.from_id for r in batch]


@pytest.mark.parametrize(
    ("size", "adds", "full"),
    [
        pytest.param(3, [(1, "contacts"), (2, "contacts"), (3, "contacts")], [None, None, ["1", "2", "3"]],
                     id="full on the size-th row"),
        pytest.param(1, [(1, "contacts"), (2, "contacts")], [["1"], ["2"]], id="size 1: every row is a batch"),
        pytest.param(2, [(1, "contacts"), (2, "companies"), (3, "companies"), (4, "contacts")],
                     [None, None, ["2", "3"], ["1", "4"]], id="one buffer per (fromType, toType)"),
        pytest.param(2, [(1, "contacts"), (2, "contacts"), (3, "contacts"), (4, "contacts"), (5, "contacts")],
                     [None, ["1", "2"], None, ["3", "4"], None], id="a new buffer after each full one"),
    ],
)
def test_add_returns_a_batch_when_it_is_full(size: int, adds: list[tuple[int, str]],
                                             full: list[list[str] | None]) -> None:
    batcher = Batcher(size, linger=10.0)
    assert [ids(batcher.add(row(n, to_type=t), now=0.0)) for n, t in adds] == full


def test_rows_of_one_pair_share_a_buffer_whatever_their_type() -> None:
    batcher = Batcher(2, linger=10.0)
    assert batcher.add(row(1, assoc_type="1"), 0.0) is None
    batch = batcher.add(row(2, assoc_type="279"), 0.0)
    assert batch is not None and [r.type for r in batch] == ["1", "279"]
    assert batcher.add(row(3, from_type="partner_clients"), 0.0) is None  # another fromType: another pair
    assert len(batcher) == 1


@pytest.mark.parametrize(
    ("linger", "adds", "at", "due"),
    [
        pytest.param(0.5, [(1, 100.0)], 100.49, [], id="not yet"),
        pytest.param(0.5, [(1, 100.0)], 100.5, [["1"]], id="exactly at linger"),
        pytest.param(0.5, [(1, 100.0)], 250.0, [["1"]], id="long after"),
        pytest.param(0.5, [(1, 100.0), (2, 100.4)], 100.5, [["1", "2"]],
                     id="the first row's time counts, later rows do not restart it"),
        pytest.param(0.0, [(1, 100.0)], 100.0, [["1"]], id="no linger: due at once"),
        pytest.param(0.5, [(1, 100.0)], 99.0, [], id="a clock that went back never flushes early"),
    ],
)
def test_due_after_linger(linger: float, adds: list[tuple[int, float]], at: float, due: list[list[str]]) -> None:
    batcher = Batcher(10, linger)
    for n, now in adds:
        assert batcher.add(row(n), now) is None
    assert [ids(b) for b in batcher.due(at)] == due
    assert len(batcher) == (len(adds) if not due else 0)


def test_due_takes_only_the_pairs_that_waited() -> None:
    batcher = Batcher(10, linger=1.0)
    batcher.add(row(1, to_type="contacts"), 10.0)
    batcher.add(row(2, to_type="companies"), 10.6)
    batcher.add(row(3, to_type="contacts"), 10.9)
    assert [ids(b) for b in batcher.due(11.0)] == [["1", "3"]]
    assert len(batcher) == 1
    assert batcher.due(11.0) == []  # taken once
    assert [ids(b) for b in batcher.due(11.6)] == [["2"]]
    assert len(batcher) == 0


def test_a_full_batch_restarts_the_linger_clock() -> None:
    batcher = Batcher(2, linger=1.0)
    batcher.add(row(1), 0.0)
    assert ids(batcher.add(row(2), 0.5)) == ["1", "2"]
    batcher.add(row(3), 0.75)  # a new buffer: its own first row at 0.75
    assert batcher.due(1.5) == []  # 1.5 s after the first row of the flushed batch, 0.75 s after this one
    assert [ids(b) for b in batcher.due(1.75)] == [["3"]]


@pytest.mark.parametrize(
    ("adds", "drained"),
    [
        pytest.param([], [], id="nothing open"),
        pytest.param([(1, "contacts")], [["1"]], id="one partial"),
        pytest.param([(1, "contacts"), (2, "companies"), (3, "contacts")], [["1", "3"], ["2"]],
                     id="every pair, in the order pairs opened"),
    ],
)
def test_drain_returns_every_partial_batch(adds: list[tuple[int, str]], drained: list[list[str]]) -> None:
    batcher = Batcher(5, linger=60.0)
    for n, t in adds:
        batcher.add(row(n, to_type=t), 0.0)
    assert len(batcher) == len(adds)
    assert [ids(b) for b in batcher.drain()] == drained
    assert len(batcher) == 0
    assert batcher.drain() == []
    assert batcher.due(10**9) == []
