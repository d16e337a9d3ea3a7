"""The read before a write: which rows HubSpot already holds (`present`, no write), and what a labelled
write must send so that no label of the pair is lost.

HubSpot's v4 creates (the labelled PUT, batch create) *replace* a pair's labels with the ones sent
(docs/hubspot-api.md §9). So, per chunk, the rows' existing associations are read first (≤ 1 batch read
per 1,000 fromIds, through the paced caller), then:
- a row whose pair already carries its type is `present`: recorded as succeeded, nothing sent;
- every other row is written with the union of the pair's existing types and every type this run writes
  for the pair (rows of one pair in a chunk share one union; a pair whose rows are still in flight from an
  earlier chunk lends them its union, so a later write cannot replace an earlier one; a pair whose last
  row settled while a read was under way lends it to that read's chunk, whose read may not have seen the
  write). Reads of several chunks may be under way at once (the intake reads ahead, engine/ahead.py):
  each keeps its own record of what settled meanwhile, dropped when it is decided;
- the ledger records, per row, whether this tool created it or found it present (`ledger/origins.py`).
A chunk whose read fails for good is not written (a write could remove labels): its rows fail unsent with
READ_FAILED, and a rerun tries them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..hubspot.assoc_read import MAX_READ_IDS, ReadFailed
from ..hubspot.caller import Caller
from ..hubspot.outcomes import Kind, Outcome
from ..ledger.origins import Origin, before_json, mark_origins
from ..ledger.store import Ledger, LedgerError
from ..rows.reader import ResolvedRow, Row
from .existing import TypeSpec, norm, read_existing

__all__ = ["PRESENT", "READ_CHUNK_ROWS", "Pair", "ReadFirst", "Split", "pair_of", "record_split"]

DECIDE_SLICE = 256  # rows decided between two turns of the event loop
READ_CHUNK_ROWS = 2 * MAX_READ_IDS  # rows per chunk when reading first: whole batch reads
PRESENT = Outcome(Kind.SUCCESS, None, "", "already present: nothing sent")

Pair = tuple[str, str, str, str]  # fromType, normalised fromId, toType, normalised toId


def _category(row: Row, default: str) -> str:
    """The category the portal defines for a resolved row's type (keys/), else the run's."""
    return row.category if isinstance(row, ResolvedRow) and row.category else default


def pair_of(row: Row) -> Pair:
    return row.from_type, norm(row.from_id), row.to_type, norm(row.to_id)


@dataclass(slots=True)
class Split:
    """One chunk, decided: rows to write, rows already present, rows that could not be checked."""

    write: list[Row] = field(default_factory=list)
    present: list[Row] = field(default_factory=list)
    unread: list[tuple[Row, str]] = field(default_factory=list)  # (row, why)
    origins: list[Origin] = field(default_factory=list)


class ReadFirst:
    """The read before the write for one run. `split` decides a chunk; `union` says what a write of a row
    must send; `settled` tells it a row's write is over."""

    def __init__(self, caller: Caller, *, category: str, run_id: int) -> None:
        self.caller = caller
        self.category = category
        self.run_id = run_id
        self._unions: dict[Pair, set[TypeSpec]] = {}
        self._left: dict[Pair, int] = {}  # rows of the pair still to settle
        self._reads: dict[int, dict[Pair, set[TypeSpec]]] = {}  # per read under way: unions settled since
        self._next_read = 0

    async def split(self, rows: Sequence[Row]) -> Split:
        """Read and decide one chunk, its (fromType, toType) groups side by side. Several chunks may be
        split at once."""
        groups: dict[tuple[str, str], list[Row]] = {}
        for row in rows:
            groups.setdefault((row.from_type, row.to_type), []).append(row)
        parts = [Split() for _ in groups]
        done = await asyncio.gather(*(self._split_group(types, group, part)
                                      for (types, group), part in zip(groups.items(), parts, strict=True)),
                                    return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        out = Split()
        for part in parts:  # in the groups' order, whichever read came back first
            out.write += part.write
            out.present += part.present
            out.unread += part.unread
            out.origins += part.origins
        return out

    async def _split_group(self, types: tuple[str, str], group: list[Row], out: Split) -> None:
        with self.reading() as settled_since:
            try:
                existing = await read_existing(self.caller, types[0], types[1], (r.from_id for r in group))
            except ReadFailed as exc:
                why = self.caller.mask(f"could not read the existing associations before writing: {exc}")
                out.unread.extend((row, why) for row in group)
                return
            for piece in _slices(group):  # tens of ms a chunk: let the pacer's starts go meanwhile
                self.decide(piece, existing, out, settled_since)
                await asyncio.sleep(0)

    @contextlib.contextmanager
    def reading(self) -> Iterator[dict[Pair, set[TypeSpec]]]:
        """A read under way, from before its request leaves until its chunk is decided: the unions of the
        pairs whose last row settles meanwhile gather in the dict it yields (the read may have gone out
        before those writes landed), for `decide` to lend them to its chunk. Dropped at the end."""
        token, self._next_read = self._next_read, self._next_read + 1
        since: dict[Pair, set[TypeSpec]] = {}
        self._reads[token] = since
        try:
            yield since
        finally:
            del self._reads[token]

    def decide(self, group: list[Row], existing: dict[str, dict[str, set[TypeSpec]]], out: Split,
               settled_since: dict[Pair, set[TypeSpec]] | None = None) -> None:
        """Decide the rows of one (fromType, toType) against what the read found (no I/O); `settled_since`
        holds the unions of pairs settled since the read began (`reading`)."""
        recent = settled_since or {}
        writes: dict[Pair, list[Row]] = {}
        for row in group:
            pair = pair_of(row)
            specs = existing.get(pair[1], {}).get(pair[3], set())
            if not row.type.isdigit():  # a v3 type name: a v4 read cannot tell, write it (origin unknown)
                out.write.append(row)
                continue
            type_id = int(row.type)
            held = [s for s in specs if s[1] == type_id]
            if held:
                out.present.append(row)
                out.origins.append((row.key, "present", self.run_id, held[0][0],
                                    before_json(s for s in specs if s[1] != type_id)))
                continue
            out.write.append(row)
            out.origins.append((row.key, "created", self.run_id, _category(row, self.category), before_json(specs)))
            writes.setdefault(pair, []).append(row)
        for pair, pair_rows in writes.items():
            union = set(existing.get(pair[1], {}).get(pair[3], set()))
            union.update((_category(r, self.category), int(r.type)) for r in pair_rows)
            union |= self._unions.get(pair, set()) | recent.get(pair, set())
            # kept even when it is the row's own type alone: a later chunk's read may not see this write
            # yet, and its write for the same pair must still carry this type (or it would replace it)
            self._unions[pair] = union
            self._left[pair] = self._left.get(pair, 0) + len(pair_rows)

    def union(self, row: Row) -> list[TypeSpec] | None:
        """Every type a labelled write of `row` must send (sorted), or None when it was not read first."""
        found = self._unions.get(pair_of(row))
        return None if found is None else sorted(found)

    def settled(self, row: Row) -> None:
        pair = pair_of(row)
        left = self._left.get(pair)
        if left is None:
            return
        if left > 1:
            self._left[pair] = left - 1
            return
        del self._left[pair]
        union = self._unions.pop(pair)
        for since in self._reads.values():  # reads under way may have gone out before this write landed
            since.setdefault(pair, set()).update(union)


def _slices(group: list[Row]) -> Iterator[list[Row]]:
    """The rows in slices of about DECIDE_SLICE, every pair's rows in one slice (one union per pair)."""
    by_pair: dict[Pair, list[Row]] = {}
    for row in group:
        by_pair.setdefault(pair_of(row), []).append(row)
    piece: list[Row] = []
    for rows in by_pair.values():
        piece += rows
        if len(piece) >= DECIDE_SLICE:
            yield piece
            piece = []
    if piece:
        yield piece


async def record_split(ledger: Ledger, split: Split) -> None:
    """Record a chunk's origins and its present rows (succeeded, no request) in the ledger: the origins in
    slices, a turn of the loop between them (each row's origin stands alone; a kill between two slices
    leaves the rest unmarked and pending, and the rerun reads them again)."""
    origins = split.origins
    for start in range(0, len(origins), DECIDE_SLICE):
        try:
            mark_origins(ledger.conn, origins[start:start + DECIDE_SLICE])
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {ledger.path}: {exc}") from None
        await asyncio.sleep(0)
    for row in split.present:
        ledger.record(row.key, True, PRESENT, 0)
