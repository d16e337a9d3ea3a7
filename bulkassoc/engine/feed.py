"""Reader → ledger admission → bounded queue: the intake half of a run.

Chunks of rows are read on a thread (`ChunkPump`), admitted by the ledger in one transaction each
(dedup and resume), checked (types), and queued as units: one row each, or per-pair batches in
batch mode. The bounded queue is the backpressure: reading pauses while the workers are busy.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..ledger.store import Admission, Key, line_key
from ..rows.pump import ChunkPump
from ..rows.reader import InvalidRow, Row, RowReader
from .batcher import Batcher
from .checks import RunLike, drop_unknown_types, drop_unwritable
from .config import RunConfig

__all__ = ["CHUNK", "FeedRun", "admit", "chunk_size", "dry_feed", "feed", "invalid_key"]

CHUNK = 2048  # rows read and admitted per ledger transaction


class FeedRun(RunLike, Protocol):
    reader: RowReader
    queue: asyncio.Queue[list[Row] | None]


def admit(run: FeedRun, chunk: list[Row | InvalidRow]) -> Admission:
    """Ask the ledger which rows of a chunk still need sending, and count the rest."""
    items = [(it.key, it.line, None) if isinstance(it, Row) else (invalid_key(it), it.line, it.reason)
             for it in chunk]
    adm = run.ledger.admit(items, run.config.retry_failed, run.config.resend)
    run.tally.add(adm, len(chunk))
    return adm


async def feed(run: FeedRun) -> None:
    """Read, admit and queue units: one row each, or per-pair batches in batch mode."""
    loop = asyncio.get_running_loop()
    pump: ChunkPump[Row | InvalidRow] = ChunkPump(run.reader.read_chunk, chunk_size(run.config))
    batcher = Batcher(run.config.batch_size, run.config.batch_linger) if run.batched else None
    next_chunk: asyncio.Future[list[Row | InvalidRow]] = asyncio.ensure_future(pump.next())
    try:
        while not run.halt.is_set():
            if batcher is not None and len(batcher):
                # a slow trickle (stdin): send partial batches that waited long enough
                await asyncio.wait([next_chunk], timeout=batcher.linger)
                for unit in batcher.due(loop.time()):
                    await run.queue.put(unit)
                if not next_chunk.done():
                    continue
            chunk = await next_chunk
            if not chunk:
                break
            next_chunk = asyncio.ensure_future(pump.next())
            adm = admit(run, chunk)
            rows = drop_unwritable(run, [chunk[i] for i in adm.to_send])  # type: ignore[misc]  # admitted = valid
            if run.config.preflight:
                rows = await drop_unknown_types(run, rows)
            for row in rows:
                if run.halt.is_set():
                    break
                if batcher is None:
                    await run.queue.put([row])
                elif (full := batcher.add(row, loop.time())) is not None:
                    await run.queue.put(full)
        if batcher is not None and not run.halt.is_set():
            for rest in batcher.drain():
                await run.queue.put(rest)
    finally:
        next_chunk.cancel()
        pump.stop()
    for _ in range(run.config.concurrency):
        await run.queue.put(None)


def chunk_size(config: RunConfig) -> int:
    """Rows per read. A pipe may trickle (a producer writing as it goes): read it row by row, so
    a row is sent as soon as it arrives instead of waiting for a full chunk."""
    return 1 if str(config.input) == "-" else CHUNK


async def dry_feed(run: FeedRun) -> None:
    """Read, validate and admit everything against a scratch copy of the ledger; send nothing."""
    pump: ChunkPump[Row | InvalidRow] = ChunkPump(run.reader.read_chunk, CHUNK)
    try:
        while chunk := await pump.next():
            admit(run, chunk)
    finally:
        pump.stop()


def invalid_key(row: InvalidRow) -> Key:
    """An invalid row is keyed by its content like any row, unless it has none (a line that is not
    an object at all): then by its line, so that two such lines stay two entries."""
    key = row.key
    return key if any(key) else line_key(row.line)
