"""The run: reader → ledger admission → bounded queue → workers → ledger.

One task feeds rows the ledger says still need sending into a bounded queue (backpressure:
reading pauses while the workers are busy). `concurrency` workers take rows, wait for the
limiter, send one request each, and settle the row in the ledger. A throttle answer pauses the
limiter for every worker; an auth or daily-limit answer halts the run; an interrupt halts
intake and gives in-flight requests a short grace before the ledger is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import __version__
from ._client import open_session, path_for_row, request
from ._config import RunConfig
from ._ledger import Admission, Key, Ledger, LedgerError, remove_ledger_files, scratch_copy
from ._limiter import RollingWindowLimiter
from ._progress import Progress
from ._pump import ChunkPump
from ._retry import Kind, Outcome, backoff_delay, required_scope
from ._rows import InputError, InvalidRow, Row, RowReader, count_data_lines
from ._summary import AbortReason, RunSummary

__all__ = ["run_async"]

CHUNK = 512  # rows read and admitted per ledger transaction
FLUSH_INTERVAL = 0.25  # seconds between ledger commits while outcomes trickle in


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    invalid: int = 0
    duplicates: int = 0
    already_done: int = 0
    skipped_failed: int = 0
    admitted: int = 0  # rows the ledger said to send
    succeeded: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    checks: int = 0

    def add(self, adm: Admission, rows: int) -> None:
        self.rows += rows
        self.invalid += adm.invalid
        self.duplicates += adm.duplicates
        self.already_done += adm.already_done
        self.skipped_failed += adm.skipped_failed
        self.admitted += len(adm.to_send)


class _Run:
    def __init__(self, config: RunConfig, ledger: Ledger, reader: RowReader, rand: Callable[[], float]) -> None:
        self.config = config
        self.ledger = ledger
        self.reader = reader
        self.rand = rand
        self.tally = _Tally()
        self.limiter = RollingWindowLimiter(config.rate)
        self.queue: asyncio.Queue[Row | None] = asyncio.Queue(maxsize=config.concurrency * 4)
        self.halt = asyncio.Event()
        self.aborted: AbortReason | None = None
        self.message = ""
        self.busy: set[asyncio.Task[None]] = set()
        self.transport_streak = 0  # consecutive requests that got no HTTP answer
        self.session: aiohttp.ClientSession | None = None
        self._saved_start: float | None = None

    # -- control ---------------------------------------------------------------------------------
    def stop(self, reason: AbortReason, message: str) -> None:
        if self.aborted is None:
            self.aborted, self.message = reason, message
        self.halt.set()

    @property
    def unreachable_after(self) -> int:
        return max(10, 2 * self.config.concurrency)

    # -- feeding ---------------------------------------------------------------------------------
    async def feed(self) -> None:
        pump: ChunkPump[Row | InvalidRow] = ChunkPump(self.reader.read_chunk, CHUNK)
        try:
            while not self.halt.is_set():
                chunk = await pump.next()
                if not chunk:
                    break
                adm = self.admit(chunk)
                for i in adm.to_send:
                    if self.halt.is_set():
                        break
                    await self.queue.put(chunk[i])  # type: ignore[arg-type]  # admitted items are Rows
        finally:
            pump.stop()
        for _ in range(self.config.concurrency):
            await self.queue.put(None)

    def admit(self, chunk: list[Row | InvalidRow]) -> Admission:
        """Ask the ledger which rows of a chunk still need sending, and count the rest."""
        items = [(it.key, it.line, None) if isinstance(it, Row) else (_invalid_key(it), it.line, it.reason)
                 for it in chunk]
        adm = self.ledger.admit(items, self.config.retry_failed)
        self.tally.add(adm, len(chunk))
        return adm

    # -- working ---------------------------------------------------------------------------------
    async def work(self) -> None:
        while True:
            row = await self.queue.get()
            if row is None or self.halt.is_set():
                return
            await self.settle(row)

    async def send(self, method: str, url: str) -> Outcome:
        """One request through the limiter; marks this task busy while it is on the wire."""
        assert self.session is not None
        await self.limiter.acquire()
        if self.halt.is_set():
            raise asyncio.CancelledError
        task = asyncio.current_task()
        assert task is not None
        self.busy.add(task)
        try:
            outcome, _ = await request(self.session, method, url)
        finally:
            self.busy.discard(task)
        if outcome.status is None:
            self.transport_streak += 1
        else:
            self.transport_streak = 0
        if outcome.kind is Kind.THROTTLED:
            self.tally.throttled += 1
            self.limiter.pause(outcome.wait or 10.0)
        return outcome

    async def settle(self, row: Row) -> None:
        policy = self.config.retry
        url = self.config.base_url + path_for_row(row.from_type, row.from_id, row.to_type, row.to_id, row.type)
        tries = throttles = sent = 0
        while True:
            outcome = await self.send("PUT", url)
            sent += 1
            self.tally.requests += 1
            if sent > 1:
                self.tally.retries += 1
            kind = outcome.kind
            if kind is Kind.SUCCESS:
                self._record(row, True, outcome, sent)
                return
            if kind is Kind.PERMANENT:
                self._record(row, False, outcome, sent)
                return
            if kind is Kind.AUTH:
                self.stop("auth", self._auth_message(outcome, row))
                return
            if kind is Kind.DAILY_LIMIT:
                self.stop("daily_limit", "HubSpot's daily request limit for this account is spent "
                          "(429 DAILY); it resets at midnight in the account's time zone")
                return
            if kind is Kind.THROTTLED:
                throttles += 1
                if throttles >= policy.max_throttles:
                    self._record(row, False, outcome, sent)
                    return
                continue  # the limiter holds every worker until the window has passed
            tries += 1  # Kind.RETRY
            if self.transport_streak >= self.unreachable_after or (
                tries >= policy.max_attempts and self.transport_streak >= tries
            ):
                self.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
                return
            if tries >= policy.max_attempts:
                self._record(row, False, outcome, sent)
                return
            delay = backoff_delay(tries, self.rand(), base=policy.backoff_base, cap=policy.backoff_cap)
            await self.nap(max(delay, outcome.wait or 0.0))

    async def nap(self, seconds: float) -> None:
        """Sleep on the loop clock; a halt cuts it short (the row then stays pending)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.halt.wait(), seconds)
        if self.halt.is_set():
            raise asyncio.CancelledError

    def _record(self, row: Row, ok: bool, outcome: Outcome, sent: int) -> None:
        self.ledger.record(row.key, ok, outcome, sent)
        if ok:
            self.tally.succeeded += 1
        else:
            self.tally.failed += 1

    def _auth_message(self, outcome: Outcome, row: Row | None) -> str:
        if outcome.status == 401:
            return (f"HubSpot rejected the access token (401 {outcome.category or 'INVALID_AUTHENTICATION'}); "
                    f"check the token in ${self.config.token_env}")
        needed = required_scope(row.from_type) if row is not None else ""
        reported = ", ".join(outcome.scopes)
        scope_text = f"the app needs the scope {needed}" if needed else "the app lacks a required scope"
        if reported and reported != needed:
            scope_text += f" (HubSpot asked for: {reported})"
        return f"HubSpot refused the request (403 {outcome.category or 'MISSING_SCOPES'}): {scope_text}; " \
               "add it to the private app or service key and rerun"

    # -- preflight -------------------------------------------------------------------------------
    async def preflight(self) -> None:
        """One cheap authenticated GET before the first write: a bad token stops the run here.

        Only 401 is conclusive. A 403 or 404 may just mean this endpoint needs another scope or is
        not offered, so the run goes on and the writes themselves decide.
        """
        url = self.config.base_url + "/account-info/v3/details"
        tries = 0
        while True:
            outcome = await self.send("GET", url)
            self.tally.checks += 1
            if outcome.kind is Kind.AUTH and outcome.status == 401:
                self.stop("auth", self._auth_message(outcome, None))
                return
            if outcome.kind is Kind.DAILY_LIMIT:
                self.stop("daily_limit", "HubSpot's daily request limit for this account is spent "
                          "(429 DAILY); it resets at midnight in the account's time zone")
                return
            if outcome.kind is Kind.THROTTLED:
                continue
            if outcome.kind is not Kind.RETRY:
                return
            tries += 1
            if tries >= self.config.retry.max_attempts:
                if outcome.status is None:
                    self.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
                return
            p = self.config.retry
            await self.nap(max(backoff_delay(tries, self.rand(), base=p.backoff_base, cap=p.backoff_cap),
                               outcome.wait or 0.0))

    # -- orchestration ---------------------------------------------------------------------------
    def carry_over_pace(self) -> None:
        """Don't burst into a window the previous run (maybe killed a moment ago) already filled.

        The ledger keeps the wall-clock time of the last request start; the first start of this
        run waits until one spacing after it, as if the previous run had simply gone on.
        """
        last = self.ledger.get_meta("last_request_at")
        try:
            gap = float(last) + self.limiter.spacing - time.time() if last else 0.0
        except ValueError:
            gap = 0.0
        if gap > 0:
            self.limiter.hold_until(asyncio.get_running_loop().time() + min(gap, self.config.rate.period))

    def save_pace(self) -> None:
        start = self.limiter.last_start
        if start is not None and start != self._saved_start:
            self._saved_start = start
            wall = time.time() - (asyncio.get_running_loop().time() - start)
            self.ledger.set_meta("last_request_at", repr(wall))

    async def ticker(self, progress: Progress | None) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self.save_pace()
                self.ledger.flush()
            except LedgerError as exc:
                self.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
                return
            if progress is not None:
                progress.update(self.tally.succeeded, self.tally.failed, self.tally.already_done, self.tally.requests)

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self.session = open_session(self.config.token, concurrency=self.config.concurrency,
                                    timeout=self.config.timeout, user_agent=f"bulkassoc/{__version__}")
        self.carry_over_pace()
        async with self.session:
            if self.config.preflight:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._guarded(self.preflight())
                if self.halt.is_set():
                    return
            feeder = loop.create_task(self._guarded(self.feed()))
            workers = [loop.create_task(self._guarded(self.work())) for _ in range(self.config.concurrency)]
            everything: asyncio.Future[Any] = asyncio.gather(feeder, *workers)
            halted: asyncio.Future[Any] = loop.create_task(self.halt.wait())
            await asyncio.wait([everything, halted], return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():
                await self._wind_down(feeder, workers)
            halted.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await everything

    async def _guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a task body; turn a cancel into a quiet exit and a ledger or input error into a halt."""
        try:
            await coro
        except asyncio.CancelledError:
            pass
        except LedgerError as exc:
            self.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
        except InputError as exc:
            self.stop("input", str(exc))

    async def _wind_down(self, feeder: asyncio.Task[None], workers: list[asyncio.Task[None]]) -> None:
        feeder.cancel()
        for task in workers:
            if task not in self.busy:
                task.cancel()
        in_flight = [t for t in workers if not t.done()]
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=self.config.grace)
            for task in late:
                task.cancel()

    def install_signals(self) -> Callable[[], None]:
        loop = asyncio.get_running_loop()
        installed: list[int] = []

        def on_signal(signum: int) -> None:
            if self.halt.is_set():  # a second signal: stop waiting for in-flight requests
                for task in list(self.busy):
                    task.cancel()
                return
            self.stop("interrupted", f"stopped by {signal.Signals(signum).name}")

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)

        def remove() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return remove

    def summary(self, elapsed: float, dry_run: bool) -> RunSummary:
        t = self.tally
        settled = t.succeeded + t.failed
        pending = 0 if dry_run else max(0, t.admitted - settled)
        if self.aborted is not None:
            code = 2 if self.aborted == "input" else 3
        elif t.invalid or t.failed or t.skipped_failed or pending:
            code = 1
        else:
            code = 0
        return RunSummary(
            rows=t.rows, invalid=t.invalid, duplicates=t.duplicates, already_done=t.already_done,
            skipped_failed=t.skipped_failed, succeeded=t.succeeded, failed=t.failed, pending=pending,
            requests=t.requests, retries=t.retries, throttled=t.throttled, elapsed_s=elapsed,
            aborted=self.aborted, exit_code=code, checks=t.checks,
            would_send=t.admitted if dry_run else 0, dry_run=dry_run, message=self.message,
            ledger=str(self.ledger.path),
        )


async def run_async(config: RunConfig, *, rand: Callable[[], float] | None = None) -> RunSummary:
    """Run one bulk association job to the end (or to an abort) and return its summary.

    Raises InputError for an unusable input file and LedgerError for an unusable ledger,
    before anything is sent.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader = RowReader(config.input, config.format, config.from_type, stdin=config.stdin)
    with reader:
        ledger = _open_ledger(config)
        run = _Run(config, ledger, reader, rand or random.Random().random)
        progress = None
        if config.progress and not config.dry_run:
            total = None if str(config.input) == "-" else count_data_lines(config.input)
            progress = Progress(total)
        remove_signals = run.install_signals() if config.handle_signals else (lambda: None)
        ticker = loop.create_task(run.ticker(progress))
        try:
            if config.dry_run:
                await run._guarded(_dry_feed(run))
            else:
                await run.main()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            remove_signals()
            if progress is not None:
                progress.close()
        summary = run.summary(loop.time() - started, config.dry_run)
        try:
            if not config.dry_run:
                run.save_pace()
            ledger.close(None if config.dry_run else _summary_json(summary))
        except LedgerError as exc:
            run.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
            summary = run.summary(loop.time() - started, config.dry_run)
        finally:
            _discard_dry_ledger(config, ledger)
        return summary


async def _dry_feed(run: _Run) -> None:
    """Read, validate and admit everything against a scratch copy of the ledger; send nothing."""
    pump: ChunkPump[Row | InvalidRow] = ChunkPump(run.reader.read_chunk, CHUNK)
    try:
        while chunk := await pump.next():
            run.admit(chunk)
    finally:
        pump.stop()


def _invalid_key(row: InvalidRow) -> Key:
    """An invalid row is keyed by its content like any row, unless it has none (a line that is not
    an object at all): then by its line, so that two such lines stay two entries."""
    key = row.key
    return key if any(key) else ("", "", "", "", f"line {row.line}")


def _open_ledger(config: RunConfig) -> Ledger:
    """The run's ledger; a dry run works on a scratch copy so the real one is never touched."""
    path = config.ledger_path
    if config.dry_run:
        path = scratch_copy(path)
    ledger = Ledger(path)
    try:
        ledger.open(str(config.input))
    except BaseException:
        _discard_dry_ledger(config, ledger)
        raise
    return ledger


def _discard_dry_ledger(config: RunConfig, ledger: Ledger) -> None:
    if config.dry_run:
        remove_ledger_files(ledger.path)


def _summary_json(summary: RunSummary) -> str:
    import orjson

    return orjson.dumps(summary.to_dict()).decode()

