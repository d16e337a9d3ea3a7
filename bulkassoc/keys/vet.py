"""Rows as users key them → rows HubSpot's write endpoints take: the one step between admission and the
queue that resolves association types (ID, name or label) and keyed record values (`email=a@x.com`).

A row that cannot be resolved fails unsent with its own category and a message naming what was given:
UNKNOWN_ASSOCIATION_TYPE (unknown or ambiguous type, the valid ones listed), UNRESOLVED_FROM /
UNRESOLVED_TO (the property and value that matched nothing). The rest go on, as `ResolvedRow`s that
are recorded under the key they were read with. Rows whose values are not known yet may wait for later
chunks, so that the lookups of a file go out in full requests of 100 values.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from ..hubspot.caller import Caller
from ..ledger.lookups import LookupStore, split_keyed
from ..rows.reader import ResolvedRow, Row
from .ids import BATCH, IdResolver, Miss, Triple, normalise
from .types import TypeBook, TypeDef

__all__ = ["KeyVet", "Unsent", "Vetted"]

Unsent = tuple[Row, str, str]
"""A row failed without a request: (row, category, message)."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")
TURN_ROWS = 256  # rows resolved between two turns of the event loop
HOLD_MAX = 20_000  # rows held back for their lookups at most, before the values are looked up anyway


@dataclass(frozen=True, slots=True)
class _Held:
    row: Row
    type_def: TypeDef | None
    from_key: Triple | None
    to_key: Triple | None


@dataclass(frozen=True, slots=True)
class Vetted:
    ready: list[Row]
    failed: list[Unsent]
    unresolved: int  # rows whose keyed fromId / toId matched nothing


class KeyVet:
    """`check_types`: check numeric IDs against the portal's types too (the preflight); names and labels
    are always resolved. `names_raw_ok`: the endpoint takes a v3 name as it is (single mode, v3) when the
    portal's types cannot be read."""

    def __init__(self, caller: Caller, store: LookupStore | None, *, check_types: bool, names_raw_ok: bool,
                 hold: bool = True) -> None:
        self.book = TypeBook(caller)
        self.ids = IdResolver(caller, store)
        self._store = store
        self.hold = hold  # off for a pipe that trickles: each row goes as soon as it can
        self._held: list[_Held] = []
        self._types: dict[tuple[str, str, str], tuple[TypeDef | None, str]] = {}  # per (fromType, toType, type)
        self._check_types = check_types
        self._names_raw_ok = names_raw_ok

    def broken(self) -> str | None:
        """Why lookups by some property fail as a whole (e.g. no such unique property), or None."""
        if not self.ids.broken:
            return None
        (object_type, prop), why = next(iter(self.ids.broken.items()))
        return (f"looking up {object_type} by {prop} fails as a whole ({why}): is {prop} a unique property of "
                f"{object_type}? Fix --from-id-property / --to-id-property (or the fromIdProperty / toIdProperty "
                "column) and rerun")

    async def _type(self, row: Row) -> tuple[TypeDef | None, str]:
        """The row's type as the portal defines it; (None, '') to send it as it is; (None, why) to fail."""
        key = (row.from_type, row.to_type, row.type)
        found = self._types.get(key)
        if found is None:
            found = self._types[key] = await self._find_type(row)
        return found

    async def _find_type(self, row: Row) -> tuple[TypeDef | None, str]:
        raw_name = self._names_raw_ok and _NAME.fullmatch(row.type) is not None
        if not self._check_types and (row.type.isdigit() or raw_name):
            return None, ""  # no preflight: what the endpoint takes as it is goes as it is
        defs = await self.book.definitions(row.from_type, row.to_type)
        if defs is None:
            if row.type.isdigit() or raw_name:
                return None, ""  # HubSpot judges the write
            return None, (f"association type {row.type!r} is not a type ID, and the portal's types for "
                          f"{row.from_type} → {row.to_type} could not be read to resolve it (the labels and types "
                          "endpoints refused or are empty); put the numeric type ID in the type column")
        found, why = defs.find(row.type)
        if found is None and raw_name and not defs.has_names:
            return None, ""  # the names could not be read: the v3 endpoint judges this one
        if found is not None and self._store is not None and found.type_id != row.type:
            self._store.put_type(row.from_type, row.to_type, row.type, found.type_id, found.category)
        return found, why

    async def vet(self, rows: list[Row], *, final: bool = True) -> Vetted:
        """Resolve `rows`. With `final` off, rows whose keyed values are not known yet may be held back
        (returned by a later call) until a full request of 100 values per (objectType, property) has
        gathered, so that values spread over many chunks of a file share requests; `final` releases all."""
        failed: list[Unsent] = []
        mine: list[_Held] = []
        for n, row in enumerate(rows, 1):
            if n % TURN_ROWS == 0:  # ~10 µs a row: let the pacer's timers run between slices of a chunk
                await asyncio.sleep(0)
            found, why = await self._type(row)
            if why:
                failed.append((row, "UNKNOWN_ASSOCIATION_TYPE", why))
                continue
            sides = [None if (split := split_keyed(value)) is None
                     else (object_type, split[0], normalise(split[0], split[1]))
                     for object_type, value in ((row.from_type, row.from_id), (row.to_type, row.to_id))]
            mine.append(_Held(row, found, sides[0], sides[1]))
        # this call's rows, and those earlier calls held back: calls may overlap (verify's workers vet their
        # chunks side by side), and each returns its own rows (never another call's, half-vetted)
        pending, self._held = self._held + mine, []
        unknown = self.ids.unknown(t for h in pending for t in (h.from_key, h.to_key) if t is not None)
        if unknown:
            if final or not self.hold or len(pending) > HOLD_MAX:
                await self.ids.fetch(unknown)
            else:
                await self.ids.fetch(_full_requests(unknown))
        ready: list[Row] = []
        held: list[_Held] = []
        unresolved = 0
        for n, h in enumerate(pending, 1):
            if n % TURN_ROWS == 0:
                await asyncio.sleep(0)
            from_got = None if h.from_key is None else self.ids.get(h.from_key)
            to_got = None if h.to_key is None else self.ids.get(h.to_key)
            if (h.from_key is not None and from_got is None) or (h.to_key is not None and to_got is None):
                held.append(h)
                continue
            row = h.row
            problems = [f"{side}Id {given!r}: {got.message}" for side, given, got in
                        (("from", row.from_id, from_got), ("to", row.to_id, to_got)) if isinstance(got, Miss)]
            if problems:
                unresolved += 1
                category = "UNRESOLVED_FROM" if isinstance(from_got, Miss) else "UNRESOLVED_TO"
                failed.append((row, category, "; ".join(problems)))
            elif h.type_def is None and from_got is None and to_got is None:
                ready.append(row)
            else:
                ready.append(ResolvedRow(
                    row.from_type, from_got if isinstance(from_got, str) else row.from_id, row.to_type,
                    to_got if isinstance(to_got, str) else row.to_id,
                    h.type_def.type_id if h.type_def is not None else row.type, row.line, row.key,
                    h.type_def.category if h.type_def is not None else ""))
        self._held.extend(held)
        return Vetted(ready, failed, unresolved)


def _full_requests(unknown: set[Triple]) -> list[Triple]:
    """Of the unknown values, as many as fill whole requests of 100 per (objectType, property)."""
    groups: dict[tuple[str, str], list[Triple]] = {}
    for triple in unknown:
        groups.setdefault(triple[:2], []).append(triple)
    out: list[Triple] = []
    for triples in groups.values():
        triples.sort()
        out.extend(triples[:len(triples) // BATCH * BATCH])
    return out
