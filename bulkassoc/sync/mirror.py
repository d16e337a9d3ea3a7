"""`run --mirror`: the file is the truth for its scope; what HubSpot holds in that scope and the file no
longer lists is removed.

The scope is the file's fromIds × the (toType, type) pairs it uses, per fromType: an association of
another type, to another object type, or of a record the file does not name is outside it and never
touched. Before the first write, the whole file is read (a second pass over it) and the scope's existing
associations are read from HubSpot (v4 batch reads, ≤ 1 per 1,000 fromIds); the deletes are what the
scope holds and the file does not list. The guard (`--max-deletes N` or `P%` of the associations the
scope holds; default 5%) refuses a run that would delete more (exit 2, nothing written, nothing deleted):
a truncated nightly export must not wipe the CRM. The plan is recorded in the ledger (`deletions`,
'planned') before anything is sent; the deletes run after the writes (v4 `batch/labels/archive`, only
that type), each recorded 'deleted', and `bulkassoc undo` puts them back. `--deletes-out PATH` writes
the deletes (planned in a dry run, or refused) as CSV.
"""

from __future__ import annotations

import asyncio
import csv
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..hubspot.assoc_read import ReadFailed
from ..hubspot.caller import Caller
from ..hubspot.halt import Halt
from ..hubspot.outcomes import Kind
from ..ledger.origins import mark_deletions, plan_deletions
from ..ledger.store import Ledger, LedgerError
from ..pacing.inflight import workers_for
from ..rows.reader import Format, Row, RowReader
from .archive import ARCHIVE_BATCH, archive_keeping
from .existing import TypeSpec, norm, read_existing
from .lanes import Lanes

__all__ = ["DELETE_COLUMNS", "Mirror", "MirrorPlan", "carry_out", "parse_max_deletes", "plan_mirror", "record_plan",
           "write_deletes"]

Key = tuple[str, str, str, str, str]
DELETE_COLUMNS = ["fromType", "fromId", "toType", "toId", "type", "category"]
_READ_ROWS = 4096


def parse_max_deletes(text: str) -> tuple[int | None, float | None]:
    """`N` (a count) or `P%` (a share of the scope) → (count, share); ValueError saying what is accepted."""
    value = text.strip()
    try:
        if value.endswith("%"):
            share = float(value[:-1])
            if 0 <= share <= 100:
                return None, share / 100
        elif int(value) >= 0:
            return int(value), None
    except ValueError:
        pass
    raise ValueError(f"--max-deletes must be a count (e.g. 500) or a share of the scope (e.g. 5%), got {text!r}")


@dataclass
class MirrorPlan:
    scope: int = 0  # associations HubSpot held in the file's scope
    limit: int = 0  # the most deletes the guard allows
    deletes: list[tuple[Key, str]] = field(default_factory=list)  # (key, category), IDs without leading zeros
    others: dict[Key, frozenset[TypeSpec]] = field(default_factory=dict)  # a deleted pair's other types

    @property
    def refused(self) -> bool:
        return len(self.deletes) > self.limit

    def refusal(self, max_deletes: str) -> str:
        return (f"--mirror would delete {len(self.deletes):,} of the {self.scope:,} associations in the file's "
                f"scope, more than --max-deletes {max_deletes} allows ({self.limit:,}); nothing was written or "
                "deleted. Check the file (a truncated export?), look at --deletes-out, or raise --max-deletes")


def _scope_of(source: str, fmt: Format | None, from_type: str | None) -> tuple[
        dict[tuple[str, str], tuple[set[str], dict[str, None]]], set[Key]]:
    """Per (fromType, toType): the numeric types and the fromIds the file uses; and the file's keys."""
    groups: dict[tuple[str, str], tuple[set[str], dict[str, None]]] = {}
    keys: set[Key] = set()
    with RowReader(source, fmt, from_type) as reader:
        while items := reader.read_chunk(_READ_ROWS):
            for row in items:
                if not isinstance(row, Row) or not row.type.isdigit():
                    continue
                types, ids = groups.setdefault((row.from_type, row.to_type), (set(), {}))
                types.add(str(int(row.type)))
                ids[norm(row.from_id)] = None
                keys.add((row.from_type, norm(row.from_id), row.to_type, norm(row.to_id), str(int(row.type))))
    return groups, keys


async def plan_mirror(caller: Caller, source: str, fmt: Format | None, from_type: str | None,
                      max_deletes: str) -> MirrorPlan:
    """Read the file and the scope's associations; what the file no longer lists. Raises ReadFailed,
    InputError, Halted."""
    groups, keys = await asyncio.to_thread(_scope_of, source, fmt, from_type)
    plan = MirrorPlan()
    for (ft, tt), (types, ids) in groups.items():
        existing = await read_existing(caller, ft, tt, ids)
        for from_id, pairs in existing.items():
            for to_id, specs in pairs.items():
                for category, type_id in specs:
                    if str(type_id) not in types:
                        continue
                    plan.scope += 1
                    key = (ft, from_id, tt, to_id, str(type_id))
                    if key not in keys:
                        plan.deletes.append((key, category))
                        if len(specs) > 1:
                            plan.others[key] = frozenset(specs - {(category, type_id)})
    count, share = parse_max_deletes(max_deletes)
    plan.limit = count if count is not None else math.floor((share or 0.0) * plan.scope + 1e-9)
    return plan


def write_deletes(path: str, deletes: Sequence[tuple[Key, str]]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(DELETE_COLUMNS)
        writer.writerows([*key, category] for key, category in deletes)


def record_plan(ledger: Ledger, plan: MirrorPlan) -> None:
    try:
        plan_deletions(ledger.conn, ledger.run_id, plan.deletes)
    except sqlite3.Error as exc:
        raise LedgerError(f"ledger {ledger.path}: {exc}") from None


async def carry_out(caller: Caller, ledger: Ledger, plan: MirrorPlan, workers: int) -> tuple[int, int, str]:
    """Send the planned deletes (only their type), many calls at once but never two on one pair
    (`sync/lanes.py`), recording each call's rows; (deleted, failed, why)."""
    deleted = failed = 0
    why = ""

    async def send(ft: str, tt: str, part: list[tuple[Key, str]]) -> None:
        nonlocal deleted, failed, why
        outcome, trouble = await archive_keeping(caller, ft, tt, [(k, c, plan.others.get(k, frozenset()))
                                                                  for k, c in part])
        why = why or trouble
        failed += bool(trouble)  # labels the archive took and that could not be put back: exit 1
        ok = outcome.kind is Kind.SUCCESS
        status, message = ("deleted", None) if ok else ("failed", outcome.message or "delete failed")
        try:
            mark_deletions(ledger.conn, ledger.run_id, [k for k, _ in part], status, message)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {ledger.path}: {exc}") from None
        if ok:
            deleted += len(part)
        else:
            failed += len(part)
            why = why or f"a delete failed: {outcome.status or outcome.category} {message}"

    lanes: Lanes[tuple[Key, str]] = Lanes(workers, ARCHIVE_BATCH, send)
    try:
        for key, category in plan.deletes:
            await lanes.put(key, (key, category))
    finally:
        await lanes.close()
    return deleted, failed, why


class Mirror:
    """A run's mirror step: `prepare` before the first write (plan, guard, record), `finish` after the last."""

    def __init__(self, caller: Caller, ledger: Ledger, halt: Halt, *, source: str, fmt: Format | None,
                 from_type: str | None, max_deletes: str, deletes_out: str | None, dry_run: bool) -> None:
        self.caller, self.ledger, self.halt = caller, ledger, halt
        self.source, self.fmt, self.from_type = source, fmt, from_type
        self.max_deletes, self.deletes_out, self.dry_run = max_deletes, deletes_out, dry_run
        self.plan: MirrorPlan | None = None
        self.deleted = self.failed = 0

    @property
    def planned(self) -> int:
        return 0 if self.plan is None else len(self.plan.deletes)

    async def prepare(self) -> None:
        try:
            self.plan = plan = await plan_mirror(self.caller, self.source, self.fmt, self.from_type, self.max_deletes)
        except ReadFailed as exc:
            self.halt.stop("read", f"--mirror could not read what the file's scope holds: {exc}; rerun")
            return
        if self.deletes_out is not None:
            try:
                write_deletes(self.deletes_out, plan.deletes)
            except OSError as exc:
                self.halt.stop("input", f"cannot write --deletes-out {self.deletes_out}: {exc.strerror or exc}")
                return
        if plan.refused:
            self.halt.stop("mirror_guard", plan.refusal(self.max_deletes))
        elif not self.dry_run:
            record_plan(self.ledger, plan)

    async def finish(self) -> str:
        """Carry out the planned deletes; why some failed ('' when none did)."""
        if self.plan is None or self.dry_run:
            return ""
        deleted, failed, why = await carry_out(self.caller, self.ledger, self.plan,
                                                workers_for(self.caller.config.concurrency))
        self.deleted += deleted
        self.failed += failed
        return why
