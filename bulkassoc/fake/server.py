"""A local stand-in for HubSpot's association API, faithful where a bulk client can tell the difference.

Serves the v3 association PUT and read-back, the account-info and v4 labels endpoints a preflight uses,
and `/__fake__/stats`; enforces a rolling window and a daily budget with HubSpot's headers and 429
bodies; injects 5xx, dropped connections, 423 locks and latency, deterministically for a seed.
Facts come from docs/hubspot-api.md; where HubSpot says nothing, the comment says what we chose.

Choices where HubSpot is silent:
- Auth failures (401) are not counted in the window or the daily budget: HubSpot meters per app, and a
  request without a valid token cannot be attributed to one. Everything else that reaches the API
  (403, 404, 400, 423, 5xx, dropped) was received and is counted.
- 429'd requests count only when `count_rejected` is set (HubSpot does not say either way).
- Faults happen before any processing: a dropped or 5xx'd PUT stores nothing.
- Latency is added after the auth and limit checks: 401 and 429 come back at once, as from an edge.
- Unmatched paths get aiohttp's plain 404/405 and are neither counted nor logged.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from bulkassoc.fake import bodies as bodies
from bulkassoc.fake.batch import add_routes as add_batch_routes
from bulkassoc.fake.names import HUBSPOT_DEFINED_LABELS, canonical_type
from bulkassoc.fake.read import batch_read
from bulkassoc.fake.state import AssociationKey, AssociationStore, DailyBudget, FakeStats, RollingWindow
from bulkassoc.pacing.rate import Rate

__all__ = ["FakeConfig", "FakeHubSpot", "FakeStats"]

_JSON = "application/json;charset=utf-8"
_DROP = 0  # pseudo-status: close the connection without answering
_FAULTS = (502, 503, 504, _DROP)  # an equal mix, drawn per faulty request
_READ_LIMIT_MAX = 500  # v3 association list: default and largest page (I: the spec's default is 500)
_ACCOUNT = {"timeZone": "US/Eastern", "accountType": "STANDARD", "companyCurrency": "USD",
            "utcOffset": "-05:00", "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}


_DEFAULT_RATE = Rate(100, 10.0)  # HubSpot's Free/Starter burst limit


@dataclass(frozen=True)
class FakeConfig:
    rate: Rate | None = _DEFAULT_RATE  # rolling window on requests received; None = no limit
    daily: int | None = None  # daily budget; when set, the -Daily/-Daily-Remaining headers are sent
    token: str = "fake-token"
    scopes: frozenset[str] | None = None  # object types the token may write; None = all
    known_ids: Mapping[str, frozenset[str]] | None = None  # per object type; None = every numeric ID
    association_types: Mapping[tuple[str, str], frozenset[str]] | None = None  # None = any type
    fail_rate: float = 0.0  # fraction answered 502/503/504 or dropped, an equal mix
    lock_rate: float = 0.0  # fraction answered 423 Locked
    latency_ms: float = 0.0  # mean added latency; each request waits uniformly 0.5×–1.5× this
    seed: int = 0  # faults and latency are a function of the seed and the request's arrival number
    rate_headers: bool = True  # send X-HubSpot-RateLimit-*
    retry_after: bool = False  # send Retry-After (whole seconds) on 429
    count_rejected: bool = False  # whether 429'd requests take a slot in the window / daily budget
    portal_id: int = 12345678
    drop_writes: frozenset[tuple[str, str, str, str]] = frozenset()  # answered 200 but not stored
    read_page_size: int = 100  # v4 batch read: toObjectIds per fromId per page

    def __post_init__(self) -> None:
        for name in ("fail_rate", "lock_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.fail_rate + self.lock_rate > 1.0:
            raise ValueError("fail_rate + lock_rate must not exceed 1")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.daily is not None and self.daily < 1:
            raise ValueError(f"daily must be at least 1, got {self.daily}")


class _Reply(Exception):
    """Answer the current request with `status` and `body` (raised from the checks)."""

    def __init__(self, status: int, body: bytes = b"", retry_after: float | None = None) -> None:
        self.status, self.body, self.retry_after = status, body, retry_after


@dataclass(slots=True)
class _Call:
    """One request in flight: its arrival time, correlation ID and its pre-drawn random numbers."""

    now: float
    cid: str
    fault: float
    kind: float
    latency: float


_Inner = Callable[[web.Request, _Call], Awaitable[bytes]]


class FakeHubSpot:
    """The fake server. Use `async with FakeHubSpot(config) as fake:` then talk to `fake.url`."""

    def __init__(self, config: FakeConfig = FakeConfig(), *, clock: Callable[[], float] | None = None
                 ) -> None:
        self.config = config
        # time.monotonic is what asyncio's default loop.time() reads; tests inject a fake clock.
        self._clock = clock or time.monotonic
        self.stats = FakeStats()
        self.url = ""
        self._store = AssociationStore()
        self._window = RollingWindow(config.rate) if config.rate else None
        self._daily = DailyBudget(config.daily, self._clock()) if config.daily else None
        self._rng = random.Random(config.seed)
        self._draws = config.fail_rate > 0 or config.lock_rate > 0 or config.latency_ms > 0
        self._bearer = f"Bearer {config.token}"
        self._scopes = _canon_set(config.scopes)
        self._known = None if config.known_ids is None else {
            canonical_type(t): frozenset(ids) for t, ids in config.known_ids.items()}
        self._types = None if config.association_types is None else {
            (canonical_type(f), canonical_type(t)): frozenset(ids)
            for (f, t), ids in config.association_types.items()}
        self._drop_writes = {(canonical_type(f), fid, canonical_type(t), tid)
                             for f, fid, t, tid in config.drop_writes}
        self._account = orjson.dumps({"portalId": config.portal_id, **_ACCOUNT})
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the fake HubSpot is already started")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeHubSpot:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def set_rate(self, rate: Rate) -> None:
        """Change the rolling-window limit mid-run (a portal whose tier or add-on changes)."""
        if self._window is None:
            self._window = RollingWindow(rate)
        else:
            self._window.set_rate(rate)

    def associations(self) -> set[AssociationKey]:
        """Every stored (fromType, fromId, toType, toId, type), object types canonical (`contacts`)."""
        return self._store.all()

    # -- routing and the shared request path ------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        objects = "/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}"
        app.router.add_put(objects + "/{to_id}/{assoc_type}", self._api(self._put))
        app.router.add_get(objects, self._api(self._read))
        app.router.add_get("/account-info/v3/details", self._api(self._account_info))
        app.router.add_get("/crm/v4/associations/{from_type}/{to_type}/labels", self._api(self._labels))
        app.router.add_post("/crm/v4/associations/{from_type}/{to_type}/batch/read",
                             self._api(lambda request, call: batch_read(self, request, call)))
        add_batch_routes(app, self)  # v4 batch create and labelled PUT, v4 and date paths
        app.router.add_get("/__fake__/stats", self._stats)
        return app

    def _api(self, inner: _Inner) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap an endpoint in what every API call goes through: count, auth, limits, latency, faults."""

        async def handle(request: web.Request) -> web.StreamResponse:
            call = self._arrive(request)
            try:
                self._check_auth(request, call)
                self._check_limits(call)
                if call.latency:
                    await asyncio.sleep(call.latency)
                self._check_faults(call)
                body = await inner(request, call)
            except _Reply as reply:
                if reply.status == _DROP:
                    return self._drop(request)
                return self._respond(call, reply.status, reply.body, reply.retry_after)
            return self._respond(call, 200, body)

        return handle

    def _arrive(self, request: web.Request) -> _Call:
        now = self._clock()
        stats = self.stats
        stats.requests += 1
        stats.arrivals.append(now)
        if request.method == "PUT":
            stats.puts += 1
        # Drawn for every request, whatever its fate, so that request n always gets the same numbers.
        if self._draws:
            rng = self._rng.random
            fault, kind, jitter = rng(), rng(), rng()
            latency = self.config.latency_ms * (0.5 + jitter) / 1000.0
        else:
            fault = kind = 1.0
            latency = 0.0
        return _Call(now, bodies.correlation_id(), fault, kind, latency)

    def _check_auth(self, request: web.Request, call: _Call) -> None:
        if request.headers.get("Authorization") != self._bearer:
            raise _Reply(401, bodies.auth_failure(call.cid))

    def _check_limits(self, call: _Call) -> None:
        window, daily, now = self._window, self._daily, call.now
        window_full = window is not None and not window.has_room(now)
        daily_full = daily is not None and not daily.has_room(now)
        if not (window_full or daily_full) or self.config.count_rejected:
            if window is not None:
                window.take(now)
            if daily is not None:
                daily.take()
        # The daily answer wins: it tells the client to stop, not merely to slow down.
        if daily is not None and daily_full:
            self.stats.daily_throttled += 1
            raise _Reply(429, bodies.daily_limit(call.cid), daily.seconds_to_reset(now))
        if window is not None and window_full:
            self.stats.throttled += 1
            raise _Reply(429, bodies.ten_secondly_limit(call.cid, self.config.portal_id),
                         window.retry_after(now))

    def _check_faults(self, call: _Call) -> None:
        if call.fault < self.config.fail_rate:
            status = _FAULTS[int(call.kind * len(_FAULTS))]  # kind is in [0, 1)
            raise _Reply(status, b"" if status == _DROP else bodies.server_error(status, call.cid))
        if call.fault < self.config.fail_rate + self.config.lock_rate:
            raise _Reply(423, bodies.locked(call.cid))

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without a response: the client sees a disconnect."""
        self.stats.dropped += 1
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)  # never reaches the client: the transport is closed

    def _respond(self, call: _Call, status: int, body: bytes, retry_after: float | None = None
                 ) -> web.Response:
        headers = {"Content-Type": _JSON, "X-HubSpot-Correlation-Id": call.cid}
        if self.config.rate_headers:
            self._add_rate_headers(headers, call.now)
        if status >= 400:
            self.stats.errors[status] += 1
            if status == 401:
                headers["x-hubspot-auth-failure"] = "401 Unauthorized"
            elif retry_after is not None and self.config.retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return web.Response(status=status, body=body, headers=headers)

    def _add_rate_headers(self, headers: dict[str, str], now: float) -> None:
        # No window when the rate is off, so no window headers (HubSpot omits headers it cannot fill).
        if self._window is not None:
            self._window.has_room(now)  # expire old entries so Remaining is current on uncounted calls
            headers["X-HubSpot-RateLimit-Max"] = str(self._window.limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(self._window.remaining())
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(round(self._window.period * 1000))
        if self._daily is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self._daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(self._daily.remaining())

    # -- endpoints -----------------------------------------------------------------------------

    async def _put(self, request: web.Request, call: _Call) -> bytes:
        m = request.match_info
        from_type, to_type = canonical_type(m["from_type"]), canonical_type(m["to_type"])
        from_id, to_id, assoc_type = m["from_id"], m["to_id"], m["assoc_type"]
        if self._scopes is not None and from_type not in self._scopes:
            raise _Reply(403, bodies.missing_scope(from_type, call.cid))
        self._check_exists(from_type, from_id, call)
        self._check_exists(to_type, to_id, call)
        self._check_type(from_type, to_type, to_id, assoc_type, call)
        key = (from_type, from_id, to_type, to_id, assoc_type)
        self.stats.put_counts[key] += 1
        if (from_type, from_id, to_type, to_id) not in self._drop_writes and self._store.add(key):
            self.stats.associations_stored += 1
        return bodies.object_with_association(from_id, to_type, to_id, assoc_type)

    async def _read(self, request: web.Request, call: _Call) -> bytes:
        m = request.match_info
        from_type, from_id = canonical_type(m["from_type"]), m["from_id"]
        to_type = canonical_type(m["to_type"])
        self._check_exists(from_type, from_id, call)
        limit = _int_query(request, "limit", _READ_LIMIT_MAX, call)
        offset = _int_query(request, "after", 0, call)
        targets, after = self._store.page(from_type, from_id, to_type, offset, min(limit, _READ_LIMIT_MAX))
        data: dict[str, Any] = {"results": [{"id": tid, "type": t} for tid, t in targets]}
        if after is not None:
            link = f"{request.url.with_query(limit=str(limit), after=str(after))}"
            data["paging"] = {"next": {"after": str(after), "link": link}}
        return orjson.dumps(data)

    async def _account_info(self, request: web.Request, call: _Call) -> bytes:
        return self._account

    async def _labels(self, request: web.Request, call: _Call) -> bytes:
        pair = canonical_type(request.match_info["from_type"]), canonical_type(request.match_info["to_type"])
        if self._types is None:
            labels = HUBSPOT_DEFINED_LABELS.get(pair, {})
        else:  # seeded types are listed unlabeled; names (non-numeric) have no typeId to list
            labels = {int(t): None for t in self._types.get(pair, ()) if t.isdigit()}
        return bodies.labels(labels)

    async def _stats(self, request: web.Request) -> web.Response:
        """Not a HubSpot endpoint: no auth, not counted. `?window=S` sets the busiest-window length
        (default: the rate's period, else 10 s); `?detail=1` adds the per-association PUT counts."""
        default = self.config.rate.period if self.config.rate else 10.0
        try:
            window = float(request.query.get("window", default))
        except ValueError:
            window = default
        detail = request.query.get("detail", "") not in ("", "0", "false")
        return web.Response(body=orjson.dumps(self.stats.as_json(window=window, detail=detail)),
                            content_type="application/json")

    # -- checks shared by the endpoints -------------------------------------------------------------

    def _check_exists(self, object_type: str, object_id: str, call: _Call) -> None:
        # Non-numeric IDs never exist: HubSpot record IDs are decimal digit strings.
        if not object_id.isdigit() or (
                self._known is not None and object_id not in self._known.get(object_type, ())):
            raise _Reply(404, bodies.object_not_found(object_type, object_id, call.cid))

    def _check_type(self, from_type: str, to_type: str, to_id: str, assoc_type: str, call: _Call) -> None:
        if self._types is not None and assoc_type not in self._types.get((from_type, to_type), ()):
            raise _Reply(400, bodies.invalid_association(to_type, to_id, call.cid))


def _canon_set(types: frozenset[str] | None) -> frozenset[str] | None:
    return None if types is None else frozenset(canonical_type(t) for t in types)


def _int_query(request: web.Request, name: str, default: int, call: _Call) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or (name == "limit" and int(text) == 0):
        raise _Reply(400, bodies.bad_request(f"Invalid value for query parameter {name}: {text!r}", call.cid))
    return int(text)
