"""One HTTP request in, one `Outcome` out. The only module that touches aiohttp's client.

The token lives only in the session's default headers; nothing here formats a header, a
request or an aiohttp exception that could carry it into a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp

from .outcomes import Outcome, classify_response, classify_transport_error

__all__ = ["Response", "open_session", "request"]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]


def open_session(token: str, *, concurrency: int, timeout: float, user_agent: str,
                 report_sent: bool = True) -> aiohttp.ClientSession:
    """One session per run: keep-alive pool sized to the requests in flight. `report_sent`: call each
    request's `on_sent` when its headers went out (a trace hook; it costs a little CPU per request)."""
    connector = aiohttp.TCPConnector(limit=concurrency + 2, limit_per_host=concurrency + 2)
    traces = []
    if report_sent:
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_headers_sent)
        traces.append(trace)
    session = aiohttp.ClientSession(
        connector=connector,
        trace_configs=traces or None,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent, "Accept": "application/json"},
        raise_for_status=False,
    )
    # aiohttp silently re-sends an idempotent request once when a reused connection drops. That
    # second request would bypass the limiter and the attempt count, so every re-send is ours.
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


async def _headers_sent(session: aiohttp.ClientSession, context: SimpleNamespace, params: Any) -> None:
    on_sent = context.trace_request_ctx
    if on_sent is not None:
        on_sent()


async def request(
    session: aiohttp.ClientSession, method: str, url: str, *, body: bytes | None = None,
    on_sent: Callable[[], None] | None = None,
) -> tuple[Outcome, Response | None]:
    """Send one request; classify the answer. Never raises for network trouble. `on_sent` is called
    when the request's headers went out (after a new connection was opened, say)."""
    headers = {"Content-Type": "application/json"} if body is not None else None
    try:
        async with session.request(method, url, data=body, headers=headers, trace_request_ctx=on_sent) as resp:
            payload = await resp.read()
            response = Response(resp.status, payload, resp.headers)
    except asyncio.TimeoutError:
        return classify_transport_error("TIMEOUT", "no answer within the timeout"), None
    except aiohttp.ClientConnectorError as exc:
        # str(exc) names host:port and the OS error, never headers
        return classify_transport_error("CONNECTION_ERROR", f"cannot connect: {exc.os_error}"), None
    except (aiohttp.ClientError, OSError) as exc:
        return classify_transport_error("CONNECTION_ERROR", type(exc).__name__), None
    return classify_response(response.status, response.body, response.headers), response
