"""Checks around the writes: the token and the portal before the first one, the association types of
each (fromType, toType) pair, type IDs the chosen endpoint needs, and the pace carried across runs.

Functions of the run (`RunLike`), kept apart from the engine's queue-and-workers machinery.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from ..hubspot.account import Labels, PortalIdentity, new_salt, parse_account, parse_labels, unknown_type_message
from ..hubspot.client import Response
from ..hubspot.outcomes import Kind, Outcome, required_scope
from ..ledger.store import Ledger
from ..pacing.limiter import RollingWindowLimiter
from ..rows.reader import Row
from .config import RunConfig
from .summary import AbortReason
from .tally import Tally

__all__ = ["Halted", "RunLike", "auth_message", "bind_portal", "carry_over_pace", "drop_unknown_types",
           "drop_unwritable", "preflight", "save_pace"]


class Halted(Exception):
    """Raised inside a task when the run halted while it waited; its rows stay pending."""


class RunLike(Protocol):
    config: RunConfig
    ledger: Ledger
    tally: Tally
    limiter: RollingWindowLimiter
    labels: dict[tuple[str, str], Labels | None]
    time_zone: str | None
    aborted: AbortReason | None
    halt: asyncio.Event

    @property
    def batched(self) -> bool: ...

    def stop(self, reason: AbortReason, message: str) -> None: ...

    def stop_daily(self, why: str) -> None: ...

    def fail_unsent(self, row: Row, category: str, message: str) -> None: ...

    async def get_with_retries(self, path: str) -> tuple[Outcome, Response | None]: ...


async def preflight(run: RunLike) -> None:
    """One cheap authenticated GET: a bad token stops the run here, and the answer names the
    portal the ledger is bound to. Only 401 is conclusive: a 403 or 404 may just mean this
    endpoint needs another scope or is not offered, so the run goes on and the writes decide."""
    outcome, response = await run.get_with_retries("/account-info/v3/details")
    if outcome.kind is Kind.AUTH and outcome.status == 401:
        run.stop("auth", auth_message(run, outcome, None))
    elif outcome.kind is Kind.DAILY_LIMIT:
        run.stop_daily("HubSpot's daily request limit for this account is spent (429 DAILY)")
    elif outcome.kind is Kind.RETRY and response is None and run.aborted is None:
        run.stop("unreachable", f"cannot reach {run.config.base_url}: {outcome.message}")
    portal = None
    if outcome.kind is Kind.SUCCESS and response is not None:
        portal, run.time_zone = parse_account(response.body)
    if not run.halt.is_set():
        bind_portal(run, portal)


def bind_portal(run: RunLike, portal_id: str | None) -> None:
    """A ledger belongs to the portal it was first used with; refuse another one (exit 2)."""
    salt = run.ledger.get_meta("salt")
    if salt is None:
        salt = new_salt()
        run.ledger.set_meta("salt", salt)
    here = PortalIdentity.of(portal_id, run.config.base_url, run.config.token, salt)
    stored_id, stored_fallback = run.ledger.get_meta("portal_id"), run.ledger.get_meta("portal_fallback")
    if stored_fallback is not None:
        there = PortalIdentity(stored_id, stored_fallback)
        if not here.same_as(there):
            run.stop("portal", f"the ledger {run.ledger.path} belongs to {there.describe()}, but this token "
                      f"writes to {here.describe()}; pass --ledger NEW.sqlite to start a ledger for it")
            return
    if portal_id is not None:
        run.ledger.set_meta("portal_id", portal_id)
    if stored_fallback is None or (portal_id is not None and stored_id is None):
        run.ledger.set_meta("portal_fallback", here.fallback)


def carry_over_pace(run: RunLike) -> None:
    """Don't burst into a window the previous run (maybe killed a moment ago) already filled: the
    ledger keeps the wall-clock time of the last request start, and the first start of this run
    waits until one spacing after it, as if the previous run had simply gone on."""

    last = run.ledger.get_meta("last_request_at")
    try:
        ago = time.time() - float(last) if last else None
    except ValueError:
        ago = None
    if ago is not None and 0 <= ago < run.limiter.rate.period:
        run.limiter.continue_after(asyncio.get_running_loop().time() - ago)


def save_pace(run: RunLike) -> None:

    start = run.limiter.last_start
    if start is not None:
        wall = time.time() - (asyncio.get_running_loop().time() - start)
        run.ledger.set_meta("last_request_at", repr(wall))


def drop_unwritable(run: RunLike, rows: list[Row]) -> list[Row]:
    """v4, date-versioned and batch writes need numeric type IDs: a name fails without a request."""
    if not run.batched and run.config.api == "v3":
        return rows
    kept = [row for row in rows if row.type.isdigit()]
    if len(kept) < len(rows):
        how = "batch mode" if run.batched else f"--api {run.config.api}"
        for row in rows:
            if not row.type.isdigit():
                run.fail_unsent(row, "TYPE_NAME_NOT_SUPPORTED",
                                 f"{how} needs a numeric association type ID, not {row.type!r}; look the ID up "
                                 f"with GET /crm/v4/associations/{row.from_type}/{row.to_type}/labels, "
                                 "or use --mode single --api v3")
    return kept


async def drop_unknown_types(run: RunLike, rows: list[Row]) -> list[Row]:
    """Check each new (fromType, toType) pair's association types once (labels endpoint).

    Rows with a type HubSpot does not define are failed without a request, their message listing
    the valid types. When not one row of the first chunk has a valid type, the file is wrong as a
    whole: the run stops before its first write (exit 2) and records nothing.
    """
    kept: list[Row] = []
    unknown: list[tuple[Row, str]] = []
    for row in rows:
        pair = (row.from_type, row.to_type)
        if pair not in run.labels:
            outcome, response = await run.get_with_retries(f"/crm/v4/associations/{pair[0]}/{pair[1]}/labels")
            if outcome.kind is Kind.AUTH and outcome.status == 401:
                run.stop("auth", auth_message(run, outcome, None))
                raise Halted
            if outcome.kind is Kind.DAILY_LIMIT:
                run.stop_daily("HubSpot's daily request limit for this account is spent (429 DAILY)")
                raise Halted
            ok = outcome.kind is Kind.SUCCESS and response is not None
            run.labels[pair] = parse_labels(response.body) if ok and response else None
        labels = run.labels[pair]
        if labels is None or labels.knows(row.type):
            kept.append(row)
            continue
        unknown.append((row, unknown_type_message(row.type, row.from_type, row.to_type, labels)))
    if unknown and not kept and run.tally.requests == 0 and run.tally.unsent_failures == 0:
        run.stop("types", unknown[0][1])
        raise Halted
    for row, message in unknown:
        run.fail_unsent(row, "UNKNOWN_ASSOCIATION_TYPE", message)
    return kept


def auth_message(run: RunLike, outcome: Outcome, row: Row | None) -> str:
    if outcome.status == 401:
        return (f"HubSpot rejected the access token (401 {outcome.category or 'INVALID_AUTHENTICATION'}); "
                f"check the token in ${run.config.token_env}")
    needed = required_scope(row.from_type) if row is not None else ""
    reported = ", ".join(outcome.scopes)
    scope_text = f"the app needs the scope {needed}" if needed else "the app lacks a required scope"
    if reported and reported != needed:
        scope_text += f" (HubSpot asked for: {reported})"
    return (f"HubSpot refused the request (403 {outcome.category or 'MISSING_SCOPES'}): {scope_text}; "
            "add it to the private app or service key and rerun")
