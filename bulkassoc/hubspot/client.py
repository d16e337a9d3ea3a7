"""One HTTP request in, one `Outcome` out, over the keep-alive connections of `wire.py`.

The token lives only in the session's fixed headers; nothing here formats a header, a request or
an exception that could carry it into a message.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .outcomes import Outcome, classify_response, classify_transport_error
from .wire import ConnectError, Wire, WireError, WireTimeout

__all__ = ["Response", "Wire", "open_session", "request"]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]


def open_session(base_url: str, token: str, *, concurrency: int, timeout: float, user_agent: str,
                 ssl_context: ssl.SSLContext | None = None) -> Wire:
    """One session per run: keep-alive connections to `base_url`, as many kept idle as may be in flight."""
    headers = {"Authorization": f"Bearer {token}", "User-Agent": user_agent, "Accept": "application/json"}
    return Wire(base_url, headers, timeout=timeout, keep=concurrency + 2, ssl_context=ssl_context)


async def request(
    session: Wire, method: str, path: str, *, body: bytes | None = None,
    on_sent: Callable[[], None] | None = None,
) -> tuple[Outcome, Response | None]:
    """Send one request to `path` (under the session's base URL); classify the answer. Never raises for
    network trouble. `on_sent` is called when the request went out (after a new connection was opened,
    say). No request is re-sent here: every re-send is the caller's, paced and counted."""
    try:
        status, headers, payload = await session.request(method, path, body, on_sent=on_sent)
    except WireTimeout as exc:
        return classify_transport_error("TIMEOUT", str(exc)), None
    except (ConnectError, WireError) as exc:  # our own text: never a header, never the server's bytes
        return classify_transport_error("CONNECTION_ERROR", str(exc)), None
    except OSError as exc:  # a socket error on a live connection
        return classify_transport_error("CONNECTION_ERROR", type(exc).__name__), None
    return classify_response(status, payload, headers), Response(status, payload, headers)
