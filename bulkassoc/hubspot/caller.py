"""THE paced caller: every request bulkassoc sends to HubSpot goes through `Caller.call`.

It owns what every request shares: the session (and the token in its headers), the rolling-window
limiter, the header pacer (`--rate auto`, other clients in the window), the daily guard
(`--daily-reserve`), the streak of requests that got no answer at all ("unreachable"), the pool-wide
pause after a 429, the retries with backoff (a halt cuts every wait short), and the masking of the
token in everything that came from outside (a gateway may echo the request's headers back).

`call` returns an `Answer` (the request's final outcome, what the `judge` made of it, and how many
attempts it took), or raises `Halted` when the command stops: on a 401/403, a spent daily quota, an
unreachable API, or a halt from outside (a signal). Writes, preflight and label reads, verify's batch
reads, and every later kind of request (lookups, reads before writes, deletes) use it; no command keeps
a retry loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ..pacing.headers import AUTO_START, DailyGuard, HeaderPacer
from ..pacing.inflight import InFlight
from ..pacing.limiter import RollingWindowLimiter
from ..pacing.rate import Rate
from .client import Response, Wire, open_session, request
from .halt import Halt, Halted
from .outcomes import Kind, Outcome, RetryPolicy, backoff_delay

__all__ = ["Answer", "CallCounts", "Caller", "CallerConfig", "EventSink", "Judge", "make_mask", "pass_through"]

_V = TypeVar("_V")
Judge = Callable[[Outcome, Response | None], tuple[Outcome, _V]]
"""What an answer means for the request as a whole: (its outcome, a payload for the command)."""
EventSink = Callable[[str, dict[str, Any]], None]
"""Told what happens to requests: ("answer", {purpose, attempt, latency, status, kind}), ("throttle",
{wait, why}), ("pace", {old, new, why}). The command decides what to log or chart (see engine/watch.py)."""


@dataclass(frozen=True, slots=True)
class CallerConfig:
    """What the caller needs of a command's configuration. `token` never appears in repr()."""

    base_url: str
    token: str = dataclasses.field(repr=False)
    token_env: str  # only for messages: where the token came from
    rate: Rate | None  # None: `--rate auto`
    concurrency: int | None  # None: `--concurrency auto`, in flight = pace × latency (pacing/inflight.py)
    timeout: float
    retry: RetryPolicy
    daily_reserve: int | None
    user_agent: str


@dataclass(slots=True)
class CallCounts:
    """Requests of one purpose ("write", "check", "read", …): sent, of them resent, answered 429."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0


@dataclass(frozen=True, slots=True)
class Answer(Generic[_V]):
    outcome: Outcome  # final: SUCCESS, PERMANENT, or the last RETRY / THROTTLED / AUTH when retries ran out
    payload: _V | None  # the judge's, or None when retries ran out before an answer settled the request
    sent: int  # attempts on the wire


def pass_through(outcome: Outcome, response: Response | None) -> tuple[Outcome, Response | None]:
    """The default judge: the answer's own outcome, and the response as the payload."""
    return outcome, response


def throttle_source(response: Response | None) -> str:
    """Where a 429 pause's length came from, for the log."""
    headers = response.headers if response is not None else {}
    if "Retry-After" in headers:
        return "Retry-After"
    if "X-HubSpot-RateLimit-Interval-Milliseconds" in headers:
        return "the window in X-HubSpot-RateLimit-Interval-Milliseconds"
    return "no Retry-After or window header: 10 s"


def make_mask(token: str) -> Callable[[str], str]:
    """A function that replaces the token in text that came from outside."""
    if not token:
        return str

    def mask(text: str) -> str:
        return text.replace(token, "[token]") if token in text else text

    return mask


class Caller:
    """One command's requests to HubSpot. Use as `async with Caller(config, halt, rand=...) as caller`."""

    def __init__(self, config: CallerConfig, halt: Halt, *, rand: Callable[[], float],
                 on_event: EventSink | None = None) -> None:
        self.config = config
        self.on_event = on_event
        self.halt = halt
        self._rand = rand
        self.limiter = RollingWindowLimiter(config.rate or AUTO_START)
        self.in_flight = InFlight(config.concurrency, lambda: self.limiter.rate.per_second)
        self.pacer = HeaderPacer(self.limiter, config.rate, concurrency=self.in_flight.limit)
        self.daily = DailyGuard(config.daily_reserve)
        self.busy: set[asyncio.Task[Any]] = set()  # tasks with a request on the wire
        self.transport_streak = 0  # consecutive requests that got no HTTP answer
        self.time_zone: str | None = None  # the account's, for the daily-limit message (set by the preflight)
        self.counts: dict[str, CallCounts] = {}
        self.mask = make_mask(config.token)
        self._token_bytes = config.token.encode() if config.token else b""
        self._session: Wire | None = None

    async def __aenter__(self) -> Caller:
        c = self.config
        self._session = open_session(c.base_url, c.token, concurrency=self.in_flight.cap, timeout=c.timeout,
                                     user_agent=c.user_agent)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def count(self, purpose: str) -> CallCounts:
        counts = self.counts.get(purpose)
        if counts is None:
            counts = self.counts[purpose] = CallCounts()
        return counts

    @property
    def throttled(self) -> int:
        return sum(c.throttled for c in self.counts.values())

    # -- one request, to the end ----------------------------------------------------------------
    async def call(self, method: str, path: str, body: bytes | None, *, judge: Judge[_V], purpose: str = "write",
                   scope: str = "", forbidden_ok: bool = False) -> Answer[_V]:
        """Send one request until an answer settles it.

        Throttles pause every request of the command and are resent (up to `max_throttles`); retryable
        answers back off and are resent (up to `max_attempts`); then the last outcome is returned with no
        payload. 401, 403 (unless `forbidden_ok`: a read whose scope is optional), a spent daily quota and
        an unreachable API stop the command: `Halted`. `scope` names the scope the request needs, for the
        403 message. `judge` says what an answer means for the request as a whole (a batch answer that
        cannot be read is a RETRY, say); `pass_through` keeps the answer as it is.
        """
        policy = self.config.retry
        counts = self.count(purpose)
        tries = throttles = sent = 0
        while True:
            outcome, response = await self._send(method, path, body, counts, purpose, sent + 1)
            sent += 1
            counts.requests += 1
            counts.retries += sent > 1
            whole, payload = judge(outcome, response)
            whole = self._masked(whole)
            kind = whole.kind
            if kind is Kind.SUCCESS or kind is Kind.PERMANENT:
                return Answer(whole, payload, sent)
            if kind is Kind.AUTH:
                if forbidden_ok and whole.status == 403:
                    return Answer(whole, None, sent)
                self.halt.stop("auth", self.auth_message(whole, scope))
                raise Halted
            if kind is Kind.DAILY_LIMIT:
                self.stop_daily("HubSpot's daily request limit for this account is spent (429 DAILY)")
                raise Halted
            if kind is Kind.THROTTLED:
                throttles += 1
                if throttles >= policy.max_throttles:
                    return Answer(whole, None, sent)
                continue  # the limiter holds every request until the window has passed
            tries += 1  # Kind.RETRY
            self._give_up_if_unreachable(whole, tries)
            if tries >= policy.max_attempts:
                return Answer(whole, None, sent)
            await self.nap(max(backoff_delay(tries, self._rand(), base=policy.backoff_base, cap=policy.backoff_cap),
                               whole.wait or 0.0))

    async def _send(self, method: str, path: str, body: bytes | None, counts: CallCounts, purpose: str = "write",
                    attempt: int = 1) -> tuple[Outcome, Response | None]:
        """One attempt: an in-flight slot, then a start slot of the limiter, the daily guard, the wire.
        The in-flight slot is held from before the start slot (a start is never delayed after it was
        counted) to the answer, and never through a backoff; the task is marked busy while on the wire."""
        gate = self.in_flight
        await gate.acquire()
        try:
            return await self._attempt(method, path, body, counts, purpose, attempt)
        finally:
            gate.release()

    async def _attempt(self, method: str, path: str, body: bytes | None, counts: CallCounts, purpose: str,
                       attempt: int) -> tuple[Outcome, Response | None]:
        session = self._session
        assert session is not None, "use the caller as `async with caller:`"
        start = await self.limiter.acquire()
        if self.halt.is_set():
            raise Halted
        if not self.daily.may_start(len(self.busy)):
            self.stop_daily(f"HubSpot's daily quota is down to the reserve of {self.daily.reserve:,} requests "
                            f"(--daily-reserve) kept for the account's other integrations")
            raise Halted
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self.busy.add(task)
        started = loop.time()
        self.pacer.note_start(started)
        try:
            # the wire-time guard learns when the request left (none to learn with the guard off: rate off)
            on_sent = (lambda: start.sent(loop.time())) if self.limiter.guarded else None
            outcome, response = await request(session, method, path, body=body, on_sent=on_sent)
        finally:
            self.busy.discard(task)
        wire_time = loop.time() - started
        on_event = self.on_event
        if on_event is not None:
            on_event("answer", {"purpose": purpose, "attempt": attempt, "latency": wire_time,
                                "status": outcome.status, "kind": outcome.kind.name})
        if response is None:
            self.transport_streak += 1
        else:
            self.transport_streak = 0
            self.in_flight.observe(wire_time)
            self.pacer.set_concurrency(self.in_flight.limit)
            pace = self.limiter.rate
            self.pacer.observe(response.headers, started)
            if on_event is not None and self.limiter.rate is not pace:  # set_rate keeps an equal pace's object
                on_event("pace", {"old": pace, "new": self.limiter.rate, "advertised": self.pacer.advertised,
                                       "ceiling": self.config.rate})
            self.daily.observe(response.headers)
            response = self._masked_response(response)
        if outcome.kind is Kind.THROTTLED:
            counts.throttled += 1
            wait = 10.0 if outcome.wait is None else outcome.wait
            self.limiter.pause(wait)
            if self.on_event is not None:
                self.on_event("throttle", {"wait": wait, "why": throttle_source(response), "purpose": purpose})
        return outcome, response

    # -- waiting and stopping -------------------------------------------------------------------
    async def nap(self, seconds: float) -> None:
        """Sleep on the loop clock; a halt cuts it short (`Halted`: the work stays pending)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.halt.wait(), seconds)
        if self.halt.is_set():
            raise Halted

    def _give_up_if_unreachable(self, outcome: Outcome, tries: int) -> None:
        """Stop the command when nothing answers at all, instead of burning every request's attempts."""
        streak = self.transport_streak
        if streak >= max(10, 2 * self.in_flight.limit) or (
                tries >= self.config.retry.max_attempts and streak >= tries):
            self.halt.stop("unreachable", f"cannot reach {self.config.base_url}: {outcome.message}")
            raise Halted

    def stop_daily(self, why: str) -> None:
        zone = f" ({self.time_zone})" if self.time_zone else ""
        self.halt.stop("daily_limit", f"{why}; the quota resets at midnight in the account's time zone{zone}; "
                       "rerun then to resume")

    def auth_message(self, outcome: Outcome, scope: str) -> str:
        if outcome.status == 401:
            return (f"HubSpot rejected the access token (401 {outcome.category or 'INVALID_AUTHENTICATION'}); "
                    f"check the token in ${self.config.token_env}")
        reported = ", ".join(outcome.scopes)
        scope_text = f"the app needs the scope {scope}" if scope else "the app lacks a required scope"
        if reported and reported != scope:
            scope_text += f" (HubSpot asked for: {reported})"
        return (f"HubSpot refused the request (403 {outcome.category or 'MISSING_SCOPES'}): {scope_text}; "
                "add it to the private app or service key and rerun")

    def _masked_response(self, response: Response) -> Response:
        """The answer with the token replaced in its body and header values (a gateway may echo it anywhere)."""
        token = self.config.token
        if not token:
            return response
        if any(token in value for value in response.headers.values()):
            headers: CIMultiDict[str] = CIMultiDict()
            for name, value in response.headers.items():
                headers.add(name, self.mask(value))
            response = dataclasses.replace(response, headers=CIMultiDictProxy(headers))
        if self._token_bytes in response.body:
            response = dataclasses.replace(response, body=_mask_body(response.body, self._token_bytes, self.mask))
        return response

    def _masked(self, outcome: Outcome) -> Outcome:
        token = self.config.token
        if token and (token in outcome.message or token in outcome.category or token in outcome.correlation_id):
            mask = self.mask
            return dataclasses.replace(outcome, message=mask(outcome.message), category=mask(outcome.category),
                                       correlation_id=mask(outcome.correlation_id))
        return outcome


def _mask_body(body: bytes, token: bytes, mask: Callable[[str], str]) -> bytes:
    """The body with the token replaced. A JSON body is masked inside its strings only, so that a token
    that is also a common substring (a short test token such as "t") cannot break the JSON we parse."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.replace(token, b"[token]")
    return orjson.dumps(_mask_json(data, mask))


def _mask_json(value: object, mask: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_mask_json(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v, mask) for k, v in value.items()}  # keys are HubSpot's names, not echoes
    return value

