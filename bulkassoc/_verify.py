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

Requests go through the same rolling-window limiter (paced by the headers with `--rate auto`) and
retry ladder as `run`: 429 pauses every worker; 423/477/5xx/no answer back off up to
`max_attempts`, then the rows of the fromIds that read was for stay unchecked (so do those of a
read answered 400 or 404); 401/403 and the daily limit stop the verify (exit 3), so does an
unreachable API.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import IO, Any, BinaryIO, Literal
from urllib.parse import quote

import aiohttp
import orjson

from . import __version__
from ._client import Response, check_base_url, open_session, request
from ._config import DEFAULT_BASE_URL, DEFAULT_TOKEN_ENV, ConfigError
from ._limiter import RollingWindowLimiter
from ._pump import ChunkPump
from ._quota import AUTO_START, HeaderPacer
from ._ratespec import Rate
from ._retry import Kind, Outcome, RetryPolicy, backoff_delay, required_scope
from ._rows import InputError, InvalidRow, Key, Row, RowReader, validate_object_type
from ._shutdown import install_signal_handlers, wind_down
from ._summary import AbortReason, format_duration

__all__ = ["MISSING_COLUMNS", "VerifyConfig", "VerifySummary", "verify", "verify_async"]

MAX_IDS = 1000  # HubSpot's batch-read cap: inputs per request (HUBSPOT_API.md §6)
CHUNK_ROWS = 10_000  # rows per chunk, so one fromId with many rows cannot grow a chunk without bound
OPEN_ROWS = 50_000  # rows held in chunks still filling, over all (fromType, toType) groups
READ_CHUNK = 512  # rows per read from the input thread
MISSING_COLUMNS = ["fromType", "fromId", "toType", "toId", "type", "line"]


@dataclass(frozen=True)
class VerifyConfig:
    """Everything one `bulkassoc verify` needs; the fields mean what they mean in `RunConfig`.

    `missing_out`: write the missing rows there as a CSV that `bulkassoc run` accepts.
    """

    input: str | os.PathLike[str]
    from_type: str | None = None
    format: Literal["csv", "jsonl"] | None = None
    base_url: str = DEFAULT_BASE_URL
    token: str = field(default="", repr=False)
    token_env: str = DEFAULT_TOKEN_ENV
    rate: Rate | None = Rate(100, 10.0)  # None: `--rate auto`, pace from X-HubSpot-RateLimit-* headers
    concurrency: int = 8
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()
    missing_out: str | os.PathLike[str] | None = None
    handle_signals: bool = False
    stdin: BinaryIO | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if str(self.input) == "-" and self.format is None:
            raise ConfigError("reading standard input needs --format csv or --format jsonl")
        if self.from_type is not None and not validate_object_type(self.from_type):
            raise ConfigError(f"--from-type {self.from_type!r} is not an object type (e.g. partner_services, 0-1)")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if not self.timeout > 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout}")
        try:
            object.__setattr__(self, "base_url", check_base_url(self.base_url))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not self.token.strip():
            raise ConfigError(f"no access token: set the environment variable {self.token_env} to your HubSpot "
                              "private app / service key token")


@dataclass(frozen=True)
class VerifySummary:
    """read = invalid + duplicates + rows + unchecked; rows = present + missing."""

    rows: int
    present: int
    missing: int
    invalid: int
    duplicates: int
    unchecked: int
    read: int
    requests: int
    retries: int
    throttled: int
    elapsed_s: float
    aborted: AbortReason | None
    exit_code: int
    message: str = ""  # why it aborted, or why rows were left unchecked
    missing_out: str | None = None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data

    def human(self) -> str:
        lines = [
            f"bulkassoc verify: {self.read:,} rows read; {self.requests:,} batch reads in "
            f"{format_duration(self.elapsed_s)}",
            f"  present {self.present:,}   missing {self.missing:,}   invalid (skipped) {self.invalid:,}   "
            f"duplicates {self.duplicates:,}" + (f"   unchecked {self.unchecked:,}" if self.unchecked else ""),
        ]
        if self.retries or self.throttled:
            lines.append(f"  retries {self.retries:,}   throttled (429) {self.throttled:,}")
        if self.aborted:
            lines.append(f"  aborted ({self.aborted}): {self.message}")
        elif self.unchecked:
            lines.append(f"  {self.message}; run verify again to check the unchecked rows")
        if self.missing and self.missing_out:
            lines.append(f"  missing rows written to {self.missing_out}; send them again with: "
                         f"bulkassoc run {self.missing_out} --resend (and your run's connection options)")
        elif self.missing:
            lines.append("  pass --missing-out PATH to get the missing rows as a CSV that `bulkassoc run` accepts")
        return "\n".join(lines)


def _norm_id(digits: str) -> str:
    """Record IDs compare as numbers: `007` is `7`."""
    return digits.lstrip("0") or "0"


def _norm_type(assoc_type: str) -> str:
    return _norm_id(assoc_type) if assoc_type.isdigit() else assoc_type


def _answer_id(value: object) -> str | None:
    """An ID as HubSpot sends it (a string in the current spec, a number in the guide's examples)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return _norm_id(value.strip())
    return None


@dataclass(slots=True)
class _Chunk:
    """Rows of one (fromType, toType) whose fromIds fit one batch read."""

    from_type: str
    to_type: str
    rows: list[Row] = field(default_factory=list)
    seen: set[Key] = field(default_factory=set)
    ids: dict[str, None] = field(default_factory=dict)  # normalised fromIds, first-seen order

    def accepts(self, from_id: str) -> bool:
        return len(self.rows) < CHUNK_ROWS and (from_id in self.ids or len(self.ids) < MAX_IDS)


@dataclass(slots=True)
class _Tally:
    read: int = 0
    invalid: int = 0
    duplicates: int = 0
    distinct: int = 0  # distinct valid rows put into chunks
    present: int = 0
    missing: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0


class _Unchecked(Exception):
    """A batch read failed for good; the rows it was to decide stay unchecked."""


class _Verify:
    def __init__(self, config: VerifyConfig, reader: RowReader, out: IO[str] | None,
                 rand: Callable[[], float]) -> None:
        self.config = config
        self.reader = reader
        self.writer = csv.writer(out) if out is not None else None
        self.rand = rand
        self.tally = _Tally()
        self.limiter = RollingWindowLimiter(config.rate or AUTO_START)
        self.pacer = HeaderPacer(self.limiter, config.rate, concurrency=config.concurrency)
        self.queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=config.concurrency)
        self.halt = asyncio.Event()
        self.aborted: AbortReason | None = None
        self.message = ""
        self.problem = ""  # the first reason rows were left unchecked
        self.transport_streak = 0
        self.session: aiohttp.ClientSession | None = None

    def stop(self, reason: AbortReason, message: str) -> None:
        if self.aborted is None:
            self.aborted, self.message = reason, message
        self.halt.set()

    # -- reading and chunking --------------------------------------------------------------------
    async def produce(self) -> None:
        pump: ChunkPump[Row | InvalidRow] = ChunkPump(self.reader.read_chunk, READ_CHUNK)
        open_chunks: dict[tuple[str, str], _Chunk] = {}
        open_rows = 0
        tally = self.tally
        try:
            while items := await pump.next():
                tally.read += len(items)
                for item in items:
                    if isinstance(item, InvalidRow):
                        tally.invalid += 1
                        continue
                    group = (item.from_type, item.to_type)
                    from_id = _norm_id(item.from_id)
                    chunk = open_chunks.get(group)
                    if chunk is not None and not chunk.accepts(from_id):
                        open_rows -= len(chunk.rows)
                        await self.queue.put(open_chunks.pop(group))
                        chunk = None
                    if chunk is None:
                        chunk = open_chunks[group] = _Chunk(*group)
                    key = item.key
                    if key in chunk.seen:
                        tally.duplicates += 1
                        continue
                    chunk.seen.add(key)
                    chunk.rows.append(item)
                    chunk.ids[from_id] = None
                    tally.distinct += 1
                    open_rows += 1
                    if open_rows > OPEN_ROWS:
                        biggest = max(open_chunks, key=lambda g: len(open_chunks[g].rows))
                        open_rows -= len(open_chunks[biggest].rows)
                        await self.queue.put(open_chunks.pop(biggest))
            for chunk in open_chunks.values():
                await self.queue.put(chunk)
        finally:
            pump.stop()
        for _ in range(self.config.concurrency):
            await self.queue.put(None)

    # -- checking --------------------------------------------------------------------------------
    async def work(self) -> None:
        while (chunk := await self.queue.get()) is not None:
            await self.check(chunk)

    async def check(self, chunk: _Chunk) -> None:
        """Read back the chunk's fromIds, page by page, until every row is decided."""
        # fromId → toId → the row types not yet seen at HubSpot (normalised); what is left is missing
        wanted: dict[str, dict[str, set[str]]] = {}
        for row in chunk.rows:
            wanted.setdefault(_norm_id(row.from_id), {}).setdefault(_norm_id(row.to_id), set()).add(
                _norm_type(row.type))
        url = (f"{self.config.base_url}/crm/v4/associations/{quote(chunk.from_type, safe='')}/"
               f"{quote(chunk.to_type, safe='')}/batch/read")
        cursors: dict[str, str | None] = dict.fromkeys(chunk.ids)
        try:
            while cursors:
                inputs = [{"id": i} if after is None else {"id": i, "after": after} for i, after in cursors.items()]
                answer = await self.read(url, orjson.dumps({"inputs": inputs}), chunk)
                cursors = self.take_page(answer, cursors, wanted)
        except _Unchecked as exc:  # the fromIds still being paged stay unchecked; the others are decided
            self.problem = self.problem or str(exc)
        missing = [row for row in chunk.rows if _norm_id(row.from_id) not in cursors
                   and _norm_type(row.type) in wanted[_norm_id(row.from_id)].get(_norm_id(row.to_id), ())]
        unchecked = sum(1 for row in chunk.rows if _norm_id(row.from_id) in cursors)
        self.tally.present += len(chunk.rows) - unchecked - len(missing)
        self.tally.missing += len(missing)
        if self.writer is not None:
            missing.sort(key=lambda r: r.line)
            self.writer.writerows([r.from_type, r.from_id, r.to_type, r.to_id, r.type, r.line] for r in missing)

    @staticmethod
    def take_page(answer: dict[str, Any], cursors: dict[str, str | None],
                  wanted: dict[str, dict[str, set[str]]]) -> dict[str, str | None]:
        """Strike from `wanted` what one answer proves; return the cursors of the ids worth another page."""
        following: dict[str, str | None] = {}
        results = answer.get("results")
        for result in results if isinstance(results, list) else ():
            if not isinstance(result, dict) or not isinstance(result.get("from"), dict):
                continue
            from_id = _answer_id(result["from"].get("id"))
            open_pairs = wanted.get(from_id or "")
            if from_id is None or open_pairs is None or from_id not in cursors:
                continue
            to_list = result.get("to")
            for target in to_list if isinstance(to_list, list) else ():
                if not isinstance(target, dict):
                    continue
                to_id = _answer_id(target.get("toObjectId"))
                types = open_pairs.get(to_id or "")
                if to_id is None or not types:
                    continue
                specs = target.get("associationTypes")
                type_ids = {str(s["typeId"]) for s in specs if isinstance(s, dict) and isinstance(s.get("typeId"), int)
                            } if isinstance(specs, list) else set()
                types -= {t for t in types if t in type_ids or not t.isdigit()}  # a name: any type will do
                if not types:
                    del open_pairs[to_id]
            paging = result.get("paging")
            after = paging.get("next", {}).get("after") if isinstance(paging, dict) and isinstance(
                paging.get("next"), dict) else None
            if open_pairs and isinstance(after, str) and after and after != cursors[from_id]:
                following[from_id] = after
        return following

    async def read(self, url: str, body: bytes, chunk: _Chunk) -> dict[str, Any]:
        """One batch read with the retry ladder; the parsed 200/207 answer. Raises _Unchecked when it
        fails for good, CancelledError when the verify stops."""
        policy = self.config.retry
        tries = throttles = sent = 0
        while True:
            outcome, response = await self.send(url, body)
            sent += 1
            self.tally.requests += 1
            if sent > 1:
                self.tally.retries += 1
            kind = outcome.kind
            if kind is Kind.SUCCESS:
                assert response is not None
                try:
                    answer = orjson.loads(response.body)
                except orjson.JSONDecodeError:
                    answer = None
                if isinstance(answer, dict):
                    return answer
                outcome = Outcome(Kind.RETRY, response.status, "BAD_ANSWER", "the answer is not a JSON object")
            elif kind is Kind.PERMANENT:
                raise _Unchecked(f"HubSpot answered {outcome.status} {outcome.category} to a batch read of "
                                 f"{chunk.from_type} → {chunk.to_type}: {outcome.message}")
            elif kind is Kind.AUTH:
                self.stop("auth", self.auth_message(outcome, chunk))
                raise asyncio.CancelledError
            elif kind is Kind.DAILY_LIMIT:
                self.stop("daily_limit", "HubSpot's daily request limit for this account is spent "
                          "(429 DAILY); it resets at midnight in the account's time zone")
                raise asyncio.CancelledError
            elif kind is Kind.THROTTLED:
                throttles += 1
                if throttles >= policy.max_throttles:
                    raise _Unchecked(f"still throttled (429) after {throttles} tries")
                continue
            tries += 1  # Kind.RETRY
            if self.transport_streak >= max(10, 2 * self.config.concurrency) or (
                    tries >= policy.max_attempts and self.transport_streak >= tries):
                self.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
                raise asyncio.CancelledError
            if tries >= policy.max_attempts:
                raise _Unchecked(f"a batch read failed {tries} times, last with "
                                 f"{outcome.status or outcome.category}: {outcome.message}")
            await asyncio.sleep(max(outcome.wait or 0.0, backoff_delay(
                tries, self.rand(), base=policy.backoff_base, cap=policy.backoff_cap)))

    async def send(self, url: str, body: bytes) -> tuple[Outcome, Response | None]:
        assert self.session is not None
        await self.limiter.acquire()
        started = asyncio.get_running_loop().time()
        self.pacer.note_start(started)
        outcome, response = await request(self.session, "POST", url, body=body)
        if response is None:
            self.transport_streak += 1
        else:
            self.transport_streak = 0
            self.pacer.observe(response.headers, started)
        if outcome.kind is Kind.THROTTLED:
            self.tally.throttled += 1
            self.limiter.pause(10.0 if outcome.wait is None else outcome.wait)
        return outcome, response

    def auth_message(self, outcome: Outcome, chunk: _Chunk) -> str:
        if outcome.status == 401:
            return (f"HubSpot rejected the access token (401 {outcome.category or 'INVALID_AUTHENTICATION'}); "
                    f"check the token in ${self.config.token_env}")
        scopes = " and ".join(dict.fromkeys(required_scope(t).removesuffix(".write") + ".read"
                                            for t in (chunk.from_type, chunk.to_type)))
        reported = f" (HubSpot asked for: {', '.join(outcome.scopes)})" if outcome.scopes else ""
        return (f"HubSpot refused the batch read (403 {outcome.category or 'MISSING_SCOPES'}): the app needs "
                f"{scopes}{reported}; add it to the private app or service key and rerun")

    # -- orchestration ---------------------------------------------------------------------------
    async def guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            pass
        except InputError as exc:
            self.stop("input", str(exc))

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self.session = open_session(self.config.token, concurrency=self.config.concurrency,
                                    timeout=self.config.timeout, user_agent=f"bulkassoc/{__version__}")
        async with self.session:
            producer = loop.create_task(self.guarded(self.produce()))
            workers = [loop.create_task(self.guarded(self.work())) for _ in range(self.config.concurrency)]
            # nothing to save on a halt (a chunk's rows are written when it is done): no grace, no busy set
            await wind_down(producer, workers, self.halt, set(), 0.0)

    def summary(self, elapsed: float) -> VerifySummary:
        t = self.tally
        unchecked = t.distinct - t.present - t.missing  # given up on, or still undecided at an abort
        if self.aborted is not None:
            code = 2 if self.aborted == "input" else 3
        elif t.missing or unchecked:
            code = 1
        else:
            code = 0
        out = self.config.missing_out
        return VerifySummary(
            rows=t.present + t.missing, present=t.present, missing=t.missing, invalid=t.invalid,
            duplicates=t.duplicates, unchecked=unchecked, read=t.read, requests=t.requests, retries=t.retries,
            throttled=t.throttled, elapsed_s=elapsed, aborted=self.aborted, exit_code=code,
            message=self.message or (f"{unchecked:,} rows could not be checked: {self.problem}" if unchecked else ""),
            missing_out=None if out is None else os.fspath(out),
        )


async def verify_async(config: VerifyConfig, *, rand: Callable[[], float] | None = None) -> VerifySummary:
    """Check every row of the input against HubSpot; write the missing ones to `config.missing_out`.

    Raises InputError for an unusable input and ConfigError for an unwritable `missing_out`, before
    anything is sent.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    with RowReader(config.input, config.format, config.from_type, stdin=config.stdin) as reader:
        out: IO[str] | None = None
        if config.missing_out is not None:
            try:
                out = await asyncio.to_thread(open, config.missing_out, "w", newline="", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write --missing-out {os.fspath(config.missing_out)}: "
                                  f"{exc.strerror or exc}") from None
        try:
            job = _Verify(config, reader, out, rand or random.Random().random)
            if job.writer is not None:
                job.writer.writerow(MISSING_COLUMNS)
            remove_signals = (install_signal_handlers(job.stop, job.halt, set()) if config.handle_signals
                              else (lambda: None))
            try:
                await job.main()
            finally:
                remove_signals()
        finally:
            if out is not None:
                out.close()
        return job.summary(loop.time() - started)


def verify(config: VerifyConfig) -> VerifySummary:
    """`verify_async` in a fresh event loop."""
    return asyncio.run(verify_async(config))
