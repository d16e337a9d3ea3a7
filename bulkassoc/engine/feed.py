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
from typing import TypeVar

from ..hubspot.halt import Halt
from ..ledger.settled import chunk_digest
from ..ledger.store import Key, Ledger, line_key
from ..rows.bounded import FIELD_MAX, bound, bound_field
from ..rows.pump import ChunkPump
from ..rows.reader import InvalidRow, Row, RowReader
from .ahead import ReadAhead
from .batcher import Batcher
from .tally import RunTally

__all__ = ["CHUNK", "CatchUp", "Chain", "FeedPlan", "UnitQueue", "admit", "chunk_size", "dry_feed", "feed",
           "invalid_key", "mark_skipped_seen"]

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


class CatchUp(Exception):
    """The first chunk that is not settled, after `rows` skipped ones: their keys are marked seen (read
    again from the input) before it is admitted, so that a later repeat counts as a duplicate."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.rows = rows


@dataclass(slots=True)
class Chain:
    """A run's settled-chunk digests (`ledger/settled.py`): chained, and skipped only from the input's start."""

    prev: bytes = b""  # the digest of the chunk before
    skipping: bool = True  # every chunk so far was settled
    skipped: int = 0  # rows skipped so far


def admit(ledger: Ledger, tally: RunTally, chunk: list[Item], *, retry_failed: bool, resend: bool,
          chain: Chain | None = None) -> list[Row]:
    """Ask the ledger which rows of a chunk still need sending; count the rest in `tally`. With a `chain`,
    a chunk the ledger holds as settled is counted as recorded and nothing of it is sent, as long as every
    chunk before it was (`ledger/settled.py`); the first one that is not raises `CatchUp` once, and is
    admitted row by row when it comes again."""
    digest = None
    if chain is not None:
        digest = chunk_digest(chunk, chain.prev)
        if chain.skipping:
            if (hit := ledger.settled(digest)) is not None:
                chain.prev = digest
                chain.skipped += len(chunk)
                tally.add_settled(*hit)
                return []
            chain.skipping = False
            if chain.skipped:
                raise CatchUp(chain.skipped)
        chain.prev = digest
    items = [(it.key, it.line, None) if isinstance(it, Row) else (invalid_key(it), it.line, bound(it.reason))
             for it in chunk]
    adm = ledger.admit(items, retry_failed, resend, digest)
    tally.add(adm, len(chunk))
    return [chunk[i] for i in adm.to_send]  # type: ignore[misc]  # the ledger admits only valid rows


async def feed(reader: RowReader, admit_chunk: Callable[[list[Item]], list[Row]],
               vet: Callable[[list[Row]], Awaitable[list[Row]]], queue: asyncio.Queue[list[Row] | None],
               halt: Halt, plan: FeedPlan, flush: Callable[[], Awaitable[list[Row]]] | None = None,
               ahead: ReadAhead | None = None, catch_up: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Read, admit, vet and queue units: one row each, or per-pair batches in batch mode. `vet` may hold
    rows back (lookups gathering into full requests); `flush` returns them at the end of the input. With
    `ahead` reading first, each chunk's read before write starts as soon as the chunk is vetted, and several
    are under way while earlier chunks' rows wait for room in the queue (engine/ahead.py). Rows are queued
    in input order."""
    stage = ahead if ahead is not None else ReadAhead(None, lambda: 0.0, 1)
    tasks = [asyncio.ensure_future(_intake(reader, admit_chunk, vet, halt, plan, flush, stage, catch_up)),
             asyncio.ensure_future(_place(stage, queue, halt, plan))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done():
                task.result()  # an error (Halted, LedgerError, InputError) ends the feed
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await stage.close()
    for _ in range(plan.workers):
        await queue.put(None)


async def _intake(reader: RowReader, admit_chunk: Callable[[list[Item]], list[Row]],
                  vet: Callable[[list[Row]], Awaitable[list[Row]]], halt: Halt, plan: FeedPlan,
                  flush: Callable[[], Awaitable[list[Row]]] | None, stage: ReadAhead,
                  catch_up: Callable[[int], Awaitable[None]] | None) -> None:
    """Chunks → admitted → vetted → `stage` (which starts their reads and holds back while it is full)."""
    pump: ChunkPump[Item] = ChunkPump(reader.read_chunk, plan.chunk_rows)
    try:
        while not halt.is_set():
            chunk = await pump.next()
            if not chunk:
                if flush is not None and not halt.is_set() and (held := await flush()):
                    await stage.submit(held)  # the rows vet held back
                break
            if rows := await vet(await _admitted(chunk, admit_chunk, catch_up)):
                await stage.submit(rows)
        stage.end()
    finally:
        pump.stop()


async def _place(stage: ReadAhead, queue: asyncio.Queue[list[Row] | None], halt: Halt, plan: FeedPlan) -> None:
    """`stage`'s chunks, in input order → units in the bounded queue."""
    loop = asyncio.get_running_loop()
    batcher = Batcher(plan.batch_size, plan.linger) if plan.batch_size is not None else None
    while not halt.is_set():
        following = asyncio.ensure_future(stage.take())
        try:
            while batcher is not None and len(batcher) and not following.done():
                # a slow trickle (stdin): send partial batches that waited long enough, but only to a
                # worker with nothing else to do; under load batches wait to be filled
                await asyncio.wait([following], timeout=batcher.linger)
                if queue.empty():
                    for unit in batcher.due(loop.time()):
                        await queue.put(unit)
            rows = await following
        finally:
            following.cancel()
        if rows is None:
            break
        for row in rows:
            if halt.is_set():
                return
            if batcher is None:
                await queue.put([row])
            elif (full := batcher.add(row, loop.time())) is not None:
                await queue.put(full)
    if batcher is not None and not halt.is_set():
        for rest in batcher.drain():
            await queue.put(rest)


async def _admitted(chunk: list[Item], admit_chunk: Callable[[list[Item]], list[Row]],
                    catch_up: Callable[[int], Awaitable[None]] | None) -> list[Row]:
    """Admit a chunk in slices, letting the loop run between them: one transaction of 2,000 rows holds
    the loop for tens of ms, and the pacer loses the start slots of a loop that does not run."""
    rows: list[Row] = []
    for start in range(0, len(chunk), ADMIT_SLICE):
        part = chunk[start:start + ADMIT_SLICE]
        try:
            rows += admit_chunk(part)
        except CatchUp as c:
            if catch_up is None:
                raise
            await catch_up(c.rows)
            rows += admit_chunk(part)
        if start + ADMIT_SLICE < len(chunk):
            await asyncio.sleep(0)
    return rows


async def mark_skipped_seen(open_reader: Callable[[], RowReader], ledger: Ledger, rows: int) -> None:
    """Mark seen the keys of the input's first `rows` rows (chunks skipped as settled), read again."""
    with open_reader() as reader:
        left = rows
        while left > 0 and (chunk := reader.read_chunk(min(CHUNK, left))):
            left -= len(chunk)
            ledger.mark_seen([it.key if isinstance(it, Row) else invalid_key(it) for it in chunk])
            await asyncio.sleep(0)


def chunk_size(input_name: str) -> int:
    """Rows per read. A pipe may trickle (a producer writing as it goes): read it row by row, so
    a row is sent as soon as it arrives instead of waiting for a full chunk."""
    return 1 if input_name == "-" else CHUNK


async def dry_feed(reader: RowReader, admit_chunk: Callable[[list[Item]], list[Row]],
                   catch_up: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Read, validate and admit everything against a scratch copy of the ledger; send nothing."""
    pump: ChunkPump[Item] = ChunkPump(reader.read_chunk, CHUNK)
    try:
        while chunk := await pump.next():
            await _admitted(chunk, admit_chunk, catch_up)
    finally:
        pump.stop()


def invalid_key(row: InvalidRow) -> Key:
    """An invalid row is keyed by its content like any row, unless it has none (a line that is not
    an object at all): then by its line, so that two such lines stay two entries."""
    key = row.key
    if any(len(v) > FIELD_MAX for v in key):  # a garbage field: kept short (with a digest) in the ledger
        key = (bound_field(key[0]), bound_field(key[1]), bound_field(key[2]), bound_field(key[3]), bound_field(key[4]))
    return key if any(key) else line_key(row.line)
