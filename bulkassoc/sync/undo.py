"""`bulkassoc undo LEDGER`: remove exactly the associations the ledger says this tool created, and put
back the ones a mirror deleted.

- Created rows (`origin` 'created', status succeeded; `ledger/origins.py`) are removed with v4
  `batch/labels/archive`, naming only the type this tool created: a type the pair had before stays
  (never `batch/archive`, which removes the whole pair). Rows whose origin is not known (written without
  the read before the write) are left alone and counted as `unknown`.
- Associations a mirror deleted (`deletions`, status 'deleted') are created again, with the union of
  what the pair holds now (read first) so no label is replaced.
Every request goes through the paced caller. Each answered call is committed to the ledger at once
(rows 'undone', deletions 'restored'), so a rerun after a kill sends nothing for what is done.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..hubspot.assoc_read import ReadFailed
from ..hubspot.batch_answers import settle_batch
from ..hubspot.caller import Caller, CallerConfig, make_mask
from ..hubspot.client import Response
from ..hubspot.endpoints import batch_request
from ..hubspot.halt import Halt, Halted
from ..hubspot.outcomes import Kind, Outcome, RetryPolicy, required_scope
from ..ledger.lookups import sent_keys
from ..ledger.origins import count_unknown, created_rows, deleted_rows, mark_deletions, mark_undone, run_ids
from ..ledger.store import Ledger, LedgerError
from ..pacing.inflight import workers_for
from ..pacing.rate import Rate
from ..rows.reader import Row
from .archive import ARCHIVE_BATCH, archive_keeping, others_of
from .existing import read_existing
from .lanes import Lanes

__all__ = ["UndoConfig", "UndoSummary", "undo_async"]

Key = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class UndoConfig:
    ledger: str
    base_url: str
    token: str
    token_env: str
    rate: Rate | None
    concurrency: int | None = None  # None: `--concurrency auto` (the caller sizes what is in flight)
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()
    runs: tuple[int, ...] | None = None  # None: every run of the ledger
    dry_run: bool = False
    batch_size: int = ARCHIVE_BATCH


@dataclass(frozen=True)
class UndoSummary:
    to_undo: int  # created rows (of the picked runs) still recorded as succeeded when undo started
    undone: int  # of them removed by this undo
    to_restore: int  # associations a mirror deleted, still to put back
    restored: int
    failed: int  # removals or restores that failed for good (recorded unchanged; a rerun tries again)
    unknown: int  # succeeded rows whose origin is not known: left alone
    requests: int
    retries: int
    throttled: int
    elapsed_s: float
    aborted: str | None
    exit_code: int
    dry_run: bool = False
    message: str = ""
    ledger: str = ""

    def to_dict(self) -> dict[str, object]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["elapsed_s"] = round(self.elapsed_s, 3)
        data["deleted"] = self.undone  # the contract's name for removals, as in run's summary
        data["pending"] = 0 if self.dry_run else max(0, self.to_undo + self.to_restore - self.undone
                                                      - self.restored - self.failed)
        return data

    def human(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        lines = [f"bulkassoc undo: {verb} {self.to_undo if self.dry_run else self.undone:,} of "
                 f"{self.to_undo:,} created associations; "
                 f"{'would restore' if self.dry_run else 'restored'} "
                 f"{self.to_restore if self.dry_run else self.restored:,} of {self.to_restore:,} mirror deletes"]
        if self.failed:
            lines.append(f"  failed {self.failed:,} (recorded unchanged; rerun to try again)")
        if self.unknown:
            lines.append(f"  left alone {self.unknown:,} rows written without a read first (origin unknown)")
        if self.aborted:
            lines.append(f"  aborted ({self.aborted}): {self.message}")
            lines.append("  rerun the same command to resume; what is done is not sent again")
        return "\n".join(lines)


class _Undo:
    def __init__(self, config: UndoConfig, ledger: Ledger, halt: Halt, caller: Caller) -> None:
        self.config, self.ledger, self.halt, self.caller = config, ledger, halt, caller
        self.undone = self.restored = self.failed = 0
        self.problem = ""

    def _commit(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(self.ledger.conn, *args)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.ledger.path}: {exc}") from None

    def _lanes(self, send: Callable[[str, str, list[Any]], Awaitable[None]]) -> Lanes[Any]:
        return Lanes(workers_for(self.config.concurrency), self.config.batch_size, send)

    async def remove(self, runs: Sequence[int] | None) -> None:
        """Archive the created types, many calls at once (never two on one pair: `sync/lanes.py`)."""
        lanes: Lanes[tuple[Key, str, frozenset[tuple[str, int]], Key]] = self._lanes(self._remove_some)
        try:
            for page in created_rows(self.ledger.conn, runs, self.config.batch_size):
                # rows keyed by e-mail, legacy ID or type label: removed as they were sent (the ledger's lookups)
                sent = sent_keys(self.ledger.conn, [k for k, _, _ in page])
                for (k, category, before), s in zip(page, sent, strict=True):
                    if s[4].isdigit() and not self.halt.is_set():
                        await lanes.put(s, (s, category, others_of(before), k))
        finally:
            await lanes.close()

    async def _remove_some(self, from_type: str, to_type: str,
                           items: list[tuple[Key, str, frozenset[tuple[str, int]], Key]]) -> None:
        given: dict[Key, list[Key]] = {}  # a key as sent → the ledger rows it stands for (one input each)
        inputs: list[tuple[Key, str, frozenset[tuple[str, int]]]] = []
        for s, category, others, k in items:
            if s not in given:
                inputs.append((s, category, others))
            given.setdefault(s, []).append(k)
        outcome, trouble = await archive_keeping(self.caller, from_type, to_type, inputs)
        self.problem = self.problem or trouble
        self.failed += bool(trouble)  # a pair whose labels could not be put back: exit 1, see message
        if outcome.kind is Kind.SUCCESS:
            done = [k for keys in given.values() for k in keys]
            self._commit(mark_undone, done)
            self.undone += len(done)
        else:
            self.failed += len(inputs)
            self.problem = self.problem or _why(outcome)

    async def restore(self, runs: Sequence[int] | None) -> None:
        """Create again what mirrors deleted, many calls at once (never two on one pair)."""
        lanes: Lanes[tuple[Key, str, int]] = self._lanes(self._restore_some)
        try:
            for item in deleted_rows(self.ledger.conn, runs):
                if self.halt.is_set():
                    break
                await lanes.put(item[0], item)
        finally:
            await lanes.close()

    async def _restore_some(self, from_type: str, to_type: str, items: list[tuple[Key, str, int]]) -> None:
        try:
            existing = await read_existing(self.caller, from_type, to_type, (k[1] for k, _, _ in items))
        except ReadFailed as exc:
            self.failed += len(items)
            self.problem = self.problem or self.caller.mask(str(exc))
            return
        unions: dict[tuple[str, str], set[tuple[str, int]]] = {}
        for k, category, _ in items:
            pair = (k[1].lstrip("0") or "0", k[3].lstrip("0") or "0")
            have = existing.get(pair[0], {}).get(pair[1], set())
            unions.setdefault(pair, set(have)).add((category, int(k[4])))
        rows = [Row(k[0], k[1], k[2], k[3], k[4], 0) for k, _, _ in items]

        def union(row: Row) -> list[tuple[str, int]]:
            return sorted(unions[(row.from_id.lstrip("0") or "0", row.to_id.lstrip("0") or "0")])

        def judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, bool]:
            if response is None:
                return outcome, False
            verdict = settle_batch(response.status, response.body, response.headers, rows)
            ok = verdict.whole is None and not verdict.split and all(
                o.kind is Kind.SUCCESS for _, o in verdict.per_row) and not verdict.resend
            return (verdict.whole or Outcome(Kind.SUCCESS, response.status)), ok

        method, path, body = batch_request(from_type, to_type, rows, api="v4", union=union)
        answer = await self.caller.call(method, path, body, judge=judge, scope=required_scope(from_type))
        if answer.payload:
            by_run: dict[int, list[Key]] = {}
            for k, _, run in items:
                by_run.setdefault(run, []).append(k)
            for run, keys in by_run.items():
                self._commit(mark_deletions, run, keys, "restored")
            self.restored += len(items)
        else:
            self.failed += len(items)
            self.problem = self.problem or _why(answer.outcome)


def _open(name: str) -> Ledger:
    path = Path(name)
    if not path.is_file():
        raise LedgerError(f"no ledger at {path}: pass the ledger file a run wrote (INPUT.ledger.sqlite)")
    ledger = Ledger(path)
    ledger.open("undo")
    return ledger


def _exit_code(halt: Halt, failed: int) -> int:
    if halt.reason is not None:
        return 2 if halt.reason == "portal" else 3
    return 1 if failed else 0


def _why(outcome: Outcome) -> str:
    return f"HubSpot answered {outcome.status or outcome.category}: {outcome.message}"


async def undo_async(config: UndoConfig, *, rand: Callable[[], float], version: str = "0",
                     portal_check: Callable[[Caller, Ledger], Awaitable[str | None]] | None = None,
                     signals: Callable[[Halt, Caller], Callable[[], None]] | None = None) -> UndoSummary:
    """Undo what the ledger's runs (all, or `config.runs`) did. Raises LedgerError for an unusable ledger
    and ValueError for a run the ledger does not hold, before anything is sent. `portal_check` refuses a
    ledger of another portal (a reason, or None); `signals` installs stop handlers and returns their remover."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    halt = Halt(make_mask(config.token))
    caller = Caller(CallerConfig(
        base_url=config.base_url, token=config.token, token_env=config.token_env, rate=config.rate,
        concurrency=config.concurrency, timeout=config.timeout, retry=config.retry, daily_reserve=None,
        user_agent=f"bulkassoc/{version}"), halt, rand=rand)
    ledger = _open(config.ledger)
    path = ledger.path
    job = _Undo(config, ledger, halt, caller)
    try:
        known = run_ids(ledger.conn)
        runs = config.runs
        if runs is not None and (missing := sorted(set(runs) - set(known))):
            raise ValueError(f"the ledger {path} holds no run {missing[0]}; "
                             f"its runs are {', '.join(map(str, known))}")
        to_undo = sum(len(p) for p in created_rows(ledger.conn, runs, 10_000))
        to_restore = len(deleted_rows(ledger.conn, runs))
        unknown = count_unknown(ledger.conn, runs)
        if not config.dry_run:
            remove_signals = signals(halt, caller) if signals is not None else (lambda: None)
            try:
                async with caller:
                    if portal_check is not None and (refused := await portal_check(caller, ledger)):
                        halt.stop("portal", refused)
                    else:
                        await job.remove(runs)
                        await job.restore(runs)
            except Halted:
                pass
            except LedgerError as exc:
                halt.stop("ledger", str(exc))
            finally:
                remove_signals()
    finally:
        ledger.close(None)
    counts = caller.count("delete")
    writes, reads = caller.count("write"), caller.count("read")
    return UndoSummary(
        to_undo=to_undo, undone=job.undone, to_restore=to_restore, restored=job.restored, failed=job.failed,
        unknown=unknown, requests=counts.requests + writes.requests + reads.requests,
        retries=counts.retries + writes.retries + reads.retries, throttled=caller.throttled,
        elapsed_s=loop.time() - started, aborted=halt.reason, exit_code=_exit_code(halt, job.failed),
        dry_run=config.dry_run,
        message=halt.message or job.problem, ledger=str(path))
