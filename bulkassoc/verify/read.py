"""One `POST /crm/v4/associations/{fromType}/{toType}/batch/read`, paced and retried like `run`'s writes
(the retry ladder and what stops a verify are in `_verify`'s docstring)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from ..engine.summary import AbortReason
from ..hubspot.client import Response, request
from ..hubspot.outcomes import Kind, Outcome, backoff_delay, required_scope
from ..pacing.headers import AUTO_START, HeaderPacer
from ..pacing.limiter import RollingWindowLimiter
from .chunks import Chunk
from .config import VerifyConfig
from .summary import Tally

__all__ = ["BatchReads", "Unchecked", "read_body", "read_url"]


class Unchecked(Exception):
    """A batch read failed for good; the rows it was to decide stay unchecked."""


def read_url(base_url: str, from_type: str, to_type: str) -> str:
    return f"{base_url}/crm/v4/associations/{quote(from_type, safe='')}/{quote(to_type, safe='')}/batch/read"


def read_body(cursors: dict[str, str | None]) -> bytes:
    """The request for these fromIds, each from its page cursor (None: the first page)."""
    inputs = [{"id": i} if after is None else {"id": i, "after": after} for i, after in cursors.items()]
    return orjson.dumps({"inputs": inputs})


class BatchReads:
    """The batch reads of one verify: its limiter and pacer, its session (set by the caller before the
    first read), and the counts of requests, retries and 429s in the verify's `Tally`. `stop` is called
    with the reason when a read answer stops the whole verify."""

    def __init__(self, config: VerifyConfig, tally: Tally, rand: Callable[[], float],
                 stop: Callable[[AbortReason, str], None]) -> None:
        self.config = config
        self.tally = tally
        self.rand = rand
        self.stop = stop
        self.limiter = RollingWindowLimiter(config.rate or AUTO_START)
        self.pacer = HeaderPacer(self.limiter, config.rate, concurrency=config.concurrency)
        self.transport_streak = 0
        self.session: aiohttp.ClientSession | None = None

    async def read(self, url: str, body: bytes, chunk: Chunk) -> dict[str, Any]:
        """One batch read with the retry ladder; the parsed 200/207 answer. Raises Unchecked when it
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
                raise Unchecked(f"HubSpot answered {outcome.status} {outcome.category} to a batch read of "
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
                    raise Unchecked(f"still throttled (429) after {throttles} tries")
                continue
            tries += 1  # Kind.RETRY
            if self.transport_streak >= max(10, 2 * self.config.concurrency) or (
                    tries >= policy.max_attempts and self.transport_streak >= tries):
                self.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
                raise asyncio.CancelledError
            if tries >= policy.max_attempts:
                raise Unchecked(f"a batch read failed {tries} times, last with "
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

    def auth_message(self, outcome: Outcome, chunk: Chunk) -> str:
        if outcome.status == 401:
            return (f"HubSpot rejected the access token (401 {outcome.category or 'INVALID_AUTHENTICATION'}); "
                    f"check the token in ${self.config.token_env}")
        scopes = " and ".join(dict.fromkeys(required_scope(t).removesuffix(".write") + ".read"
                                            for t in (chunk.from_type, chunk.to_type)))
        reported = f" (HubSpot asked for: {', '.join(outcome.scopes)})" if outcome.scopes else ""
        return (f"HubSpot refused the batch read (403 {outcome.category or 'MISSING_SCOPES'}): the app needs "
                f"{scopes}{reported}; add it to the private app or service key and rerun")
