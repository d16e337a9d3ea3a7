"""Groups rows into batch units per (fromType, toType): flushed when full, or when they linger."""

from __future__ import annotations

from ..rows.reader import Row

__all__ = ["Batcher"]


class Batcher:
    """Per-pair buffers of at most `size` rows. Memory is bounded by size x the pairs in play."""

    def __init__(self, size: int, linger: float) -> None:
        self.size = size
        self.linger = linger
        self._open: dict[tuple[str, str], tuple[float, list[Row]]] = {}

    def add(self, row: Row, now: float) -> list[Row] | None:
        """Add a row; returns a full batch when this row completes one."""
        pair = (row.from_type, row.to_type)
        entry = self._open.get(pair)
        if entry is None:
            entry = self._open[pair] = (now, [])
        entry[1].append(row)
        if len(entry[1]) >= self.size:
            del self._open[pair]
            return entry[1]
        return None

    def due(self, now: float) -> list[list[Row]]:
        """Batches that waited `linger` seconds or more since their first row: a slow trickle still moves."""
        ready = [pair for pair, (since, _) in self._open.items() if now - since >= self.linger]
        return [self._open.pop(pair)[1] for pair in ready]

    def drain(self) -> list[list[Row]]:
        """Every partial batch (end of input)."""
        batches = [rows for _, rows in self._open.values()]
        self._open.clear()
        return batches

    def __len__(self) -> int:
        return sum(len(rows) for _, rows in self._open.values())
