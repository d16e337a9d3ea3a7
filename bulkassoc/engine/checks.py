"""Checks around the writes: the token and the portal before the first one, the association types of
each (fromType, toType) pair, type IDs the chosen endpoint needs, and the pace carried across runs.

Each function receives what it uses (the caller, the ledger, a few settings) and returns what it
found; the engine decides what to record and when to stop.
"""

from __future__ import annotations

import asyncio
import time

from ..hubspot.account import Labels, PortalIdentity, new_salt, parse_account, parse_labels, unknown_type_message
from ..hubspot.caller import Caller, pass_through
from ..hubspot.outcomes import Kind
from ..ledger.store import Ledger
from ..pacing.limiter import RollingWindowLimiter
from ..rows.reader import Row

__all__ = ["TypeCheck", "Unsent", "bind_portal", "carry_over_pace", "read_account", "save_pace", "unwritable"]

Unsent = tuple[Row, str, str]
"""A row failed without a request: (row, category, message)."""


async def read_account(caller: Caller) -> tuple[str | None, str | None]:
    """One cheap authenticated GET: a bad token stops the run here (401), and the answer names the
    portal the ledger is bound to and the account's time zone. Only 401 is conclusive: a 403 or 404
    may just mean this endpoint needs another scope or is not offered; the writes then decide."""
    answer = await caller.call("GET", "/account-info/v3/details", None, judge=pass_through, purpose="check",
                               forbidden_ok=True)
    response = answer.payload
    if answer.outcome.kind is Kind.SUCCESS and response is not None:
        return parse_account(response.body)
    return None, None


def bind_portal(ledger: Ledger, base_url: str, token: str, portal_id: str | None) -> str | None:
    """A ledger belongs to the portal it was first used with. Returns why this one is refused, or None."""
    salt = ledger.get_meta("salt")
    if salt is None:
        salt = new_salt()
        ledger.set_meta("salt", salt)
    here = PortalIdentity.of(portal_id, base_url, token, salt)
    stored_id, stored_fallback = ledger.get_meta("portal_id"), ledger.get_meta("portal_fallback")
    if stored_fallback is not None:
        there = PortalIdentity(stored_id, stored_fallback)
        if not here.same_as(there):
            return (f"the ledger {ledger.path} belongs to {there.describe()}, but this token "
                    f"writes to {here.describe()}; pass --ledger NEW.sqlite to start a ledger for it")
    if portal_id is not None:
        ledger.set_meta("portal_id", portal_id)
    if stored_fallback is None or (portal_id is not None and stored_id is None):
        ledger.set_meta("portal_fallback", here.fallback)
    return None


def carry_over_pace(ledger: Ledger, limiter: RollingWindowLimiter) -> None:
    """Don't burst into a window the previous run (maybe killed a moment ago) already filled: the
    ledger keeps the wall-clock time of the last request start, and the first start of this run
    waits until one spacing after it, as if the previous run had simply gone on."""
    last = ledger.get_meta("last_request_at")
    try:
        ago = time.time() - float(last) if last else None
    except ValueError:
        ago = None
    if ago is not None and 0 <= ago < limiter.rate.period:
        limiter.continue_after(asyncio.get_running_loop().time() - ago)


def save_pace(ledger: Ledger, limiter: RollingWindowLimiter) -> None:
    start = limiter.last_start
    if start is not None:
        wall = time.time() - (asyncio.get_running_loop().time() - start)
        ledger.set_meta("last_request_at", repr(wall))


def unwritable(rows: list[Row], *, batched: bool, api: str) -> tuple[list[Row], list[Unsent]]:
    """v4, date-versioned and batch writes need numeric type IDs: a name fails without a request."""
    if not batched and api == "v3":
        return rows, []
    how = "batch mode" if batched else f"--api {api}"
    kept: list[Row] = []
    failed: list[Unsent] = []
    for row in rows:
        if row.type.isdigit():
            kept.append(row)
        else:
            failed.append((row, "TYPE_NAME_NOT_SUPPORTED",
                           f"{how} needs a numeric association type ID, not {row.type!r}; look the ID up "
                           f"with GET /crm/v4/associations/{row.from_type}/{row.to_type}/labels, "
                           "or use --mode single --api v3"))
    return kept, failed


class TypeCheck:
    """The association types of each (fromType, toType) pair, read once per pair (labels endpoint)."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller
        self._labels: dict[tuple[str, str], Labels | None] = {}

    async def labels(self, from_type: str, to_type: str) -> Labels | None:
        """The pair's types; None when HubSpot told us nothing usable (then HubSpot judges each write)."""
        pair = (from_type, to_type)
        if pair not in self._labels:
            answer = await self._caller.call("GET", f"/crm/v4/associations/{from_type}/{to_type}/labels",
                                             None, judge=pass_through, purpose="check", forbidden_ok=True)
            response = answer.payload
            ok = answer.outcome.kind is Kind.SUCCESS and response is not None
            self._labels[pair] = parse_labels(response.body) if ok and response is not None else None
        return self._labels[pair]

    async def split(self, rows: list[Row]) -> tuple[list[Row], list[Unsent]]:
        """Rows whose type the pair defines (or that cannot be checked), and rows with an unknown type."""
        kept: list[Row] = []
        unknown: list[Unsent] = []
        for row in rows:
            labels = await self.labels(row.from_type, row.to_type)
            if labels is None or labels.knows(row.type):
                kept.append(row)
            else:
                unknown.append((row, "UNKNOWN_ASSOCIATION_TYPE",
                                unknown_type_message(row.type, row.from_type, row.to_type, labels)))
        return kept, unknown
