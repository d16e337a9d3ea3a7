"""Checks around the writes: the token and the portal before the first one, and the pace carried across
runs. (Association types and keyed IDs are resolved by `keys/`.)

Each function receives what it uses (the caller, the ledger, a few settings) and returns what it
found; the engine decides what to record and when to stop.
"""

from __future__ import annotations

import asyncio
import time

from ..hubspot.account import PortalIdentity, new_salt, parse_account
from ..hubspot.caller import Caller, pass_through
from ..hubspot.outcomes import Kind
from ..ledger.store import Ledger
from ..pacing.limiter import RollingWindowLimiter

__all__ = ["bind_portal", "carry_over_pace", "read_account", "save_pace"]


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
