"""The run: reader → ledger admission → bounded queue → workers → ledger.

One task feeds the rows the ledger says still need sending into a bounded queue (backpressure:
reading pauses while the workers are busy). `concurrency` workers take a unit (the rows one request
settles), wait for the limiter, send, and settle the rows in the ledger. A throttle answer pauses
the limiter for every worker; an auth or daily-limit answer halts the run; an interrupt halts
intake and gives in-flight requests a short grace before the ledger is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

from .. import __version__
from ..hubspot.account import Labels
from ..hubspot.batch_answers import MAX_SPLIT_DEPTH, BatchVerdict, halves, settle_batch
from ..hubspot.client import Response, open_session, request
from ..hubspot.endpoints import batch_request, single_request
from ..hubspot.outcomes import Kind, Outcome, backoff_delay
from ..ledger.store import Key, Ledger, LedgerError, remove_ledger_files, scratch_copy
from ..pacing.headers import AUTO_START, DailyGuard, HeaderPacer
from ..pacing.limiter import RollingWindowLimiter
from ..rows.reader import InputError, Row, RowReader, count_data_lines
from .checks import (
    Halted,
    auth_message,
    bind_portal,
    carry_over_pace,
    preflight,
    save_pace,
)
from .config import RunConfig
from .feed import dry_feed, feed
from .progress import Progress
from .shutdown import install_signal_handlers, wind_down
from .summary import EXIT_2_REASONS, AbortReason, RunSummary
from .tally import Tally

__all__ = ["run_async"]

FLUSH_INTERVAL = 0.25  # seconds between ledger commits while outcomes trickle in


_V = TypeVar("_V")


class _Run:
    def __init__(self, config: RunConfig, ledger: Ledger, reader: RowReader, rand: Callable[[], float]) -> None:
        self.config = config
        self.ledger = ledger
        self.reader = reader
        self.rand = rand
        self.tally = Tally()
        self.limiter = RollingWindowLimiter(config.rate or AUTO_START)
        self.pacer = HeaderPacer(self.limiter, config.rate, concurrency=config.concurrency)
        self.daily = DailyGuard(config.daily_reserve)
        self.queue: asyncio.Queue[list[Row] | None] = asyncio.Queue(maxsize=config.concurrency * 4)
        self.halt = asyncio.Event()
        self.aborted: AbortReason | None = None
        self.message = ""
        self.busy: set[asyncio.Task[Any]] = set()
        self.transport_streak = 0  # consecutive requests that got no HTTP answer
        self.session: aiohttp.ClientSession | None = None
        self.labels: dict[tuple[str, str], Labels | None] = {}
        self.time_zone: str | None = None

    # -- control ------------------------------------------------------------------------------
    def stop(self, reason: AbortReason, message: str) -> None:
        if self.aborted is None:
            self.aborted, self.message = reason, self.scrub(message)
        self.halt.set()

    def scrub(self, text: str) -> str:
        """Remove the token from text that came from outside (a gateway may echo the request back)."""
        token = self.config.token
        return text.replace(token, "[token]") if token and token in text else text

    def stop_daily(self, why: str) -> None:
        zone = f" ({self.time_zone})" if self.time_zone else ""
        self.stop("daily_limit", f"{why}; the quota resets at midnight in the account's time zone{zone}; "
                  "rerun then to resume")

    # -- one request ----------------------------------------------------------------------------
    async def send(self, method: str, url: str, body: bytes | None = None) -> tuple[Outcome, Response | None]:
        """One request through the limiter and the daily guard; marks this task busy while on the wire."""
        assert self.session is not None
        await self.limiter.acquire()
        if self.halt.is_set():
            raise Halted
        if not self.daily.may_start(len(self.busy)):
            self.stop_daily(f"HubSpot's daily quota is down to the reserve of {self.daily.reserve:,} requests "
                            f"(--daily-reserve) kept for the account's other integrations")
            raise Halted
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self.busy.add(task)
        started = loop.time()
        self.pacer.note_start(started)
        try:
            outcome, response = await request(self.session, method, url, body=body)
        finally:
            self.busy.discard(task)
        if response is None:
            self.transport_streak += 1
        else:
            self.transport_streak = 0
            self.pacer.observe(response.headers, started)
            self.daily.observe(response.headers)
        if outcome.kind is Kind.THROTTLED:
            self.tally.throttled += 1
            self.limiter.pause(10.0 if outcome.wait is None else outcome.wait)
        return outcome, response

    async def nap(self, seconds: float) -> None:
        """Sleep on the loop clock; a halt cuts it short (the rows then stay pending)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.halt.wait(), seconds)
        if self.halt.is_set():
            raise Halted

    async def backoff(self, tries: int, outcome: Outcome) -> None:
        p = self.config.retry
        await self.nap(max(backoff_delay(tries, self.rand(), base=p.backoff_base, cap=p.backoff_cap),
                           outcome.wait or 0.0))

    def give_up_if_unreachable(self, outcome: Outcome, tries: int) -> bool:
        """Stop the run when nothing answers at all, instead of burning every row's attempts."""
        streak = self.transport_streak
        if streak >= max(10, 2 * self.config.concurrency) or (
                tries >= self.config.retry.max_attempts and streak >= tries):
            self.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
            return True
        return False

    async def get_with_retries(self, path: str) -> tuple[Outcome, Response | None]:
        """A read request (checks): retried like writes; returns the final outcome."""
        tries = 0
        while True:
            outcome, response = await self.send("GET", self.config.base_url + path)
            self.tally.checks += 1
            if outcome.kind is Kind.THROTTLED:
                continue
            if outcome.kind is not Kind.RETRY:
                return outcome, response
            tries += 1
            if self.give_up_if_unreachable(outcome, tries) or tries >= self.config.retry.max_attempts:
                return outcome, response
            await self.backoff(tries, outcome)

    @property
    def batched(self) -> bool:
        return self.config.mode == "batch"

    def fail_unsent(self, row: Row, category: str, message: str) -> None:
        self.ledger.fail_unsent(row.key, category, message)
        self.tally.failed += 1
        self.tally.unsent_failures += 1

    # -- working --------------------------------------------------------------------------------
    async def work(self) -> None:
        while True:
            unit = await self.queue.get()
            if unit is None or self.halt.is_set():
                return
            if self.batched:
                await self.settle_batch(unit)
            else:
                await self.settle(unit[0])

    async def exchange(self, method: str, url: str, body: bytes | None, about: Row,
                       judge: Callable[[Outcome, Response | None], tuple[Outcome, _V]],
                       ) -> tuple[Outcome, _V | None, int] | None:
        """Send one request until its answer settles it: throttles pause the pool and are resent,
        retryable answers back off and are resent up to --max-attempts, auth and daily-limit answers
        stop the run (then None: the rows stay pending). `judge` says what an answer means for the
        request as a whole; `about` is a row it writes, for messages. Returns (final outcome, judge's payload or
        None if retries ran out, requests sent)."""
        policy = self.config.retry
        tries = throttles = sent = 0
        while True:
            outcome, response = await self.send(method, url, body)
            sent += 1
            self.tally.requests += 1
            self.tally.retries += sent > 1
            whole, payload = judge(outcome, response)
            kind = whole.kind
            if kind is Kind.SUCCESS or kind is Kind.PERMANENT:
                return whole, payload, sent
            if kind is Kind.AUTH:
                self.stop("auth", auth_message(self, whole, about))
                return None
            if kind is Kind.DAILY_LIMIT:
                self.stop_daily("HubSpot's daily request limit for this account is spent (429 DAILY)")
                return None
            if kind is Kind.THROTTLED:
                throttles += 1
                if throttles >= policy.max_throttles:
                    return whole, None, sent
                continue  # the limiter holds every worker until the window has passed
            tries += 1  # Kind.RETRY
            if self.give_up_if_unreachable(whole, tries):
                return None
            if tries >= policy.max_attempts:
                return whole, None, sent
            await self.backoff(tries, whole)

    async def settle(self, row: Row) -> None:
        """Single mode: one request per row (v3 PUT by default)."""
        method, path, body = single_request(self.config.api, row, self.config.category)
        result = await self.exchange(method, self.config.base_url + path, body, row, lambda o, _r: (o, row))
        if result is not None:
            outcome, _, sent = result
            self.record(row.key, outcome.kind is Kind.SUCCESS, outcome, sent)

    async def settle_batch(self, rows: list[Row], depth: int = 0) -> None:
        """Batch mode: one batch create settles up to --batch-size rows. A whole-batch 400 that names
        no row is split in halves (bounded depth) to isolate the bad rows instead of failing them all."""
        method, path, body = batch_request(rows[0].from_type, rows[0].to_type, rows, self.config.category,
                                           self.config.api)

        def judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, BatchVerdict | None]:
            if response is None:
                return outcome, None
            verdict = settle_batch(response.status, response.body, response.headers, rows)
            return (verdict.whole or Outcome(Kind.SUCCESS, response.status)), verdict

        result = await self.exchange(method, self.config.base_url + path, body, rows[0], judge)
        if result is None:
            return
        outcome, verdict, sent = result
        if verdict is None:  # retries ran out on the request as a whole
            for row in rows:
                self.record(row.key, False, outcome, sent)
        elif verdict.split:
            if depth < MAX_SPLIT_DEPTH and len(rows) > 1:
                self.tally.splits += 1
                for half in halves(rows):
                    await self.settle_batch(half, depth + 1)
                return
            for row in rows:
                self.record(row.key, False, verdict.cause or outcome, sent)
        else:
            for row, row_outcome in verdict.per_row:
                self.record(row.key, row_outcome.kind is Kind.SUCCESS, row_outcome, sent)
            if verdict.resend:
                await self.settle_batch(verdict.resend, depth + 1)

    def record(self, key: Key, ok: bool, outcome: Outcome, sent: int) -> None:
        token = self.config.token
        if token and (token in outcome.message or token in outcome.category or token in outcome.correlation_id):
            outcome = dataclasses.replace(outcome, message=self.scrub(outcome.message),
                                          category=self.scrub(outcome.category),
                                          correlation_id=self.scrub(outcome.correlation_id))
        self.ledger.record(key, ok, outcome, sent)
        if ok:
            self.tally.succeeded += 1
        else:
            self.tally.failed += 1

    # -- orchestration --------------------------------------------------------------------------
    async def ticker(self, progress: Progress | None) -> None:
        saved: float | None = None
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                if self.limiter.last_start != saved:
                    saved = self.limiter.last_start
                    save_pace(self)
                self.ledger.flush()
            except LedgerError as exc:
                self.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
                return
            if progress is not None:
                t = self.tally
                progress.update(t.succeeded, t.failed, t.already_done, t.requests)

    async def guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a task body; a halt or cancel is a quiet exit, a ledger or input error a halt."""
        try:
            await coro
        except (asyncio.CancelledError, Halted):
            pass
        except LedgerError as exc:
            self.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
        except InputError as exc:
            self.stop("input", str(exc))

    async def until_halted(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro`, but drop it as soon as the run halts (a signal during a long throttle pause)."""
        task = asyncio.ensure_future(coro)
        halted = asyncio.ensure_future(self.halt.wait())
        try:
            await asyncio.wait([task, halted], return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self.session = open_session(self.config.token, concurrency=self.config.concurrency,
                                    timeout=self.config.timeout, user_agent=f"bulkassoc/{__version__}")
        carry_over_pace(self)
        async with self.session:
            if self.config.preflight:
                await self.until_halted(self.guarded(preflight(self)))
            else:
                bind_portal(self, None)
            if self.halt.is_set():
                return
            feeder = loop.create_task(self.guarded(feed(self)))
            workers = [loop.create_task(self.guarded(self.work())) for _ in range(self.config.concurrency)]
            await wind_down(feeder, workers, self.halt, self.busy, self.config.grace)

    def summary(self, elapsed: float, dry_run: bool) -> RunSummary:
        t = self.tally
        pending = 0 if dry_run else max(0, t.admitted - t.succeeded - t.failed)
        if self.aborted is not None:
            code = 2 if self.aborted in EXIT_2_REASONS else 3
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
    with RowReader(config.input, config.format, config.from_type, stdin=config.stdin) as reader:
        ledger = _open_ledger(config)
        run = _Run(config, ledger, reader, rand or random.Random().random)
        progress = None
        if config.progress and not config.dry_run:
            progress = Progress(None if str(config.input) == "-" else count_data_lines(config.input))
        remove_signals = install_signal_handlers(run.stop, run.halt, run.busy) if config.handle_signals else None
        ticker = loop.create_task(run.ticker(progress))
        try:
            await (run.guarded(dry_feed(run)) if config.dry_run else run.main())
        finally:
            # also when the caller cancels us (a task timeout): flush what was settled, free the ledger
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if remove_signals is not None:
                remove_signals()
            if progress is not None:
                progress.close()
            _close_ledger(run, config, loop.time() - started)
        return run.summary(loop.time() - started, config.dry_run)


def _close_ledger(run: _Run, config: RunConfig, elapsed: float) -> None:
    try:
        if not config.dry_run:
            save_pace(run)
        run.ledger.close(None if config.dry_run else _summary_json(run.summary(elapsed, False)))
    except LedgerError as exc:
        run.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
    finally:
        if config.dry_run:
            remove_ledger_files(run.ledger.path)


def _open_ledger(config: RunConfig) -> Ledger:
    """The run's ledger; a dry run works on a scratch copy so the real one is never touched."""
    ledger = Ledger(scratch_copy(config.ledger_path) if config.dry_run else config.ledger_path)
    try:
        ledger.open(str(config.input))
    except BaseException:
        if config.dry_run:
            remove_ledger_files(ledger.path)
        raise
    return ledger


def _summary_json(summary: RunSummary) -> str:
    import orjson

    return orjson.dumps(summary.to_dict()).decode()
