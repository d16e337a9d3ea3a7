"""A one-line live progress display on stderr (only when asked for, e.g. on a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .summary import format_duration

__all__ = ["Progress"]


class Progress:
    """Redraws `done/total · failed · rate · ETA` at most every `interval` seconds."""

    def __init__(self, total: int | None, *, stream: TextIO | None = None, interval: float = 0.5) -> None:
        self.total = total
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._width = 0

    def update(self, succeeded: int, failed: int, skipped: int, requests: int) -> None:
        now = time.monotonic()
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
        if self.total and rate > 0 and done < self.total:
            parts.append(f"ETA {format_duration((self.total - done) / rate)}")
        line = "  ".join(parts)
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self._stream.write("\r" + line + " " * pad)
        self._stream.flush()

    def close(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
