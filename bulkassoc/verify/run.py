"""`bulkassoc verify`: read back from HubSpot what the input's rows should have created.

The input is streamed. Valid rows are grouped by (fromType, toType) into chunks of at most
`MAX_IDS` distinct fromIds (HubSpot's batch-read cap) and `CHUNK_ROWS` rows; chunks still filling
hold at most `OPEN_ROWS` rows together. Each chunk costs one
`POST /crm/v4/associations/{fromType}/{toType}/batch/read` with every fromId, then one more round
for the fromIds whose answer has `paging.next.after` while some of their rows are still unproven
(each with its own `after`), and so on. What is kept per chunk is only what its rows ask about, so
memory follows the chunk size, not the file.

A row is present when HubSpot lists its toId among its fromId's associations with its type: a
numeric type must equal a `typeId`; a type *name* (`contact_to_company`, a v3 spelling the v4
read never reports) counts as present when the pair is associated with any type. IDs compare
as numbers (`007` is `7`). A fromId missing from `results` (HubSpot lists ids without
associations under `errors` of a 207) has no associations: its rows are missing.

Counts: `read` data rows; `invalid` of them skipped (never checked, no effect on the exit code);
`duplicates` repeats of a row within one chunk (a repeat that lands in a later chunk is checked
again and counted again); `rows` = `present` + `missing`, the distinct valid rows decided;
`unchecked` rows that could not be decided (a batch read that failed for good, or an abort).

Requests go through the paced caller (`hubspot/caller.py`), as `run`'s do: the same limiter (paced by
the headers with `--rate auto`), daily reserve, token masking and retry ladder: 429 pauses every worker;
423/477/5xx/no answer back off up to `max_attempts`, then the rows of the fromIds that read was for stay
unchecked (so do those of a read answered 400 or 404); 401/403 and the daily limit stop the verify (exit 3), so does an
unreachable API.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
from collections.abc import Callable, Coroutine
from typing import IO, Any

from ..engine.config import ConfigError
from ..engine.progress import Progress
from ..engine.shutdown import install_signal_handlers, wind_down
from ..engine.watch import Snapshot, Watch
from ..hubspot.caller import Caller, CallerConfig, make_mask
from ..hubspot.halt import Halt, Halted
from ..keys.vet import KeyVet
from ..rows.reader import InputError, Row, RowReader, count_data_lines
from .chunks import Chunk, ChunkLimits, fill_chunks
from .config import VerifyConfig
from .match import norm_id, settle, take_page, wanted_of
from .read import Unchecked, read_body, read_page
from .summary import MISSING_COLUMNS, VerifySummary, VerifyTally, summarize

__all__ = ["MISSING_COLUMNS", "VerifyConfig", "VerifySummary", "verify_async"]

# Read when a verify starts (so a test can lower them).
MAX_IDS = 1000  # HubSpot's batch-read cap: inputs per request (docs/hubspot-api.md §6)
CHUNK_ROWS = 10_000  # rows per chunk, so one fromId with many rows cannot grow a chunk without bound
AUTO_WORKERS = 16  # `--concurrency auto`: chunks read back at once (the caller sizes what is in flight)
OPEN_ROWS = 50_000  # rows held in chunks still filling, over all (fromType, toType) groups
READ_CHUNK = 512  # rows per read from the input thread


class _Verify:
    """One verify: a producer that reads the input into chunks (`chunks`), and workers that read
    each chunk back through the paced caller (`read`) and decide its rows (`match`)."""

    def __init__(self, config: VerifyConfig, reader: RowReader, out: IO[str] | None,
                 rand: Callable[[], float], version: str) -> None:
        self.config = config
        self.reader = reader
        self.writer = csv.writer(out) if out is not None else None
        self.tally = VerifyTally()
        self.halt = Halt(make_mask(config.access_token))
        self.caller = Caller(CallerConfig(
            base_url=config.base_url, token=config.access_token, token_env=config.token_env, rate=config.rate,
            concurrency=config.concurrency, timeout=config.timeout, retry=config.retry,
            daily_reserve=config.daily_reserve, user_agent=f"bulkassoc/{version}"), self.halt, rand=rand)
        # a worker holds a chunk (up to CHUNK_ROWS rows) while it reads it back: auto keeps AUTO_WORKERS
        self.workers = config.concurrency or AUTO_WORKERS
        self.queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=self.workers)
        # types by name or label and keyed IDs, resolved as `run` resolves them (no ledger: no cache)
        self.keys = KeyVet(self.caller, None, check_types=False, names_raw_ok=True, hold=False)
        self.problem = ""  # the first reason rows were left unchecked

    async def produce(self) -> None:
        limits = ChunkLimits(max_ids=MAX_IDS, chunk_rows=CHUNK_ROWS, open_rows=OPEN_ROWS, read_rows=READ_CHUNK)
        await fill_chunks(self.reader, self.queue, self.tally, limits, self.workers)
        t = self.tally
        if t.distinct == 0 and not self.halt.is_set():  # refuse to say "all is well" having checked nothing
            why = f"all {t.read:,} rows are invalid (first: {t.first_invalid})" if t.read else "the input holds no rows"
            self.halt.stop("input", f"nothing to check: {why}")

    async def work(self) -> None:
        while (chunk := await self.queue.get()) is not None:
            await self.check(chunk)

    async def check(self, chunk: Chunk) -> None:
        """Read back the chunk's fromIds, page by page, until every row is decided. A row whose type or
        keyed ID resolves to nothing cannot exist at HubSpot: it is missing."""
        vetted = await self.keys.vet(chunk.rows)
        self.write_missing([row for row, _, _ in vetted.failed])
        chunk.rows = vetted.ready
        chunk.ids = dict.fromkeys(norm_id(r.from_id) for r in vetted.ready)
        if not chunk.rows:
            return
        wanted = wanted_of(chunk.rows)
        cursors: dict[str, str | None] = dict.fromkeys(chunk.ids)
        try:
            while cursors:
                answer = await read_page(self.caller, read_body(cursors), chunk)
                cursors = take_page(answer, cursors, wanted)
        except Unchecked as exc:  # the fromIds still being paged stay unchecked; the others are decided
            self.problem = self.problem or self.caller.mask(str(exc))
        missing, unchecked = settle(chunk.rows, cursors, wanted)
        self.tally.present += len(chunk.rows) - unchecked - len(missing)
        self.write_missing(missing)

    def write_missing(self, missing: list[Row]) -> None:
        """Count the missing rows and write them as given (a keyed ID as `PROP=VALUE`, which run reads)."""
        self.tally.missing += len(missing)
        if self.writer is not None:
            missing.sort(key=lambda r: r.line)
            self.writer.writerows([*r.key, r.line] for r in missing)

    async def guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except (asyncio.CancelledError, Halted):
            pass
        except InputError as exc:
            self.halt.stop("input", str(exc))

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.caller:
            producer = loop.create_task(self.guarded(self.produce()))
            workers = [loop.create_task(self.guarded(self.work())) for _ in range(self.workers)]
            # nothing to save on a halt (a chunk's rows are written when it is done): no grace
            await wind_down(producer, workers, self.halt.event, self.caller.busy, 0.0)

    def summary(self, elapsed: float) -> VerifySummary:
        return summarize(self.tally, self.caller.count("read"), elapsed, self.halt.reason, self.halt.message,
                         self.problem, self.config.missing_out)


async def show_progress(job: _Verify, config: VerifyConfig) -> None:
    """Progress on stderr: a live line (--progress on a terminal) or timestamped lines."""
    if not config.progress and config.progress_lines is None:
        return
    loop = asyncio.get_running_loop()
    total = None if str(config.input) == "-" else await asyncio.to_thread(count_data_lines, config.input)
    watch = Watch(log=None, live=Progress(total) if config.progress else None, lines_every=config.progress_lines,
                  failed="missing")
    watch.start_display(loop.time(), total)
    try:
        while True:
            await asyncio.sleep(0.25)
            t = job.tally
            watch.tick(loop.time(), Snapshot(t.present, t.missing, t.present + t.missing + t.invalid + t.duplicates,
                                             job.caller.count("read").requests, total),
                       job.caller.limiter.rate, job.caller.pacer.advertised)
    finally:
        watch.finish(loop.time(), job.caller.limiter.rate, None)


async def verify_async(config: VerifyConfig, *, rand: Callable[[], float] | None = None,
                       version: str = "0") -> VerifySummary:
    """Check every row of the input against HubSpot; write the missing ones to `config.missing_out`.

    Raises InputError for an unusable input and ConfigError for an unwritable `missing_out`, before
    anything is sent.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    with RowReader(config.input, config.format, config.from_type, stdin=config.stdin,
                   options=config.read_options) as reader:
        out: IO[str] | None = None
        if config.missing_out is not None:
            try:
                out = await asyncio.to_thread(open, config.missing_out, "w", newline="", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write --missing-out {os.fspath(config.missing_out)}: "
                                  f"{exc.strerror or exc}") from None
        try:
            job = _Verify(config, reader, out, rand or random.Random().random, version)
            if job.writer is not None:
                job.writer.writerow(MISSING_COLUMNS)
            remove_signals = (install_signal_handlers(job.halt.stop, job.halt.event, job.caller.busy)
                              if config.handle_signals else (lambda: None))
            ticker = asyncio.ensure_future(show_progress(job, config))
            try:
                await job.main()
            finally:
                ticker.cancel()
                remove_signals()
        finally:
            if out is not None:
                out.close()
        return job.summary(loop.time() - started)
