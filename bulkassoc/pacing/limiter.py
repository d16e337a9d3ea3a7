"""Request-start pacing that respects HubSpot's rolling window, with a pool-wide pause.

HubSpot counts request *starts* in a rolling window (e.g. 190 per 10 s). A plain
`AsyncLimiter(190, 10)` is a leaky bucket that starts full of credit: it lets ~190 through at
t=0 plus ~19/s after, about 2x the window in the first 10 s. We instead run aiolimiter as a
pacer: a bucket of capacity C = 1 + slack draining one unit per `spacing` seconds.

Bound: a start needs level <= C - 1 before it, and each start adds 1. If k starts fall in a
window of length D, then between the first and the k-th the level rose by k - 1 and drained
by less than D / spacing, so k < C + D / spacing. With spacing = D / N * (1 + margin) and
slack <= N * margin / (1 + margin), that gives k <= N: no rolling window ever holds more than N.
Sustained throughput is N / D / (1 + margin).

The slack is what a start slot missed can be made up with. A Python client's loop is sometimes busy
for tens of milliseconds at a stretch (a chunk's ledger admission, a burst of answers to settle), and a
timer due meanwhile fires late: without slack every such stall is a slot lost for good (with a slack of
half a slot, batch mode reached 0.93–0.96 of the limit; the stalls cost the rest). So the slack takes
SLACK_SHARE of the margin (about 2.5 slots at 190/10s, a quarter slot at 20/1s), never more than
SLACK_CAP, and the bound above still holds by the times `acquire` returns.

The bound holds for the moments `acquire` returns. A request can leave later than that: its connection
may still have to be opened while the loop runs other work (a chunk's ledger admission), and when two
early requests of a window leave late and the later ones on time, the window the server sees is
compressed. So every start is also recorded as it happens on the wire (`Start.sent`, from the HTTP
client's headers-sent hook), and no start is let through while the `limit` starts before it, at the
times they really left, fall within one period plus 3/4 of the margin: a rolling-window guard on the wire
times, which also absorbs the network's jitter between our clock and HubSpot's (at least
JITTER_ALLOWANCE seconds per window; in steady pacing it hardly binds: the bucket spaces starts by the
margin).

Time comes only from the running loop, so tests drive it with a fake `loop.time`.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiolimiter import AsyncLimiter

from .rate import Rate

__all__ = ["DEFAULT_MARGIN", "JITTER_ALLOWANCE", "SLACK_CAP", "SLACK_SHARE", "RollingWindowLimiter", "Start"]

DEFAULT_MARGIN = 0.015  # 98.5% of the nominal rate; covers ~150 ms of jitter on a 10 s window
# Between our `acquire` and HubSpot's clock a request can be delayed by the event loop, the
# connection pool and the network, unevenly. Short windows (time-scaled tests, 5/500ms) need
# the margin to cover this absolute jitter too.
JITTER_ALLOWANCE = 0.015
SLACK_SHARE = 0.9  # of the margin's starts per window, kept to make up slots a busy loop missed
SLACK_CAP = 8.0  # start slots at most (a limit far above any real one: rate off)
GUARDED_LIMIT = 2000  # the wire-time guard keeps the last `limit` starts: only for limits up to this


def _guarded(rate: Rate) -> int:
    """How many starts the wire-time guard keeps (none for a limit far above any real one: rate off)."""
    return rate.limit if rate.limit <= GUARDED_LIMIT else 0


class Start:
    """One request start: when the limiter let it through, moved later to when it left (`sent`)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def sent(self, at: float) -> None:
        if at > self.at:
            self.at = at


class RollingWindowLimiter:
    """At most `rate.limit` starts in any rolling `rate.period`, and a pause shared by all workers."""

    __slots__ = ("_bucket", "_margin", "_paused_until", "_rate", "_recent", "last_start")

    def __init__(self, rate: Rate, *, margin: float = DEFAULT_MARGIN) -> None:
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin}")
        self._margin = margin
        self._rate = rate
        self._bucket = self._make_bucket()
        self._paused_until = 0.0
        self._recent: deque[Start] = deque(maxlen=_guarded(rate))  # the last `limit` starts
        self.last_start: float | None = None  # loop time of the most recent start

    @property
    def rate(self) -> Rate:
        return self._rate

    @property
    def margin(self) -> float:
        return max(self._margin, JITTER_ALLOWANCE / self._rate.period)

    @property
    def guarded(self) -> bool:
        """Whether the wire-time guard is on (it is off for a limit far above any real one: rate off)."""
        return bool(self._recent.maxlen)

    @property
    def spacing(self) -> float:
        """Minimum seconds between two request starts."""
        return self._rate.period / self._rate.limit * (1 + self.margin)

    @property
    def slack(self) -> float:
        """Start slots a late timer can make up (see the module docstring)."""
        return min(SLACK_CAP, SLACK_SHARE * self._rate.limit * self.margin / (1 + self.margin))

    def _make_bucket(self) -> AsyncLimiter:
        return AsyncLimiter(1 + self.slack, (1 + self.slack) * self.spacing)

    def continue_after(self, last_start: float) -> None:
        """Pace as if the bucket had been full at `last_start` (a fresh bucket starts empty, which
        would hand out its slack once more): no start before it has fully drained."""
        self.hold_until(last_start + (1 + self.slack) * self.spacing)

    def set_rate(self, rate: Rate) -> None:
        """Change the pace from the next start on, keeping the spacing from the last start."""
        if rate == self._rate:
            return
        self._rate = rate
        self._bucket = self._make_bucket()
        self._recent = deque(self._recent, maxlen=_guarded(rate))
        if self.last_start is not None:
            self.continue_after(self.last_start)

    def pause(self, seconds: float) -> None:
        """Stop every worker from starting a request for `seconds` (e.g. after a 429)."""
        self.hold_until(asyncio.get_running_loop().time() + max(0.0, seconds))

    def hold_until(self, loop_time: float) -> None:
        if loop_time > self._paused_until:
            self._paused_until = loop_time

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def _window_free_at(self) -> float:
        """The earliest moment a start keeps the last `limit` wire times plus itself out of one period."""
        recent = self._recent
        if not recent or len(recent) < self._rate.limit:
            return 0.0
        return recent[0].at + self._rate.period * (1 + 0.75 * self.margin)

    async def acquire(self) -> Start:
        """Wait for the pause to pass and for the next start slot, then claim it. The caller reports
        when the request really left with `Start.sent`."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            wait = max(self._paused_until, self._window_free_at()) - now
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            bucket = self._bucket
            await bucket.acquire()
            # the rate may have changed (a new bucket) or a pause begun while we queued: a slot of the
            # old bucket is not a slot of the new pace, so queue again (and so for the window guard)
            now = loop.time()
            if bucket is self._bucket and now >= self._paused_until and now >= self._window_free_at():
                start = Start(now)
                self._recent.append(start)
                self.last_start = now
                return start
