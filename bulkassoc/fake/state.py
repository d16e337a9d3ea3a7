"""The fake HubSpot's state: rate-limit accounting, the association store and the live stats."""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from bulkassoc.pacing.rate import Rate

__all__ = ["AssociationKey", "AssociationStore", "DailyBudget", "FakeStats", "RollingWindow"]

# (fromType, fromId, toType, toId, associationType), object types in the fake's canonical spelling.
AssociationKey = tuple[str, str, str, str, str]

_DAY = 86_400.0


class RollingWindow:
    """Counts requests in a rolling window: a request at t occupies a slot during (t, t + period].

    HubSpot says the window is rolling (TEN_SECONDLY_ROLLING) but not where its edges fall; we take the
    strict reading, so a client that starts at most `limit` requests in any `period` is never throttled.
    """

    def __init__(self, rate: Rate) -> None:
        self.limit = rate.limit
        self.period = rate.period
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        cutoff = now - self.period
        times = self._times
        while times and times[0] <= cutoff:
            times.popleft()

    def has_room(self, now: float) -> bool:
        """Whether a request arriving at `now` fits (also expires what fell out of the window)."""
        self._expire(now)
        return len(self._times) < self.limit

    def set_rate(self, rate: Rate) -> None:
        """A new limit from now on; requests already in the window still count against it."""
        self.limit, self.period = rate.limit, rate.period

    def take(self, now: float) -> None:
        """Count a request arriving at `now` (a rejected one too, when 429s are counted)."""
        self._times.append(now)

    def remaining(self) -> int:
        return max(0, self.limit - len(self._times))

    def retry_after(self, now: float) -> float:
        """Seconds until a slot frees up (0 when one is free)."""
        excess = len(self._times) - self.limit
        if excess < 0:
            return 0.0
        return max(0.0, self._times[excess] + self.period - now)


class DailyBudget:
    """A daily request budget.

    HubSpot resets it at midnight in the account's time zone; the fake resets it every 24 h of its own
    clock, counted from start-up, which is what a test or a rehearsal can observe anyway.
    """

    def __init__(self, limit: int, start: float) -> None:
        self.limit = limit
        self._start = start
        self._day = 0
        self.used = 0

    def _roll(self, now: float) -> None:
        day = int((now - self._start) // _DAY)
        if day != self._day:
            self._day = day
            self.used = 0

    def has_room(self, now: float) -> bool:
        self._roll(now)
        return self.used < self.limit

    def take(self) -> None:
        self.used += 1

    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def seconds_to_reset(self, now: float) -> float:
        return self._start + (self._day + 1) * _DAY - now


class AssociationStore:
    """What the fake holds, grouped the way the read-back endpoint lists it, in insertion order."""

    def __init__(self) -> None:
        self._by_source: dict[tuple[str, str, str], dict[tuple[str, str], None]] = {}

    def add(self, key: AssociationKey) -> bool:
        """Store an association; False when it was already there (a re-PUT stores nothing new)."""
        from_type, from_id, to_type, to_id, assoc_type = key
        targets = self._by_source.setdefault((from_type, from_id, to_type), {})
        if (to_id, assoc_type) in targets:
            return False
        targets[(to_id, assoc_type)] = None
        return True

    def discard(self, key: AssociationKey) -> bool:
        """Remove one association (one type between a pair); False when it was not there."""
        from_type, from_id, to_type, to_id, assoc_type = key
        targets = self._by_source.get((from_type, from_id, to_type))
        if targets is None or (to_id, assoc_type) not in targets:
            return False
        del targets[(to_id, assoc_type)]
        return True

    def types_between(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[str]:
        """Every type stored between one pair, in insertion order."""
        targets = self._by_source.get((from_type, from_id, to_type), {})
        return [t for (tid, t) in targets if tid == to_id]

    def page(self, from_type: str, from_id: str, to_type: str, offset: int, limit: int
             ) -> tuple[list[tuple[str, str]], int | None]:
        """One page of (toId, type) from `offset`, and the next offset (None on the last page)."""
        targets = list(self._by_source.get((from_type, from_id, to_type), ()))
        end = offset + limit
        return targets[offset:end], (end if end < len(targets) else None)

    def all(self) -> set[AssociationKey]:
        return {(f, fid, t, tid, a) for (f, fid, t), targets in self._by_source.items()
                for (tid, a) in targets}


@dataclass
class FakeStats:
    """Live counters of the fake. `requests` and `arrivals` cover every API request received (not
    /__fake__/…); `put_counts` counts the successful writes per association (PUTs answered 2xx and
    batch-created inputs), so a count above 1 means the client re-sent an association that had already
    succeeded."""

    requests: int = 0
    puts: int = 0
    associations_stored: int = 0
    put_counts: Counter[AssociationKey] = field(default_factory=Counter)
    throttled: int = 0  # 429 TEN_SECONDLY_ROLLING sent
    daily_throttled: int = 0  # 429 DAILY sent
    errors: Counter[int] = field(default_factory=Counter)  # every non-2xx status sent, 429s included
    dropped: int = 0  # connections closed without an answer
    arrivals: list[float] = field(default_factory=list)  # clock reading of each request, in order
    first_write: int | None = None  # index in `arrivals` of the first write (a PUT or a batch create)
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # (path, arrived, answered) per answer
    batch_requests: int = 0  # batch creates that reached the endpoint (one request each)
    batch_inputs: int = 0  # inputs in those batch creates
    delete_counts: Counter[AssociationKey] = field(default_factory=Counter)  # removals asked for, per type
    deletes: int = 0  # delete requests (single DELETE, batch/archive, batch/labels/archive) that reached it
    removed: int = 0  # associations removed (labels replaced by a v4 create count too)
    in_flight: int = 0  # API requests being answered now
    peak_in_flight: int = 0  # the most API requests ever being answered at once

    def max_in_window(self, period: float) -> int:
        """The most requests that arrived within any window (t - period, t]."""
        times = self.arrivals
        best = 0
        for i, t in enumerate(times):
            first = bisect.bisect_right(times, t - period, 0, i + 1)
            best = max(best, i + 1 - first)
        return best

    def as_json(self, *, window: float, detail: bool) -> dict[str, Any]:
        repeated = [n for n in self.put_counts.values() if n > 1]
        data: dict[str, Any] = {
            "requests": self.requests,
            "puts": self.puts,
            "associations_stored": self.associations_stored,
            "throttled": self.throttled,
            "daily_throttled": self.daily_throttled,
            "errors": {str(status): n for status, n in sorted(self.errors.items())},
            "dropped": self.dropped,
            "pairs_put_more_than_once": len(repeated),
            "max_puts_per_pair": max(self.put_counts.values(), default=0),
            "window_s": window,
            "max_requests_in_window": self.max_in_window(window),
        }
        if self.batch_requests:  # only once batch creates arrived, so the v3-only shape stays as it was
            data["batch_requests"] = self.batch_requests
            data["batch_inputs"] = self.batch_inputs
        if self.deletes:
            data["deletes"] = self.deletes
            data["removed"] = self.removed
        if detail:
            data["put_counts"] = [
                {"fromType": f, "fromId": fid, "toType": t, "toId": tid, "type": a, "count": n}
                for (f, fid, t, tid, a), n in self.put_counts.items()
            ]
        return data
