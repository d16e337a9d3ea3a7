"""Reader → ledger admission → bounded queue: the intake half of a run.

Chunks of rows are read on a thread (`ChunkPump`), admitted by the ledger in slices of one transaction
each (dedup and resume), vetted (types), read before write when the run does (several chunks at once,
engine/ahead.py), and queued as units: one row each, or per-pair batches in batch mode. The bounded
queue is the backpressure: reading pauses while the workers are busy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..hubspot.halt import Halt
from ..ledger.store import Key, Ledger, line_key
from ..rows.bounded import FIELD_MAX, bound, bound_field
from ..rows.pump import ChunkPump
from ..rows.reader import InvalidRow, Row, RowReader
from .ahead import ReadAhead
from .batcher import Batcher
from .tally import RunTally

__all__ = ["CHUNK", "FeedPlan", "UnitQueue", "admit", "chunk_size", "dry_feed", "feed", "invalid_key"]

CHUNK = 2048  # rows read per chunk
ADMIT_SLICE = 256  # rows admitted per ledger transaction

Item = Row | InvalidRow
_T = TypeVar("_T")


class UnitQueue(asyncio.Queue[_T]):
    """The bounded queue from the feed to the workers. asyncio's own wakes a waiting producer after every
    get, so the feed would run once per unit taken; this one wakes it once the queue is down to half, and
    the feed refills it in one go (a task switch less per row at the engine's ceiling)."""

    def get_nowait(self) -> _T:
        if self.empty():
            raise asyncio.QueueEmpty
        item = self._get()
        if self.qsize() <= self.maxsize // 2:
            self._wakeup_next(self._putters)  # type: ignore[attr-defined]
        return item


@dataclass(frozen=True, slots=True)
class FeedPlan:
    chunk_rows: int  # rows per read
    workers: int  # one end-of-input marker per worker
    batch_size: int | None = None  # batch mode: rows per unit; None: one row per unit
    linger: float = 0.5  # batch mode: seconds a partial batch waits for more rows


def admit(ledger: Ledger, tally: RunTally, chunk: list[Item], *, retry_failed: bool, resend: bool) -> list[Row]:
    """Ask the ledger which rows of a chunk still need sending; count the rest in `tally`."""
    items = [(it.key, it.line, None) if isinstance(it, Row) else (invalid_key(it), it.line, bound(it.reason))
             for it in chunk]
    adm = ledger.admit(items, retry_failed, resend)
    tally.add(adm, len(chunk))
    return [chunk[i] for i in adm.to_send]  # type: ignore[misc]  # the ledger admits only valid rows


async def feed(reader: RowReader, admit_chunk: Callable[[list[Item]], list[Row]],
               vet: Callable[[list[Row]], Awaitable[list[Row]]], queue: asyncio.Queue[list[Row] | None],
               halt: Halt, plan: FeedPlan, flush: Callable[[], Awaitable[list[Row]]] | None = None,
               ahead: ReadAhead | None = None) -> None:
    """Read, admit, vet and queue units: one row each, or per-pair batches in batch mode. `vet` may hold
    rows back (lookups gathering into full requests); `flush` returns them at the end of the input. With
    `ahead`, each chunk's read before write is started as soon as the chunk is vetted, and several are
    under way while earlier chunks' rows are queued (engine/ahead.py); rows are queued in input order."""
    loop = asyncio.get_running_loop()
    pump: ChunkPump[Item] = ChunkPump(reader.read_chunk, plan.chunk_rows)
    batcher = Batcher(plan.batch_size, plan.linger) if plan.batch_size is not None else None
    next_chunk: asyncio.Future[list[Item]] | None = asyncio.ensure_future(pump.next())

    async def place(rows: list[Row]) -> None:
        for row in rows:
            if halt.is_set():
                return
            if batcher is None:
                await queue.put([row])
            elif (full := batcher.add(row, loop.time())) is not None:
                await queue.put(full)

    async def pass_on(rows: list[Row]) -> None:
        if ahead is None:
            await place(rows)
        elif rows:
            ahead.submit(rows)

    try:
        while not halt.is_set():
            oldest = ahead.oldest if ahead is not None else None
            if ahead is not None and oldest is not None and (oldest.done() or ahead.full or next_chunk is None):
                await place(await ahead.take())  # in input order; the reads after it stay under way
                continue
            if next_chunk is None:
                break
            if (batcher is not None and len(batcher)) or oldest is not None:
                # a slow trickle (stdin): send partial batches that waited long enough, but only to a
                # worker with nothing else to do; under load batches wait to be filled
                waits: list[asyncio.Future[Any]] = [next_chunk] if oldest is None else [next_chunk, oldest]
                await asyncio.wait(waits, timeout=plan.linger if batcher is not None and len(batcher) else None,
                                   return_when=asyncio.FIRST_COMPLETED)
                if batcher is not None and queue.empty():
                    for unit in batcher.due(loop.time()):
                        await queue.put(unit)
                if not next_chunk.done():
                    continue
            chunk = await next_chunk
            if not chunk:
                next_chunk = None
                if flush is not None and not halt.is_set():
                    await pass_on(await flush())  # the rows vet held back
                continue
            next_chunk = asyncio.ensure_future(pump.next())
            await pass_on(await vet(await _admitted(chunk, admit_chunk)))
        if batcher is not None and not halt.is_set():
            for rest in batcher.drain():
                await queue.put(rest)
    finally:
        if next_chunk is not None:
            next_chunk.cancel()
        pump.stop()
        if ahead is not None:
            await ahead.close()
    for _ in range(plan.workers):
        await queue.put(None)


async def _admitted(chunk: list[Item], admit_chunk: Callable[[list[Item]], list[Row]]) -> list[Row]:
    """Admit a chunk in slices, letting the loop run between them: one transaction of 2,000 rows holds
    the loop for tens of ms, and the pacer loses the start slots of a loop that does not run."""
    rows: list[Row] = []
    for start in range(0, len(chunk), ADMIT_SLICE):
        rows += admit_chunk(chunk[start:start + ADMIT_SLICE])
        if start + ADMIT_SLICE < len(chunk):
            await asyncio.sleep(0)
    return rows


def chunk_size(input_name: str) -> int:
    """Rows per read. A pipe may trickle (a producer writing as it goes): read it row by row, so
    a row is sent as soon as it arrives instead of waiting for a full chunk."""
    return 1 if input_name == "-" else CHUNK


async def dry_feed(reader: RowReader, admit_chunk: Callable[[list[Item]], list[Row]]) -> None:
    """Read, validate and admit everything against a scratch copy of the ledger; send nothing."""
    pump: ChunkPump[Item] = ChunkPump(reader.read_chunk, CHUNK)
    try:
        while chunk := await pump.next():
            admit_chunk(chunk)
    finally:
        pump.stop()


def invalid_key(row: InvalidRow) -> Key:
    """An invalid row is keyed by its content like any row, unless it has none (a line that is not
    an object at all): then by its line, so that two such lines stay two entries."""
    key = row.key
    if any(len(v) > FIELD_MAX for v in key):  # a garbage field: kept short (with a digest) in the ledger
        key = (bound_field(key[0]), bound_field(key[1]), bound_field(key[2]), bound_field(key[3]), bound_field(key[4]))
    return key if any(key) else line_key(row.line)
