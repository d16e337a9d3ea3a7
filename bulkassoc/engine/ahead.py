"""Reading ahead: the reads before write of later chunks are under way while earlier chunks' writes go.

A chunk's read before write (sync/before.py: ≤ 1 batch read per 1,000 fromIds, through the paced caller)
takes at least one round trip, plus its wait for a start slot behind the writes. Read one chunk at a time,
and at long latencies the writers wait for the reads: at 2.5 s the writes reached 0.27 of the limit.
By Little's law, the reads under way must cover what the writers send while a read takes: the pace allows
`pace` requests per second, a chunk brings `units_per_chunk` of them, and a read takes `seconds` (measured,
smoothed; before the first read is back, the round trip of the answers so far, the preflight's: a run's
first chunks are read at the depth their writes will need, not two at a time while the writers wait a
round trip for each): pace × seconds / units_per_chunk chunks, × HEADROOM, + 1, between 1 and AHEAD_CAP. Memory stays
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

AHEAD_START = 2  # chunks read at once before any answer says how long a round trip takes
AHEAD_CAP = 16  # chunks read at once at most (16 × 2,000 rows)
HEADROOM = 1.5  # a read's time varies (its wait for a start slot most): a chunk short means writers waiting
_ALPHA = 0.2  # weight of one read's time in the smoothed one


class ReadAhead:
    """The chunks between the intake and the queue, oldest first: `submit` starts a chunk's read (waiting
    while `depth` chunks are under way or read and not yet taken); `take` returns the oldest chunk's rows
    to write once its read is done (None after `end`, when all are taken); `close` cancels what is left.
    Without `read` (no read before write) a chunk is passed on as it is, one at a time."""

    def __init__(self, read: Callable[[list[Row]], Awaitable[list[Row]]] | None, pace: Callable[[], float],
                 units_per_chunk: float, *, cap: int = AHEAD_CAP,
                 round_trip: Callable[[], float | None] = lambda: None) -> None:
        self._read = read
        self._pace = pace  # requests per second the pacer allows now
        self._round_trip = round_trip  # the smoothed wire time of answers so far (None before the first)
        self._units = max(1.0, units_per_chunk)  # write requests one chunk brings
        self._cap = cap
        self._seconds: float | None = None  # smoothed time of one chunk's read
        self._tasks: deque[asyncio.Future[list[Row]]] = deque()
        self._ended = False
        self._changed: asyncio.Future[None] | None = None  # resolved when a chunk comes or goes

    @property
    def depth(self) -> int:
        """Chunks to keep under way (or read, waiting to be taken) now."""
        if self._read is None:
            return 1
        seconds = self._seconds if self._seconds is not None else self._round_trip()
        if seconds is None:
            return min(self._cap, AHEAD_START)
        need = self._pace() * seconds * HEADROOM / self._units
        return max(1, min(self._cap, math.ceil(need) + 1 if math.isfinite(need) else self._cap))

    def __len__(self) -> int:
        return len(self._tasks)

    async def submit(self, rows: list[Row]) -> None:
        while len(self._tasks) >= self.depth:
            await self._change()
        if self._read is None:
            done: asyncio.Future[list[Row]] = asyncio.get_running_loop().create_future()
            done.set_result(rows)
            self._tasks.append(done)
        else:
            self._tasks.append(asyncio.ensure_future(self._timed(self._read, rows)))
        self._changes()

    def end(self) -> None:
        """No more chunks: `take` returns None once every chunk is taken."""
        self._ended = True
        self._changes()

    async def take(self) -> list[Row] | None:
        """The oldest chunk's rows to write (waits for its read); its errors (Halted, ...) are raised here."""
        while not self._tasks:
            if self._ended:
                return None
            await self._change()
        rows = await self._tasks[0]  # counted until taken: a chunk read but not yet queued holds its place
        self._tasks.popleft()
        self._changes()
        return rows

    async def close(self) -> None:
        """Cancel the reads still under way (a halt, an error): their rows stay pending for the rerun."""
        tasks, self._tasks = list(self._tasks), deque()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _change(self) -> None:
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._changed)

    def _changes(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    async def _timed(self, read: Callable[[list[Row]], Awaitable[list[Row]]], rows: list[Row]) -> list[Row]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        out = await read(rows)
        seconds = loop.time() - began
        previous = self._seconds
        self._seconds = seconds if previous is None else previous + _ALPHA * (seconds - previous)
        return out
