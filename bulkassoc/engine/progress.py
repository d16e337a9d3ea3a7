"""A one-line live progress display on stderr (only when asked for, e.g. on a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from .summary import format_duration

__all__ = ["Progress"]


class Progress:
    """Redraws `done/total · failed · rate · ETA` at most every `interval` seconds."""

    def __init__(self, total: int | None, *, stream: TextIO | None = None, interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.total = total
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._started = clock()
        self._last_draw = 0.0
        self._width = 0
        self._first: tuple[float, int] | None = None  # (when, rows settled) at the first settled row

    def update(self, succeeded: int, failed: int, skipped: int, requests: int) -> None:
        now = self._clock()
        if now - self._last_draw < self._interval:
            return
        self._last_draw = now
        elapsed = max(now - self._started, 1e-9)
        rate = requests / elapsed
        done = succeeded + failed + skipped
        parts = [f"done {done:,}" + (f"/{self.total:,}" if self.total else "")]
        if self.total:
            parts[0] += f" ({min(100.0, 100 * done / self.total):.1f}%)"
        parts += [f"failed {failed:,}", f"{rate:.1f} req/s"]
        # the ETA counts rows, not requests (a batch request settles many), at the pace rows settle
        # since the first one did (skipped rows and the preflight take no part in it)
        settled = succeeded + failed
        if self._first is None and settled:
            self._first = (now, settled)
        rows_per_s = 0.0
        if self._first is not None and now > self._first[0]:
            rows_per_s = (settled - self._first[1]) / (now - self._first[0])
        if self.total and rows_per_s > 0 and done < self.total:
            parts.append(f"ETA {format_duration((self.total - done) / rows_per_s)}")
        line = "  ".join(parts)
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self._stream.write("\r" + line + " " * pad)
        self._stream.flush()

    def close(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
