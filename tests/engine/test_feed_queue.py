"""The queue from the feed to the workers: FIFO, bounded, and the feed woken once it is down to half."""

from __future__ import annotations

import asyncio

from bulkassoc.engine.feed import UnitQueue


async def test_the_producer_refills_in_one_go_once_the_queue_is_half_empty() -> None:
    queue: UnitQueue[int | None] = UnitQueue(maxsize=8)
    wakes: list[int] = []  # the queue's size each time the producer got to run after waiting

    async def produce() -> None:
        for n in range(40):
            if queue.full():
                await queue.put(n)
                wakes.append(queue.qsize())
            else:
                queue.put_nowait(n)
        await queue.put(None)

    producer = asyncio.ensure_future(produce())
    got: list[int | None] = []
    for _ in range(100):  # bounded: 41 items
        item = await queue.get()
        got.append(item)
        await asyncio.sleep(0)  # a worker's request: the producer may run
        if item is None:
            break
    await producer
    assert got == [*range(40), None]
    assert wakes and all(size <= 5 for size in wakes), wakes  # woken at ≤ half (4) and refilled, not at 7
    assert len(wakes) <= 40 // 4 + 1
