"""The portal's real limits, read from X-HubSpot-RateLimit-* headers.

`HeaderPacer` keeps the limiter at or under what the headers allow: the advertised window
(-Max per -Interval-Milliseconds), minus what other clients of the same app are spending in it
(seen through -Remaining). `DailyGuard` stops the run before the account's daily quota falls
below a reserve kept for its other integrations. Both tolerate headers that are missing,
partial or nonsense: they then change nothing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from .limiter import RollingWindowLimiter
from .rate import Rate

__all__ = ["AUTO_START", "DailyGuard", "HeaderPacer", "header_int"]

AUTO_START = Rate(100, 10.0)  # `--rate auto` begins at the lowest published limit
_MAX_SANE = 1_000_000


def header_int(headers: Mapping[str, str], name: str, low: int = 0, high: int = 10**12) -> int | None:
    """An integer header within [low, high], else None (missing, garbage, negative, absurd)."""
    raw = headers.get(name)
    if raw is None:
        return None
    text = raw.strip()
    # HTTP's digits only: int() would also take "1_000", "+5" and other scripts' digits
    if not (0 < len(text) <= 20 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


class HeaderPacer:
    """Adjusts a limiter's rate from each response's headers.

    `ceiling` is the user's explicit `--rate` (never exceeded); None means `--rate auto`, where the
    headers alone decide after starting at AUTO_START. The pace only follows the headers down from
    the ceiling, never above it.
    """

    def __init__(self, limiter: RollingWindowLimiter, ceiling: Rate | None, *, concurrency: int = 8) -> None:
        self._limiter = limiter
        self._ceiling = ceiling
        self._noise = float(max(2, concurrency))
        self._starts: list[float] = []  # our request starts (loop time), ascending
        self._others = 0.0  # smoothed estimate of other clients' requests per window
        self.advertised: Rate | None = None
        self.changes = 0  # how often the pace was changed

    def set_concurrency(self, concurrency: int) -> None:
        """Requests in flight now (`--concurrency auto` moves it): how many of ours may arrive out of order."""
        self._noise = float(max(2, concurrency))

    def note_start(self, now: float) -> None:
        starts = self._starts
        starts.append(now)
        if len(starts) > 8192:  # bounded, whatever the answers' headers say (or fail to say)
            period = self.advertised.period if self.advertised is not None else 0.0
            del starts[: min(len(starts) - 4096, bisect.bisect_right(starts, now - 2 * period))]

    def _ours_within(self, period: float, started: float) -> int:
        """Our starts in the window HubSpot looked at when it answered the request started at `started`."""
        starts = self._starts
        return bisect.bisect_right(starts, started) - bisect.bisect_right(starts, started - period)

    def observe(self, headers: Mapping[str, str], started: float) -> None:
        """Take in one answer's headers; `started` is the loop time its request was sent."""
        limit = header_int(headers, "X-HubSpot-RateLimit-Max", 1, _MAX_SANE)
        interval_ms = header_int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds", 100, 86_400_000)
        if limit is None or interval_ms is None:
            return
        advertised = Rate(limit, interval_ms / 1000)
        self.advertised = advertised
        remaining = header_int(headers, "X-HubSpot-RateLimit-Remaining", 0, limit)
        if remaining is not None:
            ours = self._ours_within(advertised.period, started)
            seen = max(0, limit - remaining - ours)
            # smooth: one odd header (answers overtaking each other) must not halve the pace
            self._others = 0.8 * self._others + 0.2 * seen
        # up to `noise` requests of "others" are our own requests seen out of order (requests on
        # parallel connections overtake each other); sharing that small is left to the margin
        others = math.ceil(self._others) if self._others > max(self._noise, 0.02 * limit) else 0
        allowed = Rate(max(1, limit - others), advertised.period)
        target = allowed
        if self._ceiling is not None and self._ceiling.per_second < allowed.per_second:
            target = self._ceiling
        current = self._limiter.rate.per_second
        # change the pace only for a real difference: every change costs a little precision
        if abs(target.per_second - current) > 0.03 * current:
            self.changes += 1
            self._limiter.set_rate(target)


class DailyGuard:
    """Never start a request that could take the daily quota below `reserve`.

    With no explicit reserve, 1% of the advertised daily limit is kept back. `remaining` is the
    lowest X-HubSpot-RateLimit-Daily-Remaining seen (answers may arrive out of order); requests
    still in flight are assumed to spend quota too, so the run ends with at least `reserve` left.
    """

    def __init__(self, reserve: int | None) -> None:
        self._reserve = reserve
        self.daily: int | None = None
        self.remaining: int | None = None

    @property
    def reserve(self) -> int:
        if self._reserve is not None:
            return self._reserve
        return math.ceil(self.daily * 0.01) if self.daily else 0

    def observe(self, headers: Mapping[str, str]) -> None:
        daily = header_int(headers, "X-HubSpot-RateLimit-Daily", 1)
        if daily is not None:
            self.daily = daily
        left = header_int(headers, "X-HubSpot-RateLimit-Daily-Remaining", 0)
        if left is None or (self.daily is not None and left > self.daily):
            return
        if self.remaining is None or left < self.remaining:
            self.remaining = left
        elif self.daily is not None and left > self.remaining + self.daily // 2:
            self.remaining = left  # the quota reset (midnight in the account's time zone)

    def may_start(self, in_flight: int) -> bool:
        if self.remaining is None:
            return True
        return self.remaining - in_flight - 1 >= self.reserve
