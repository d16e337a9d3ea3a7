"""ChunkPump (bulkassoc.rows.pump): chunks read on a thread, a bounded number ahead, in order, to the end or
to the reader's error, and a stop that never waits for a blocked read. Nothing here sleeps: the tests wait
on events the reader sets, each with a deadline."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bulkassoc.rows.pump import ChunkPump

DEADLINE = 10.0


class Source:
    """A read_chunk that hands out `chunks` (then []), records each call, and can fail or block on a call."""

    def __init__(self, chunks: list[list[int]], *, fail_at: int | None = None, endless: bool = False) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.endless = endless
        self.sizes: list[int] = []
        self.error = ValueError("read failed")
        self.gate = threading.Event()
        self.gate.set()
        self._called = threading.Condition()

    def __call__(self, size: int) -> list[int]:
        with self._called:
            self.sizes.append(size)
            self._called.notify_all()
        assert self.gate.wait(DEADLINE)
        if self.fail_at == len(self.sizes):
            raise self.error
        if self.endless:
            return [len(self.sizes)]
        return self.chunks.pop(0) if self.chunks else []

    def wait_calls(self, n: int) -> bool:
        with self._called:
            return self._called.wait_for(lambda: len(self.sizes) >= n, DEADLINE)


async def drain(pump: ChunkPump[int]) -> list[list[int]]:
    got = []
    while chunk := await pump.next():
        got.append(chunk)
    return got


@pytest.mark.parametrize(
    ("chunks", "size", "depth"),
    [
        ([], 100, 2),
        ([[1]], 100, 2),
        ([[1, 2, 3], [4, 5, 6], [7]], 3, 1),
        ([[1, 2], [3, 4], [5, 6], [7, 8], [9]], 2, 2),
        ([[n] for n in range(20)], 1, 5),
    ],
)
async def test_chunks_arrive_in_order_then_the_end(chunks: list[list[int]], size: int, depth: int) -> None:
    source = Source(chunks)
    pump = ChunkPump(source, size, depth=depth)
    assert await drain(pump) == chunks
    pump._thread.join(DEADLINE)
    assert not pump._thread.is_alive()  # the end of the input ends the thread
    assert source.sizes == [size] * (len(chunks) + 1)  # one call per chunk and the one that found the end


@pytest.mark.parametrize("depth", [1, 2, 3])
async def test_reads_at_most_depth_chunks_ahead(depth: int) -> None:
    source = Source([], endless=True)
    pump = ChunkPump(source, 10, depth=depth)
    try:
        assert await asyncio.to_thread(source.wait_calls, depth)
        assert len(source.sizes) == depth  # no slot is free until a chunk is taken
        assert await pump.next() == [1]
        assert await asyncio.to_thread(source.wait_calls, depth + 1)
        assert len(source.sizes) == depth + 1
    finally:
        pump.stop(join_timeout=DEADLINE)
    assert not pump._thread.is_alive()
    assert len(source.sizes) == depth + 1  # stopping reads nothing more


@pytest.mark.parametrize("fail_at", [1, 2, 4])
async def test_the_readers_error_is_raised_after_the_chunks_before_it(fail_at: int) -> None:
    chunks = [[n] for n in range(10)]
    source = Source(chunks, fail_at=fail_at)
    pump = ChunkPump(source, 1, depth=2)
    got = [await pump.next() for _ in range(fail_at - 1)]
    with pytest.raises(ValueError, match="read failed") as info:
        await pump.next()
    assert info.value is source.error
    assert got == [[n] for n in range(fail_at - 1)]
    pump._thread.join(DEADLINE)
    assert not pump._thread.is_alive()
    assert len(source.sizes) == fail_at  # nothing is read after the error


async def test_stop_does_not_wait_for_a_blocked_read() -> None:
    """A slow stdin: stop() returns at once, and the read in progress is the last one."""
    source = Source([[1], [2], [3]])
    source.gate.clear()
    pump = ChunkPump(source, 1, depth=2)
    assert await asyncio.to_thread(source.wait_calls, 1)
    pump.stop(join_timeout=0)
    assert pump._thread.is_alive() and pump._thread.daemon  # still blocked: a daemon cannot hold up the exit
    source.gate.set()
    pump._thread.join(DEADLINE)
    assert not pump._thread.is_alive()
    assert source.sizes == [1]


async def test_stop_after_the_end_is_harmless() -> None:
    source = Source([[1]])
    pump = ChunkPump(source, 5, depth=2)
    assert await drain(pump) == [[1]]
    pump.stop(join_timeout=DEADLINE)
    pump.stop(join_timeout=DEADLINE)
    assert not pump._thread.is_alive()
    assert source.sizes == [5, 5]
