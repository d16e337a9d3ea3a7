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
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from ..pacing.rate import Rate
from . import bodies
from .archive import add_routes as add_archive_routes
from .batch import add_routes as add_batch_routes
from .config import FakeConfig
from .names import canonical_type
from .objects import batch_read_objects
from .portal import Portal
from .read import batch_read
from .reply import DROP, Call, Endpoint, Reply
from .schema import labels, types
from .state import AssociationKey, DailyBudget, FakeStats, RollingWindow

__all__ = ["FakeConfig", "FakeHubSpot", "FakeStats", "Portal"]

_JSON = "application/json;charset=utf-8"
_FAULTS = (502, 503, 504, DROP)  # an equal mix, drawn per faulty request
_READ_LIMIT_MAX = 500  # v3 association list: default and largest page (I: the spec's default is 500)
_DEFAULT_CONFIG = FakeConfig()
_ACCOUNT = {"timeZone": "US/Eastern", "accountType": "STANDARD", "companyCurrency": "USD",
            "utcOffset": "-05:00", "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}




class FakeHubSpot:
    """The fake server. Use `async with FakeHubSpot(config) as fake:` then talk to `fake.url`."""

    def __init__(self, config: FakeConfig = _DEFAULT_CONFIG, *, clock: Callable[[], float] | None = None
                 ) -> None:
        self.config = config
        # time.monotonic is what asyncio's default loop.time() reads; tests inject a fake clock.
        self._clock = clock or time.monotonic
        self._read_delay = config.read_latency_ms / 1000.0
        self.portal = Portal(config)
        self.stats = self.portal.stats
        self.url = ""
        self._window = RollingWindow(config.rate) if config.rate else None
        self._daily = DailyBudget(config.daily, self._clock()) if config.daily else None
        self._rng = random.Random(config.seed)
        self._draws = config.fail_rate > 0 or config.lock_rate > 0 or config.latency_ms > 0
        self._bearer = f"Bearer {config.token}"
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
        return self.portal.store.all()

    # -- routing and the shared request path ------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        objects = "/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}"
        app.router.add_put(objects + "/{to_id}/{assoc_type}", self._api(self._put))
        app.router.add_get(objects, self._api(self._read))
        app.router.add_get("/account-info/v3/details", self._api(self._account_info))
        app.router.add_get("/crm/v4/associations/{from_type}/{to_type}/labels",
                           self._api(lambda request, call: labels(self.portal, request, call)))
        app.router.add_get("/crm/v3/associations/{from_type}/{to_type}/types",
                           self._api(lambda request, call: types(self.portal, request, call)))
        app.router.add_post("/crm/v3/objects/{object_type}/batch/read",
                            self._api(lambda request, call: batch_read_objects(self.portal, request, call)))
        app.router.add_post("/crm/v4/associations/{from_type}/{to_type}/batch/read",
                             self._api(lambda request, call: batch_read(self.portal, request, call)))
        add_batch_routes(app, self.portal, self._api)  # v4 batch create and labelled PUT, v4 and date paths
        add_archive_routes(app, self.portal, self._api)  # batch/archive, batch/labels/archive, DELETE
        app.router.add_get("/__fake__/stats", self._stats)
        return app

    def _api(self, inner: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap an endpoint in what every API call goes through: count, auth, limits, latency, faults."""

        async def handle(request: web.Request) -> web.StreamResponse:
            call = self._arrive(request)
            stats = self.stats
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            try:
                self._check_auth(request, call)
                self._check_limits(call)
                if request.path.startswith("/crm/v4/associations/") and request.path.endswith("/batch/read"):
                    # a read answers with the portal as it was when the read arrived: a write landing
                    # while the answer is on its way is not in it
                    early: Reply | None = None
                    try:
                        body = await inner(request, call)
                    except Reply as reply:  # a 207 (some fromIds hold nothing) is an answer too
                        early = reply
                    await asyncio.sleep(call.latency + self._read_delay)
                    self._check_faults(call)
                    if early is not None:
                        raise early
                else:
                    if call.latency:
                        await asyncio.sleep(call.latency)
                    self._check_faults(call)
                    body = await inner(request, call)
            except Reply as reply:
                if reply.status == DROP:
                    return self._drop(request)
                return self._answered(request, call, self._respond(call, reply.status, reply.body, reply.retry_after))
            finally:
                stats.in_flight -= 1
            return self._answered(request, call, self._respond(call, 200, body))

        return handle

    def _answered(self, request: web.Request, call: Call, response: web.Response) -> web.Response:
        self.stats.spans.append((request.path, call.now, self._clock()))
        return response

    def _arrive(self, request: web.Request) -> Call:
        now = self._clock()
        stats = self.stats
        stats.requests += 1
        stats.arrivals.append(now)
        if request.method == "PUT":
            stats.puts += 1
        if stats.first_write is None and (request.method == "PUT" or request.path.endswith("/batch/create")):
            stats.first_write = len(stats.arrivals) - 1
        # Drawn for every request, whatever its fate, so that request n always gets the same numbers.
        if self._draws:
            rng = self._rng.random
            fault, kind, jitter = rng(), rng(), rng()
            latency = self.config.latency_ms * (0.5 + jitter) / 1000.0
        else:
            fault = kind = 1.0
            latency = 0.0
        return Call(now, bodies.correlation_id(), fault, kind, latency)

    def _check_auth(self, request: web.Request, call: Call) -> None:
        if request.headers.get("Authorization") != self._bearer:
            raise Reply(401, bodies.auth_failure(call.cid))

    def _check_limits(self, call: Call) -> None:
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
            raise Reply(429, bodies.daily_limit(call.cid), daily.seconds_to_reset(now))
        if window is not None and window_full:
            self.stats.throttled += 1
            raise Reply(429, bodies.ten_secondly_limit(call.cid, self.config.portal_id),
                         window.retry_after(now))

    def _check_faults(self, call: Call) -> None:
        if call.fault < self.config.fail_rate:
            status = _FAULTS[int(call.kind * len(_FAULTS))]  # kind is in [0, 1)
            raise Reply(status, b"" if status == DROP else bodies.server_error(status, call.cid))
        if call.fault < self.config.fail_rate + self.config.lock_rate:
            raise Reply(423, bodies.locked(call.cid))

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without a response: the client sees a disconnect."""
        self.stats.dropped += 1
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)  # never reaches the client: the transport is closed

    def _respond(self, call: Call, status: int, body: bytes, retry_after: float | None = None
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

    async def _put(self, request: web.Request, call: Call) -> bytes:
        m = request.match_info
        from_type, to_type = canonical_type(m["from_type"]), canonical_type(m["to_type"])
        from_id, to_id, assoc_type = m["from_id"], m["to_id"], m["assoc_type"]
        portal = self.portal
        portal.check_scope(from_type, call)
        portal.check_exists(from_type, from_id, call)
        portal.check_exists(to_type, to_id, call)
        if not portal.allows(from_type, to_type, assoc_type):
            raise Reply(400, bodies.invalid_association(to_type, to_id, call.cid))
        portal.write((from_type, from_id, to_type, to_id, assoc_type))
        return bodies.object_with_association(from_id, to_type, to_id, assoc_type)

    async def _read(self, request: web.Request, call: Call) -> bytes:
        m = request.match_info
        from_type, from_id = canonical_type(m["from_type"]), m["from_id"]
        to_type = canonical_type(m["to_type"])
        self.portal.check_exists(from_type, from_id, call)
        limit = _int_query(request, "limit", _READ_LIMIT_MAX, call)
        offset = _int_query(request, "after", 0, call)
        targets, after = self.portal.store.page(from_type, from_id, to_type, offset, min(limit, _READ_LIMIT_MAX))
        data: dict[str, Any] = {"results": [{"id": tid, "type": t} for tid, t in targets]}
        if after is not None:
            link = f"{request.url.with_query(limit=str(limit), after=str(after))}"
            data["paging"] = {"next": {"after": str(after), "link": link}}
        return orjson.dumps(data)

    async def _account_info(self, request: web.Request, call: Call) -> bytes:
        return self._account

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



def _int_query(request: web.Request, name: str, default: int, call: Call) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or (name == "limit" and int(text) == 0):
        raise Reply(400, bodies.bad_request(f"Invalid value for query parameter {name}: {text!r}", call.cid))
    return int(text)
