"""HTTP/1.1 keep-alive requests on asyncio's own transports: what the caller needs of HTTP, no more.

aiohttp's client spends ~100 µs of CPU per request here (URL objects, a request and a response object,
a stream reader, trace and timeout plumbing); the caller sends the same few requests to one origin
all day. `Wire` keeps a pool of keep-alive connections to that origin (TLS for https, with
`ssl.create_default_context()`: the system's trust store, hostname checked), writes each request in
one `write` (a prebuilt block of fixed headers: Host, Authorization, User-Agent, Accept) and parses
the answer itself: status line, headers, a Content-Length, chunked or read-to-close body, no body for
HEAD, 1xx (skipped), 204 and 304. No compression is asked for (gzip/deflate answers are decoded all the
same), no cookies are kept, no proxy is used (as aiohttp with its default `trust_env=False`), and no
request is ever re-sent here: a connection the server closed before its answer is a `WireError`, and
the caller decides what to retry.

The token lives only in the prebuilt header block; no message here includes a header or any byte the
server sent.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

from .http11 import Answer, ConnectError, Connection, WireError, WireTimeout

__all__ = ["Answer", "ConnectError", "Wire", "WireError", "WireTimeout"]

_SAFE = "/?=&%:@!$'()*+,;~-._"  # characters of a path and query that go out as they are
_EMPTY_PUT = frozenset(("POST", "PUT", "PATCH"))  # a body-less request of these says Content-Length: 0
# a host with IPv6 and IPv4 addresses (HubSpot's have both): try the next address after 0.25 s instead of
# waiting out a broken IPv6 route (aiohttp's default too)
HAPPY_EYEBALLS_DELAY = 0.25


class Wire:
    """Keep-alive connections to one origin (`base_url`: scheme, host, port and an optional path prefix).

    `headers` go with every request; `keep` idle connections are kept for reuse; `timeout` bounds each
    request from its start (connecting included) to its answer's last byte.
    """

    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout: float, keep: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        default_port = 443 if self.tls else 80
        self.port = parts.port or default_port
        self._ssl = (ssl_context or ssl.create_default_context()) if self.tls else None
        self._prefix = parts.path.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        host_header = host if self.port == default_port else f"{host}:{self.port}"
        fixed = {"Host": host_header, **headers}
        for name, value in fixed.items():
            if not _header_safe(name) or not _header_safe(value, space=True):  # the value is never shown
                raise ValueError(f"the {name[:40]!r} header has characters an HTTP header cannot carry"
                                 if _header_safe(name) else "a header name has characters it cannot carry")
        self._fixed = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in fixed.items())
        self.timeout = timeout
        self.keep = keep
        self._idle: list[Connection] = []
        self._open: set[Connection] = set()
        self.opened = 0  # connections opened so far (for tests and the curious)
        self._busy: set[Connection] = set()  # connections with a request on the wire
        self._sweeper: asyncio.TimerHandle | None = None
        self._tick = min(0.5, max(0.005, timeout / 20))  # how late a timeout may fire, at most

    def target(self, path: str) -> bytes:
        """The request target for `path` (starting with `/`), under the base URL's prefix."""
        target = self._prefix + path
        if not target.isascii() or " " in target or "\r" in target or "\n" in target or "#" in target:
            target = quote(target, safe=_SAFE)
        return target.encode("ascii")

    async def request(self, method: str, path: str, body: bytes | None = None, *,
                      content_type: str = "application/json",
                      on_sent: Callable[[], None] | None = None) -> Answer:
        """Send one request and return (status, headers, body). Raises `WireError` (a `WireTimeout`
        for the timeout) when no whole answer came; `on_sent` is called when the request was written."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        conn = self._take()
        if conn is None:
            conn = await self._connect(deadline)
        head = b"%s %s HTTP/1.1\r\n%s" % (method.encode("ascii"), self.target(path), self._fixed)
        if body is not None:
            head += b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (content_type.encode("latin-1"), len(body))
        elif method in _EMPTY_PUT:
            head += b"Content-Length: 0\r\n\r\n"
        else:
            head += b"\r\n"
        waiter: asyncio.Future[Answer] = loop.create_future()
        conn.begin(waiter, method == "HEAD")
        conn.deadline = deadline
        busy = self._busy
        busy.add(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_at(loop.time() + self._tick, self._sweep)
        try:
            transport = conn.transport
            assert transport is not None
            transport.write(head + body if body else head)
            if on_sent is not None:
                on_sent()
            answer = await waiter
        except BaseException:
            conn.abort()  # cancelled or failed mid-exchange: the connection's state is unknown
            self._open.discard(conn)
            raise
        finally:
            busy.discard(conn)
            conn.end()
        self._put_back(conn)
        return answer

    def _sweep(self) -> None:
        """Expire the requests past their deadline: one timer for all of them (a timer per request costs
        more than the request's own parsing), firing every `_tick` while any request is on the wire."""
        self._sweeper = None
        if not self._busy:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conn in [c for c in self._busy if c.deadline <= now]:
            conn.expire()
        self._sweeper = loop.call_at(now + self._tick, self._sweep)

    def _take(self) -> Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if not conn.closed and transport is not None and not transport.is_closing():
                return conn
            self._open.discard(conn)
        return None

    def _put_back(self, conn: Connection) -> None:
        if conn.reusable and not conn.closed and len(self._idle) < self.keep:
            self._idle.append(conn)
            return
        self._open.discard(conn)
        if conn.transport is not None and not conn.closed:
            conn.closed = True
            conn.transport.close()

    async def _connect(self, deadline: float) -> Connection:
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(Connection, self.host, self.port, ssl=self._ssl,
                                       server_hostname=self.host if self.tls else None,
                                       happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY), max(0.0, remaining))
        except asyncio.TimeoutError:
            raise WireTimeout("no answer within the timeout (connecting)") from None
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise ConnectError(f"cannot connect: {exc}") from None
        self.opened += 1
        self._open.add(conn)
        return conn

    async def close(self) -> None:
        """Close every connection (in-flight requests end with a WireError)."""
        self._idle.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        conns, self._open = self._open, set()
        for conn in conns:
            if conn.transport is not None and not conn.closed:
                conn.closed = True
                conn.transport.close()
        if conns and self.tls:
            await asyncio.sleep(0)  # let the TLS transports send their close_notify


def _header_safe(text: str, space: bool = False) -> bool:
    """Whether `text` can go in a header as it is (visible latin-1; spaces and tabs in values)."""
    for char in text:
        code = ord(char)
        if code > 255 or code == 127 or (code < 32 and not (space and code == 9)) or (code == 32 and not space):
            return False
    return bool(text) or space
