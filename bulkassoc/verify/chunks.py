"""Grouping the input's valid rows into chunks, one batch read each (the limits are in `_verify`'s docstring).

A chunk holds rows of one (fromType, toType) with at most `max_ids` distinct fromIds and `chunk_rows`
rows; it goes to the workers when a row does not fit it, when the chunks still filling hold more than
`open_rows` rows together (the biggest goes), or at the end of the input.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..rows.bounded import bound
from ..rows.pump import ChunkPump
from ..rows.reader import InvalidRow, Row, RowReader
from .match import norm_id
from .seen import SeenKeys
from .summary import VerifyTally

__all__ = ["Chunk", "ChunkLimits", "fill_chunks"]


@dataclass(frozen=True, slots=True)
class ChunkLimits:
    max_ids: int  # distinct fromIds per chunk
    chunk_rows: int  # rows per chunk
    open_rows: int  # rows in chunks still filling, over all (fromType, toType) groups
    read_rows: int  # rows per read from the input thread


@dataclass(slots=True)
class Chunk:
    """Rows of one (fromType, toType) whose fromIds fit one batch read."""

    from_type: str
    to_type: str
    rows: list[Row] = field(default_factory=list)
    ids: dict[str, None] = field(default_factory=dict)  # normalised fromIds, first-seen order

    def accepts(self, from_id: str, limits: ChunkLimits) -> bool:
        return len(self.rows) < limits.chunk_rows and (from_id in self.ids or len(self.ids) < limits.max_ids)


async def fill_chunks(reader: RowReader, queue: asyncio.Queue[Chunk | None], tally: VerifyTally, limits: ChunkLimits,
                      workers: int) -> None:
    """Read the whole input, counting into `tally`; put its chunks on `queue`, then one None per worker."""
    pump: ChunkPump[Row | InvalidRow] = ChunkPump(reader.read_chunk, limits.read_rows)
    open_chunks: dict[tuple[str, str], Chunk] = {}
    open_rows = 0
    seen = SeenKeys()
    try:
        while items := await pump.next():
            tally.read += len(items)
            fresh = iter(seen.first_time([it.key for it in items if isinstance(it, Row)]))
            for item in items:
                if isinstance(item, InvalidRow):
                    tally.invalid += 1
                    tally.first_invalid = tally.first_invalid or f"line {item.line}: {bound(item.reason, 300)}"
                    continue
                if not next(fresh):
                    tally.duplicates += 1
                    continue
                group = (item.from_type, item.to_type)
                from_id = norm_id(item.from_id)
                chunk = open_chunks.get(group)
                if chunk is not None and not chunk.accepts(from_id, limits):
                    open_rows -= len(chunk.rows)
                    await queue.put(open_chunks.pop(group))
                    chunk = None
                if chunk is None:
                    chunk = open_chunks[group] = Chunk(*group)
                chunk.rows.append(item)
                chunk.ids[from_id] = None
                tally.distinct += 1
                open_rows += 1
                if open_rows > limits.open_rows:
                    biggest = max(open_chunks, key=lambda g: len(open_chunks[g].rows))
                    open_rows -= len(open_chunks[biggest].rows)
                    await queue.put(open_chunks.pop(biggest))
        for chunk in open_chunks.values():
            await queue.put(chunk)
    finally:
        pump.stop()
        seen.close()
    for _ in range(workers):
        await queue.put(None)
