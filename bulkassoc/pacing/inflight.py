"""How many requests may be on the wire at once: a fixed cap, or sized by Little's law (`auto`).

A rate limit of R requests per second at a latency of L seconds needs about R × L requests in flight
(Little's law): fewer, and the run falls short of the limit however fast the client is; more only
open connections that wait on the pacer. `InFlight` is a gate with an adjustable limit. In `auto` it
follows the pace the limiter allows now × the smoothed wire time of answered requests × HEADROOM
(+ SPARE), between AUTO_MIN and AUTO_CAP; a number given by the user is a hard cap and never changes.

The caller holds a slot only around each attempt's start and wire time (never through a backoff), so
a row waiting to be resent does not keep another row off the wire. Waiters are served first come,
first served; a cancelled waiter never leaks a slot.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable

__all__ = ["AUTO_CAP", "AUTO_MIN", "AUTO_START", "HEADROOM", "SPARE", "InFlight", "workers_for"]

AUTO_MIN = 2
AUTO_CAP = 64
AUTO_START = 8  # before the first answer (the preflight's) says what the latency is
HEADROOM = 1.5  # latency varies around its mean; a slot short means a start slot of the pacer lost
SPARE = 3  # and a few more: the client's own loop adds jitter that matters most when few are in flight
_ALPHA = 0.1  # weight of one answer in the smoothed latency


def workers_for(concurrency: int | None) -> int:
    """Tasks a command runs to keep `concurrency` requests in flight while others wait out backoffs."""
    return AUTO_CAP if concurrency is None else max(concurrency, AUTO_CAP)


class InFlight:
    """A semaphore whose limit follows `pace() × latency × HEADROOM` (auto), or a fixed cap."""

    __slots__ = ("_latency", "_limit", "_pace", "_waiters", "active", "cap", "fixed", "peak")

    def __init__(self, fixed: int | None, pace: Callable[[], float]) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError(f"concurrency must be at least 1, got {fixed}")
        self.fixed = fixed
        self.cap = AUTO_CAP if fixed is None else fixed
        self._pace = pace  # requests per second the pacer allows now
        self._limit = min(self.cap, AUTO_START) if fixed is None else fixed
        self._latency: float | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.active = 0
        self.peak = 0  # the most requests ever in flight at once

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def latency(self) -> float | None:
        """The smoothed wire time of answered requests, in seconds (None before the first answer)."""
        return self._latency

    async def acquire(self) -> None:
        if self.active < self._limit and not self._waiters:
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted as we were cancelled: hand it on
                self.release()
            elif waiter in self._waiters:  # (`_wake` drops a cancelled waiter it comes across)
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def observe(self, wire_seconds: float) -> None:
        """Take in one answered request's wire time (auto only: a fixed cap never moves)."""
        if self.fixed is not None:
            return
        previous = self._latency
        latency = wire_seconds if previous is None else previous + _ALPHA * (wire_seconds - previous)
        self._latency = latency
        need = self._pace() * latency * HEADROOM + SPARE
        self._limit = max(AUTO_MIN, min(self.cap, math.ceil(need) if math.isfinite(need) else self.cap))
        self._wake()

    def _take(self) -> None:
        self.active += 1
        if self.active > self.peak:
            self.peak = self.active

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.active < self._limit:
            waiter = waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)
