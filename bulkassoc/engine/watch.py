"""What a run tells the people (and schedulers) watching it.

The paced caller reports what happens to requests through an event sink (`on_event`); the run
reports settled rows (`settled`) and calls `tick` from its ticker. From these the watch keeps:
- the event log (`--log-file`): start, pace changes and why, 429 pauses, progress, stop, end;
- timestamped progress lines on stderr when it is not a terminal (every `--log-interval` seconds,
  no carriage returns), or the live one-line display on a terminal;
- the timeline (ledger/timeline.py): one point per interval, for `report --html`;
- where the rate came from, for the summary.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from typing import Any, TextIO

from ..hubspot.outcomes import Outcome
from ..ledger.failures import after_run
from ..ledger.store import LedgerError
from ..ledger.timeline import TimelineRecorder, ensure_table
from ..pacing.rate import Rate
from ..rows.reader import count_data_lines
from .config import ConfigError, RunConfig
from .events import EventLog, open_log, timestamp
from .progress import Progress
from .summary import RunSummary, format_duration

__all__ = ["Snapshot", "Watch", "after_run", "rate_source", "watch_for"]


def watch_for(config: RunConfig) -> Watch:
    """The watch a run's configuration asks for. Raises ConfigError when the log file cannot be opened."""
    log = None
    if config.log_file is not None and not config.dry_run:
        try:
            log = open_log(config.log_file, config.log_format)
        except OSError as exc:
            raise ConfigError(f"cannot open --log-file {config.log_file}: {exc.strerror or exc}") from None
    live = Progress(None) if config.progress and not config.dry_run else None
    return Watch(log=log, live=live, lines_every=None if config.dry_run else config.progress_lines,
                 timeline_interval=None if config.dry_run else config.timeline_interval)


def rate_source(chosen: Rate | None, adopted: Rate, advertised: Rate | None) -> str:
    """Where the pace in force at the end came from, in words."""
    if advertised is None:
        return "--rate (HubSpot sent no X-HubSpot-RateLimit-* headers)" if chosen is not None else (
            "--rate auto's starting pace (HubSpot sent no X-HubSpot-RateLimit-* headers)")
    told = f"X-HubSpot-RateLimit-Max/-Interval-Milliseconds: {advertised}"
    if chosen is not None and adopted == chosen:
        return f"--rate (a ceiling; the headers advertise {advertised})"
    if adopted.per_second < advertised.per_second * 0.97:
        return f"{told}, less what other clients of the app use"
    return told


class Snapshot:
    """The few counts a progress line shows."""

    __slots__ = ("done", "failed", "requests", "succeeded", "total")

    def __init__(self, succeeded: int, failed: int, done: int, requests: int, total: int | None) -> None:
        self.succeeded, self.failed, self.done, self.requests, self.total = succeeded, failed, done, requests, total


class Watch:
    def __init__(self, *, log: EventLog | None, live: Progress | None, lines_every: float | None,
                 stderr: TextIO | None = None, timeline_interval: float | None = None, failed: str = "failed") -> None:
        self.failed_word = failed  # what a progress line calls the rows that did not work out
        self.log = log
        self.live = live
        self.lines_every = lines_every  # None: no progress lines
        self.stderr = stderr if stderr is not None else sys.stderr
        self.timeline_interval = timeline_interval
        self.timeline: TimelineRecorder | None = None
        self._next_line: float | None = None
        self._paused_until = 0.0  # loop time the last logged 429 pause ends
        self._throttled = 0  # 429 answers not yet told in the log
        self._last_line: tuple[float, int] | None = None  # (loop time, requests) at the previous line

    # -- from the run -------------------------------------------------------------------------
    def begin_run(self, run_id: int, loop_now: float, conn: sqlite3.Connection, config: RunConfig) -> int | None:
        """Start watching a run (not a dry run); returns the input's data lines when a display needs them."""
        total = None
        if (config.progress or config.progress_lines) and not config.dry_run and str(config.input) != "-":
            total = count_data_lines(config.input)
        if not config.dry_run:
            self.begin(run_id, loop_now, conn, config, total)
        return total

    def begin(self, run_id: int, loop_now: float, conn: sqlite3.Connection, config: RunConfig,
              total: int | None) -> None:
        if self.timeline_interval is not None:
            try:
                ensure_table(conn)
            except sqlite3.Error:  # the picture is a bonus: a ledger that cannot take it still runs
                pass
            else:
                self.timeline = TimelineRecorder(run_id, interval=self.timeline_interval)
                self.timeline.begin(loop_now, time.time())
        self.start_display(loop_now, total)
        rate = "auto" if config.rate is None else str(config.rate)
        rows = "" if total is None else f"{total:,} rows, "
        self.event("start", f"run {run_id}: {config.input} ({rows}ledger {config.ledger_path}) to {config.base_url}, "
                   f"--rate {rate}, --concurrency {config.concurrency}, --mode {config.mode}",
                   run_id=run_id, input=str(config.input), rows=total, ledger=str(config.ledger_path),
                   base_url=config.base_url, rate=rate, concurrency=config.concurrency, mode=config.mode)

    def start_display(self, loop_now: float, total: int | None) -> None:
        if self.live is not None:
            self.live.total = total
        if self.lines_every is not None:
            self._next_line = loop_now + self.lines_every
            self._last_line = (loop_now, 0)

    def stopping(self, line: str) -> None:
        """An interrupt: say at once what the stop waits for (stderr, whatever --progress says, and the log)."""
        self.say(line)
        self.event("stopping", line)

    def end(self, summary: RunSummary) -> None:
        if summary.aborted is not None:
            self.event("stop", f"{summary.aborted}: {summary.message}", reason=summary.aborted,
                       detail=summary.message)
        self.event("end", summary.one_line(), summary=summary.to_dict())
        self.close()

    def close(self) -> None:
        log, self.log = self.log, None
        if log is not None:
            log.close()

    def save_timeline(self, conn: sqlite3.Connection) -> None:
        if self.timeline is not None:
            try:
                self.timeline.save(conn)
            except (sqlite3.Error, LedgerError):  # the picture is a bonus; the rows' record is what counts
                self.timeline.closed.clear()

    def event(self, name: str, message: str, **fields: Any) -> None:
        if self.log is not None:
            self.log.write(name, message, **fields)

    def say(self, line: str) -> None:
        """A line for the person at the terminal (and the log): stderr, and the log as an event."""
        try:
            self.stderr.write(f"bulkassoc: {line}\n")
            self.stderr.flush()
        except (OSError, ValueError):
            pass

    def settled(self, ok: bool, outcome: Outcome) -> None:
        tl = self.timeline
        if tl is None:
            return
        if ok:
            tl.bin.succeeded += 1
        else:
            tl.bin.failed += 1
            cat = outcome.category or (str(outcome.status) if outcome.status else "no answer")
            tl.bin.failures[cat] = tl.bin.failures.get(cat, 0) + 1

    def present(self, rows: int) -> None:
        """Rows found already in HubSpot by the read before write: done without a write."""
        if self.timeline is not None:
            self.timeline.bin.succeeded += rows

    # -- from the paced caller ----------------------------------------------------------------
    def on_event(self, name: str, fields: dict[str, Any]) -> None:
        tl = self.timeline
        if name == "answer":
            if tl is not None:
                b = tl.bin
                b.starts += 1
                b.retries += fields["attempt"] > 1
                b.latency(fields["latency"])
        elif name == "throttle":
            if tl is not None:
                tl.bin.throttled += 1
            self._throttled += 1
            now = asyncio.get_running_loop().time()
            if now >= self._paused_until:  # one line per pause, not one per 429 answer of the same burst
                more = f"; {self._throttled - 1} more 429s since the last pause" if self._throttled > 1 else ""
                self.event("throttle", f"429: every request pauses {fields['wait']:g} s ({fields['why']}){more}",
                           **fields, answers_429=self._throttled)
                self._throttled = 0
            self._paused_until = max(self._paused_until, now + fields["wait"])
        elif name == "pace":
            why = _pace_why(fields)
            self.event("pace", f"{fields['old']} -> {fields['new']} ({why})", old=str(fields["old"]),
                       new=str(fields["new"]), why=why)

    # -- every ticker round ---------------------------------------------------------------------
    def tick(self, loop_now: float, snap: Snapshot, pace: Rate, advertised: Rate | None) -> bool:
        """Update the displays; True when a timeline point is ready to be saved."""
        if self.live is not None:
            self.live.update(snap.succeeded, snap.failed, snap.done - snap.succeeded - snap.failed, snap.requests)
        if self._next_line is not None and loop_now >= self._next_line:
            self._progress_line(loop_now, snap, pace)
        tl = self.timeline
        if tl is not None and tl.due(loop_now):
            tl.roll(loop_now, time.time(), pace.per_second, None if advertised is None else advertised.per_second)
            return True
        return False

    def finish(self, loop_now: float, pace: Rate, advertised: Rate | None) -> None:
        """Close the last timeline interval and the live display."""
        tl = self.timeline
        if tl is not None and not tl.bin.empty():
            tl.roll(loop_now, time.time(), pace.per_second, None if advertised is None else advertised.per_second)
        if self.live is not None:
            self.live.close()

    def _progress_line(self, loop_now: float, snap: Snapshot, pace: Rate) -> None:
        assert self.lines_every is not None and self._last_line is not None
        self._next_line = loop_now + self.lines_every
        then, requests_then = self._last_line
        self._last_line = (loop_now, snap.requests)
        per_s = (snap.requests - requests_then) / max(loop_now - then, 1e-9)
        done = f"{snap.done:,}" + (f"/{snap.total:,} ({min(100.0, 100 * snap.done / snap.total):.1f}%)"
                                   if snap.total else "")
        parts = [f"done {done}", f"{self.failed_word} {snap.failed:,}", f"pace {pace}", f"{per_s:.1f} req/s"]
        if snap.total and per_s > 0 and snap.done < snap.total:
            parts.append(f"ETA {format_duration((snap.total - snap.done) / per_s)}")
        text = "  ".join(parts)
        try:
            self.stderr.write(f"{timestamp()} {text}\n")
            self.stderr.flush()
        except (OSError, ValueError):
            pass
        self.event("progress", text, done=snap.done, total=snap.total, failed=snap.failed, pace=str(pace),
                   req_per_s=round(per_s, 2))


def _pace_why(fields: dict[str, Any]) -> str:
    advertised, ceiling, new = fields.get("advertised"), fields.get("ceiling"), fields["new"]
    if advertised is None:
        return "HubSpot's headers"
    if ceiling is not None and new == ceiling:
        return f"back to the --rate ceiling {ceiling}; the headers advertise {advertised}"
    if new.per_second < advertised.per_second * 0.97:
        return f"the headers advertise {advertised}; other clients of the app use part of it"
    return f"HubSpot's headers advertise {advertised}"
