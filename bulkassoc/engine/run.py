"""The run: reader → ledger admission → bounded queue → workers → ledger.

One task feeds the rows the ledger says still need sending into a bounded queue (backpressure:
reading pauses while the workers are busy). 64 workers send units through the paced caller, whose gate bounds
what is in flight (a row in backoff holds a worker, not a slot), and settle the rows in the ledger. An
interrupt halts intake and gives in-flight requests a short grace before the ledger is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..hubspot.batch_answers import MAX_SPLIT_DEPTH, BatchVerdict, halves, settle_batch
from ..hubspot.caller import Caller, CallerConfig, make_mask, pass_through
from ..hubspot.client import Response
from ..hubspot.endpoints import batch_request, single_request
from ..hubspot.halt import EXIT_2_REASONS, Halt, Halted
from ..hubspot.outcomes import Kind, Outcome, required_scope
from ..keys.vet import KeyVet, Unsent
from ..ledger.failures import Failure
from ..ledger.lookups import LookupStore
from ..ledger.store import Ledger, LedgerError
from ..rows.reader import InputError, InvalidRow, Row, RowReader
from ..sync.before import READ_CHUNK_ROWS, ReadFirst, record_split
from ..sync.mirror import Mirror
from .ahead import ReadAhead
from .checks import bind_portal, carry_over_pace, read_account, save_pace
from .config import RunConfig
from .feed import Chain, FeedPlan, Item, UnitQueue, admit, chunk_size, dry_feed, feed, mark_skipped_seen
from .ledger_file import close_ledger, no_from_type, open_ledger
from .mass_failure import MassFailureWatch
from .shutdown import install_signal_handlers, wind_down
from .summary import RunSummary
from .tally import RunTally
from .watch import Snapshot, Watch, rate_source, watch_for

__all__ = ["run_async"]

FLUSH_INTERVAL = 0.25  # seconds between ledger commits while outcomes trickle in


class _Run:
    def __init__(self, config: RunConfig, ledger: Ledger, reader: RowReader, rand: Callable[[], float],
                 version: str, watch: Watch | None = None) -> None:
        self.config, self.batched = config, config.mode == "batch"
        self.watch = watch or Watch(log=None, live=None, lines_every=None)
        self.ledger, self.reader, self.tally = ledger, reader, RunTally()
        self.chain = Chain() if config.skip_settled else None  # settled chunks skipped (engine/feed.py)
        self.halt = Halt(make_mask(config.access_token))
        self.caller = Caller(CallerConfig(
            base_url=config.base_url, token=config.access_token, token_env=config.token_env, rate=config.rate,
            concurrency=config.concurrency, timeout=config.timeout, retry=config.retry,
            daily_reserve=config.daily_reserve, user_agent=f"bulkassoc/{version}"), self.halt, rand=rand,
            on_event=self.watch.on_event)
        lookups = None if config.dry_run else LookupStore(ledger)
        if lookups is not None and config.refresh_ids:
            lookups.forget()
        self.keys = KeyVet(self.caller, lookups, check_types=config.preflight,
                           names_raw_ok=not self.batched and config.api == "v3",
                           hold=chunk_size(str(config.input)) > 1)
        self.mass = MassFailureWatch(config.stop_on_mass_failure)
        self.started_wall = time.time()
        self.workers = config.workers  # more than in flight: see the docstring
        self.queue: asyncio.Queue[list[Row] | None] = UnitQueue(maxsize=self.workers)
        self.read_first = (ReadFirst(self.caller, category=config.category, run_id=ledger.run_id)
                           if config.reads_first else None)
        self.labelled = self.batched or config.api != "v3"  # writes that replace a pair's labels
        self.mirror = Mirror(self.caller, ledger, self.halt, source=str(config.input), fmt=config.format,
                             from_type=config.from_type, max_deletes=config.max_deletes, dry_run=config.dry_run,
                             deletes_out=None if config.deletes_out is None else str(config.deletes_out),
                             ) if config.mirror else None
        self.top_failures: list[Failure] = []

    # -- intake ---------------------------------------------------------------------------------
    def admit_chunk(self, chunk: list[Item]) -> list[Row]:
        c = self.config
        if self.tally.rows == 0 and c.from_type is None and chunk_size(str(c.input)) > 1:
            no_from_type(self.reader.name, [it for it in chunk if isinstance(it, InvalidRow)], len(chunk))
        return admit(self.ledger, self.tally, chunk, retry_failed=c.retry_failed, resend=c.resend, chain=self.chain)

    async def catch_up(self, rows: int) -> None:  # the skipped settled rows' keys, marked seen (engine/feed.py)
        c = self.config
        await mark_skipped_seen(lambda: RowReader(c.input, c.format, c.from_type, options=c.read_options),
                                self.ledger, rows)

    async def flush_keys(self) -> list[Row]:  # at the end of the input: the rows `keys/` held back
        return await self.vet([], final=True)

    async def vet(self, rows: list[Row], final: bool = False) -> list[Row]:
        """Resolve types (ID, name, label) and keyed IDs (`keys/`); fail, unsent, the rows that cannot be.
        When not one row of the first chunk has a valid type, or a property cannot be looked up at all, the
        file is wrong as a whole: the run stops before its first write (exit 2). A check sends nothing."""
        vetted = await self.keys.vet(rows, final=final)
        unsent = self.caller.count("write").requests == 0
        if (why := self.keys.broken()) is not None:
            self.halt.stop("input" if unsent else "mass_failure", why)
            raise Halted
        unknown = [f for f in vetted.failed if f[1] == "UNKNOWN_ASSOCIATION_TYPE"]
        if (unknown and len(unknown) == len(rows) and not vetted.ready and unsent
                and self.tally.unsent_failures == 0 and not self.config.check):
            self.halt.stop("types", unknown[0][2])
            raise Halted
        self.fail_unsent(vetted.failed)
        self.tally.unresolved += vetted.unresolved
        if self.config.check:
            self.tally.would_send += len(vetted.ready)
            return []
        return vetted.ready

    async def read_before_write(self, rows: list[Row]) -> list[Row]:
        """Rows already in HubSpot are recorded `present` (no write); the rest go on (`sync/before.py`)."""
        if self.read_first is None or not rows:
            return rows
        split = await self.read_first.split(rows)
        await record_split(self.ledger, split)
        self.tally.add_present(len(split.present))
        self.watch.present(len(split.present))
        self.fail_unsent([(row, "READ_FAILED", why) for row, why in split.unread])
        return split.write

    def fail_unsent(self, failed: list[Unsent]) -> None:
        for row, category, message in failed:
            self.ledger.fail_unsent(row.key, category, message)
            if self.read_first is not None:
                self.read_first.settled(row)
            self.watch.settled(False, Outcome(Kind.PERMANENT, None, category, message))
        self.tally.failed += len(failed)
        self.tally.unsent_failures += len(failed)

    # -- working --------------------------------------------------------------------------------
    async def work(self) -> None:
        while True:
            unit = await self.queue.get()
            if unit is None or self.halt.is_set():
                return
            await (self.write_batch(unit) if self.batched else self.write_one(unit[0]))

    async def write_one(self, row: Row) -> None:
        """Single mode: one request per row (v3 PUT by default)."""
        union = self.read_first.union(row) if self.read_first is not None and self.labelled else None
        method, path, body = single_request(self.config.api, row, self.config.category, union)
        answer = await self.caller.call(method, path, body, judge=pass_through, scope=required_scope(row.from_type))
        self.record(row, answer.outcome.kind is Kind.SUCCESS, answer.outcome, answer.sent)

    async def write_batch(self, rows: list[Row], depth: int = 0) -> None:
        """Batch mode: one batch create settles up to --batch-size rows. A whole-batch 400 that names
        no row is split in halves (bounded depth) to isolate the bad rows instead of failing them all."""
        method, path, body = batch_request(rows[0].from_type, rows[0].to_type, rows, self.config.category,
                                           self.config.api, self.read_first.union if self.read_first else None)

        def judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, BatchVerdict | None]:
            if response is None:
                return outcome, None
            verdict = settle_batch(response.status, response.body, response.headers, rows)
            return (verdict.whole or Outcome(Kind.SUCCESS, response.status)), verdict

        answer = await self.caller.call(method, path, body, scope=required_scope(rows[0].from_type), judge=judge)
        verdict, sent = answer.payload, answer.sent
        if verdict is None:  # retries ran out on the request as a whole
            for row in rows:
                self.record(row, False, answer.outcome, sent)
        elif verdict.split:
            if depth < MAX_SPLIT_DEPTH and len(rows) > 1:
                self.tally.splits += 1
                for half in halves(rows):
                    await self.write_batch(half, depth + 1)
                return
            for row in rows:
                self.record(row, False, verdict.cause or answer.outcome, sent)
        else:
            for row, row_outcome in verdict.per_row:
                self.record(row, row_outcome.kind is Kind.SUCCESS, row_outcome, sent)
            if verdict.resend:
                await self.write_batch(verdict.resend, depth + 1)

    def record(self, row: Row, ok: bool, outcome: Outcome, sent: int) -> None:
        self.ledger.record(row.key, ok, outcome, sent)  # the caller masked the token in the outcome
        self.watch.settled(ok, outcome)
        if ok:
            self.tally.succeeded += 1
            self.tally.created += self.read_first is not None and row.type.isdigit()
        else:
            self.tally.failed += 1
        if self.read_first is not None:
            self.read_first.settled(row)
        if (stop := self.mass.observe(row.from_type, row.to_type, ok, outcome)) is not None:
            self.halt.stop("mass_failure", stop)

    # -- orchestration --------------------------------------------------------------------------
    async def ticker(self, total: int | None) -> None:
        saved: float | None = None
        limiter = self.caller.limiter
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                if limiter.last_start != saved:
                    saved = limiter.last_start
                    save_pace(self.ledger, limiter)
                self.ledger.flush()
            except LedgerError as exc:
                self.halt.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
                return
            t = self.tally
            snap = Snapshot(t.succeeded, t.failed, t.accounted, self.caller.count("write").requests, total)
            if self.watch.tick(loop.time(), snap, limiter.rate, self.caller.pacer.advertised):
                self.watch.save_timeline(self.ledger.conn)

    async def guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a task body; a halt or cancel is a quiet exit, a ledger or input error a halt."""
        try:
            await coro
        except (asyncio.CancelledError, Halted):
            pass
        except LedgerError as exc:
            self.halt.stop("ledger", f"{exc}; rows not recorded will be sent again on the rerun")
        except InputError as exc:
            self.halt.stop("input", str(exc))

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

    async def preflight(self) -> None:
        portal: str | None = None
        if self.config.preflight:
            portal, self.caller.time_zone = await read_account(self.caller)
        refused = bind_portal(self.ledger, self.config.base_url, self.config.access_token, portal)
        if refused is not None:
            self.halt.stop("portal", refused)

    async def delete_mirrored(self) -> None:
        if self.mirror is not None:
            self.halt.message = self.halt.message or await self.mirror.finish()

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        carry_over_pace(self.ledger, self.caller.limiter)
        async with self.caller:
            await self.until_halted(self.guarded(self.preflight()))
            if self.mirror is not None and not self.halt.is_set():
                await self.until_halted(self.guarded(self.mirror.prepare()))
            if self.halt.is_set() or self.config.dry_run:
                return
            c = self.config
            rows = chunk_size(str(c.input))
            if self.read_first is not None and rows > 1:
                rows = READ_CHUNK_ROWS  # whole batch reads: ≤ 1 read per 1,000 rows
            plan = FeedPlan(rows, self.workers, c.batch_size if self.batched else None, c.batch_linger)
            ahead = None if self.read_first is None else ReadAhead(  # reads of later chunks under way meanwhile
                self.read_before_write, lambda: self.caller.limiter.rate.per_second, rows / (plan.batch_size or 1),
                round_trip=lambda: self.caller.in_flight.latency)
            feeder = loop.create_task(self.guarded(feed(self.reader, self.admit_chunk, self.vet, self.queue,
                                                        self.halt, plan, self.flush_keys, ahead, self.catch_up)))
            workers = [loop.create_task(self.guarded(self.work())) for _ in range(self.workers)]
            await wind_down(feeder, workers, self.halt.event, self.caller.busy, c.grace)
            if not self.halt.is_set():
                await self.until_halted(self.guarded(self.delete_mirrored()))

    def summary(self, elapsed: float, dry_run: bool) -> RunSummary:
        t = self.tally
        writes, checks = self.caller.count("write"), self.caller.count("check")
        pending = 0 if dry_run or self.config.check else max(0, t.admitted - t.succeeded - t.failed)
        aborted = self.halt.reason
        if aborted is not None:
            code = 2 if aborted in EXIT_2_REASONS else 3
        elif t.invalid or t.failed or t.skipped_failed or pending or (self.mirror and self.mirror.failed):
            code = 1
        else:
            code = 0
        return RunSummary(
            rows=t.rows, invalid=t.invalid, duplicates=t.duplicates, already_done=t.already_done,
            skipped_failed=t.skipped_failed, succeeded=t.succeeded, failed=t.failed, pending=pending,
            requests=writes.requests, retries=writes.retries, throttled=self.caller.throttled, elapsed_s=elapsed,
            aborted=aborted, exit_code=code, checks=checks.requests,
            would_send=t.admitted if dry_run else t.would_send, dry_run=dry_run, message=self.halt.message,
            ledger=str(self.ledger.path), present=t.present, created=t.created,
            deleted=self.mirror.deleted if self.mirror else 0,
            reads=self.caller.count("read").requests,
            would_delete=self.mirror.planned if self.mirror is not None and (dry_run or aborted) else 0,
            rate="" if dry_run else str(self.caller.limiter.rate),
            rate_source="" if dry_run else rate_source(self.config.rate, self.caller.limiter.rate,
                                                       self.caller.pacer.advertised),
            top_failures=[f.to_dict() for f in self.top_failures], unresolved=t.unresolved,
            lookups=self.caller.count("lookup").requests, check=self.config.check,
        )


async def run_async(config: RunConfig, *, rand: Callable[[], float] | None = None,
                    version: str = "0") -> RunSummary:
    """Run one bulk association job to the end (or to an abort) and return its summary.

    Raises InputError for an unusable input file and LedgerError for an unusable ledger,
    before anything is sent.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    with RowReader(config.input, config.format, config.from_type, stdin=config.stdin,
                   options=config.read_options) as reader:
        if reader.has_from_type_column is False and config.from_type is None:
            no_from_type(reader.name)
        watch = watch_for(config)
        try:
            ledger = open_ledger(config)
        except BaseException:
            watch.close()
            raise
        run = _Run(config, ledger, reader, rand or random.Random().random, version, watch)
        total = watch.begin_run(ledger.run_id, loop.time(), ledger.conn, config)
        remove_signals = (install_signal_handlers(run.halt.stop, run.halt.event, run.caller.busy,
                                                  grace=config.grace, say=watch.stopping)
                          if config.handle_signals else None)
        ticker = loop.create_task(run.ticker(total))
        try:
            if config.dry_run:
                await run.guarded(dry_feed(reader, run.admit_chunk, run.catch_up))
            if not config.dry_run or config.mirror:  # a mirror's dry run reads (and writes nothing)
                await run.main()
        except BaseException:
            watch.close()  # cancelled (or a bug): the event log ends here
            raise
        finally:
            # also when the caller cancels us (a task timeout): flush what was settled, free the ledger
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if remove_signals is not None:
                remove_signals()
            watch.finish(loop.time(), run.caller.limiter.rate, run.caller.pacer.advertised)
            problem, run.top_failures = close_ledger(
                run.ledger, config, run.caller.limiter, run.watch, since=run.started_wall,
                complete=run.halt.reason is None, summary=lambda: run.summary(loop.time() - started, False))
            if problem is not None:
                run.halt.stop("ledger", problem)
        summary = run.summary(loop.time() - started, config.dry_run)
        watch.end(summary)
        return summary
