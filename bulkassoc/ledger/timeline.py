"""The picture of a run: a compact per-interval time series kept in the ledger.

Every `interval` seconds of a run one row is written to the table `timeline` (created on first use,
so a ledger written by an older bulkassoc gains it on its next run and still resumes): request
starts, rows that succeeded and failed (by category), 429 answers, resent attempts, latency
percentiles, the pace in force and the limit HubSpot's headers advertised. A 14-hour run at 10 s
intervals is ~5,000 small rows. `bulkassoc report LEDGER --html FILE` draws them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

__all__ = ["INTERVAL", "Bin", "Point", "TimelineRecorder", "ensure_table", "read_timeline"]

INTERVAL = 10.0  # seconds per point
_MAX_SAMPLES = 4096  # latencies kept per interval (every other one is dropped beyond that)

_TABLE = """
CREATE TABLE IF NOT EXISTS timeline (
    run_id INTEGER NOT NULL, t REAL NOT NULL, seconds REAL NOT NULL,
    starts INTEGER NOT NULL, succeeded INTEGER NOT NULL, failed INTEGER NOT NULL,
    throttled INTEGER NOT NULL, retries INTEGER NOT NULL,
    p50_ms REAL, p90_ms REAL, p99_ms REAL, max_ms REAL,
    pace REAL, advertised REAL, failures TEXT,
    PRIMARY KEY (run_id, t)
)"""


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(_TABLE)


@dataclass(slots=True)
class Bin:
    """What happened in one interval, as it happens."""

    starts: int = 0
    succeeded: int = 0
    failed: int = 0
    throttled: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def latency(self, seconds: float) -> None:
        lat = self.latencies
        lat.append(seconds)
        if len(lat) >= _MAX_SAMPLES:
            del lat[::2]

    def empty(self) -> bool:
        return not (self.starts or self.succeeded or self.failed or self.throttled)


@dataclass(frozen=True, slots=True)
class Point:
    """One stored interval. `t` is wall-clock (epoch seconds) at its start; rates are per second."""

    run_id: int
    t: float
    seconds: float
    starts: int
    succeeded: int
    failed: int
    throttled: int
    retries: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    pace: float | None  # requests per second the limiter allowed at the end of the interval
    advertised: float | None  # requests per second HubSpot's headers advertised (None: no headers)
    failures: dict[str, int]  # failed rows by category


def _pct(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


class TimelineRecorder:
    """Bins a run's events and closes one point per interval (`roll`), for `save`."""

    def __init__(self, run_id: int, *, interval: float = INTERVAL) -> None:
        self.run_id = run_id
        self.interval = interval
        self.bin = Bin()
        self._start_loop: float | None = None
        self._start_wall = 0.0
        self.closed: list[Point] = []

    def begin(self, loop_now: float, wall_now: float) -> None:
        self._start_loop, self._start_wall = loop_now, wall_now

    def due(self, loop_now: float) -> bool:
        return self._start_loop is not None and loop_now - self._start_loop >= self.interval

    def roll(self, loop_now: float, wall_now: float, pace: float | None, advertised: float | None) -> None:
        """Close the current interval (kept in `closed` until saved) and start the next."""
        if self._start_loop is None:
            self.begin(loop_now, wall_now)
            return
        b = self.bin
        ms = sorted(x * 1000 for x in b.latencies)
        self.closed.append(Point(
            self.run_id, self._start_wall, max(0.0, loop_now - self._start_loop), b.starts, b.succeeded, b.failed,
            b.throttled, b.retries, _pct(ms, 0.5), _pct(ms, 0.9), _pct(ms, 0.99), ms[-1] if ms else None,
            pace, advertised, dict(b.failures)))
        self.bin = Bin()
        self.begin(loop_now, wall_now)

    def save(self, conn: sqlite3.Connection) -> None:
        """Write the closed points (one statement; the ledger runs in autocommit)."""
        if not self.closed:
            return
        points, self.closed = self.closed, []
        conn.executemany(
            "INSERT OR REPLACE INTO timeline VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.run_id, p.t, p.seconds, p.starts, p.succeeded, p.failed, p.throttled, p.retries, p.p50_ms,
              p.p90_ms, p.p99_ms, p.max_ms, p.pace, p.advertised,
              orjson.dumps(p.failures).decode() if p.failures else None) for p in points])


def read_timeline(conn: sqlite3.Connection) -> Iterator[Point]:
    """Every stored point, oldest first; nothing for a ledger written before the timeline existed."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timeline'").fetchone()
    if not exists:
        return
    for row in conn.execute("SELECT * FROM timeline ORDER BY t, run_id"):
        failures = row[14]
        yield Point(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
                    row[11], row[12], row[13], orjson.loads(failures) if failures else {})
