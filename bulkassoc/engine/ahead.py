"""Reading ahead: the reads before write of later chunks are under way while earlier chunks' writes go.

A chunk's read before write (sync/before.py: ≤ 1 batch read per 1,000 fromIds, through the paced caller)
takes at least one round trip, plus its wait for a start slot behind the writes. Read one chunk at a time,
and at long latencies the writers wait for the reads: at 2.5 s the writes reached 0.27 of the limit.
By Little's law, the reads under way must cover what the writers send while a read takes: the pace allows
`pace` requests per second, a chunk brings `units_per_chunk` of them, and a read takes `seconds` (measured,
smoothed): pace × seconds / units_per_chunk chunks, × HEADROOM, + 1, between 1 and AHEAD_CAP. Memory stays
flat: at most AHEAD_CAP chunks are read ahead, and a chunk is read only when the intake reaches it (the
intake pauses while the bounded queue is full).

Reads are started in the input's order and taken in it: rows are queued in admission order.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable

from ..rows.reader import Row

__all__ = ["AHEAD_CAP", "AHEAD_START", "HEADROOM", "ReadAhead"]

AHEAD_START = 2  # chunks read at once before the first read says how long a read takes
AHEAD_CAP = 16  # chunks read at once at most (16 × 2,000 rows)
HEADROOM = 1.5  # a read's time varies (its wait for a start slot most): a chunk short means writers waiting
_ALPHA = 0.2  # weight of one read's time in the smoothed one


class ReadAhead:
    """The chunks whose read is under way, oldest first. `submit` starts a chunk's read; `take` returns
    the oldest chunk's rows to write once its read is done; `close` cancels what is left."""

    def __init__(self, read: Callable[[list[Row]], Awaitable[list[Row]]], pace: Callable[[], float],
                 units_per_chunk: float, *, cap: int = AHEAD_CAP) -> None:
        self._read = read
        self._pace = pace  # requests per second the pacer allows now
        self._units = max(1.0, units_per_chunk)  # write requests one chunk brings
        self._cap = cap
        self._seconds: float | None = None  # smoothed time of one chunk's read
        self._tasks: deque[asyncio.Future[list[Row]]] = deque()
        self.peak = 0  # the most chunks ever read at once

    @property
    def depth(self) -> int:
        """Chunks to keep under way now."""
        if self._seconds is None:
            return min(self._cap, AHEAD_START)
        need = self._pace() * self._seconds * HEADROOM / self._units
        return max(1, min(self._cap, math.ceil(need) + 1 if math.isfinite(need) else self._cap))

    @property
    def full(self) -> bool:
        return len(self._tasks) >= self.depth

    @property
    def oldest(self) -> asyncio.Future[list[Row]] | None:
        return self._tasks[0] if self._tasks else None

    def __len__(self) -> int:
        return len(self._tasks)

    def submit(self, rows: list[Row]) -> None:
        self._tasks.append(asyncio.ensure_future(self._timed(rows)))
        self.peak = max(self.peak, len(self._tasks))

    async def take(self) -> list[Row]:
        """The oldest chunk's rows to write (waits for its read); its errors (Halted, ...) are raised here."""
        return await self._tasks.popleft()

    async def close(self) -> None:
        """Cancel the reads still under way (a halt, an error): their rows stay pending for the rerun."""
        tasks, self._tasks = list(self._tasks), deque()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _timed(self, rows: list[Row]) -> list[Row]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        out = await self._read(rows)
        seconds = loop.time() - began
        previous = self._seconds
        self._seconds = seconds if previous is None else previous + _ALPHA * (seconds - previous)
        return out
