"""Generated inputs: distinct contact → company associations, `fromId,toType,toId,type` CSV."""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["FROM_TYPE", "write_csv", "write_shuffled_csv"]

FROM_TYPE = "contacts"
_BLOCK = 50_000


def write_csv(path: Path, rows: int, *, start: int = 0) -> Path:
    """Write `rows` distinct rows (IDs from `start`) to `path` and return it."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("fromId,toType,toId,type\n")
        for block in range(start, start + rows, _BLOCK):
            end = min(block + _BLOCK, start + rows)
            fh.write("".join(f"{10_000_000 + i},companies,{50_000_000 + i},279\n" for i in range(block, end)))
    return path


def write_shuffled_csv(path: Path, rows: int, *, seed: int = 13) -> Path:
    """`rows` distinct rows with 20-digit IDs in shuffled order, as real exports are (not sorted by key)."""
    rng = random.Random(seed)
    order = list(range(rows))
    rng.shuffle(order)
    base = 10**19
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("fromId,toType,toId,type\n")
        for block in range(0, rows, _BLOCK):
            fh.write("".join(f"{base + 7_919 * i},companies,{base + 104_729 * i + 1},279\n"
                             for i in order[block:block + _BLOCK]))
    return path
