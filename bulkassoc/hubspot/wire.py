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
import zlib
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["Wire", "WireError", "WireTimeout"]

MAX_HEAD = 64 * 1024  # a status line and headers longer than this are not an HTTP answer we can use
_SAFE = "/?=&%:@!$'()*+,;~-._"  # characters of a path and query that go out as they are
_NO_BODY = frozenset((204, 304))
_EMPTY_PUT = frozenset(("POST", "PUT", "PATCH"))  # a body-less request of these says Content-Length: 0


class WireError(Exception):
    """A request that got no usable HTTP answer. The text is ours: never a header, never the server's bytes."""


class WireTimeout(WireError):
    """No whole answer within the timeout (connecting included)."""


class ConnectError(WireError):
    """The connection could not be opened (DNS, refused, TLS)."""


Answer = tuple[int, "CIMultiDictProxy[str]", bytes]


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self._waiter: asyncio.Future[Answer] | None = None
        self._buffer = bytearray()
        self._head_only = False
        self._status = 0
        self._headers: CIMultiDictProxy[str] | None = None
        self._length = -1  # body bytes still expected; -1: not known yet (head pending), -2: chunked, -3: to close
        self._parts: list[bytes] = []
        self.deadline = 0.0  # loop time by which the answer must be in

    # -- asyncio callbacks ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._length == -3 and self._headers is not None:  # a body that ends with the connection
            self._finish(b"".join(self._parts), False)
        else:
            waiter.set_exception(WireError("the server closed the connection before its answer was complete"))

    def eof_received(self) -> bool:
        return False  # the server is done: close our side too (connection_lost follows)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes nobody asked for: this connection cannot be trusted
            self.abort()
            return
        try:
            self._feed(data)
        except WireError as exc:
            self.abort()
            if not waiter.done():
                waiter.set_exception(exc)

    # -- one exchange ---------------------------------------------------------------------------
    def begin(self, waiter: asyncio.Future[Answer], head_only: bool) -> None:
        self._waiter = waiter
        self._head_only = head_only
        self._status = 0
        self._headers = None
        self._length = -1
        self._parts = []
        self.reusable = False

    def end(self) -> None:
        self._waiter = None

    def expire(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(WireTimeout("no answer within the timeout"))
        self.abort()

    def abort(self) -> None:
        self.reusable = False
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- parsing --------------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        """Take the next bytes of the answer. The usual answer comes whole in one piece and is parsed
        straight from it; only a head split across pieces and chunked bodies are buffered."""
        while True:
            length = self._length
            if length == -1:  # the head
                if self._buffer:
                    self._buffer += data
                    data = bytes(self._buffer)
                    self._buffer.clear()
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    if len(data) > MAX_HEAD:
                        raise WireError("the answer's headers are too long")
                    self._buffer += data
                    return
                whole = self._read_head(data[:end])
                data = data[end + 4:]
                if not whole:
                    continue  # an interim 1xx answer: the real one follows
                length = self._length
            if length >= 0:  # a known number of body bytes still to come
                if len(data) < length:
                    self._parts.append(data)
                    self._length = length - len(data)
                    return
                parts = self._parts
                parts.append(data[:length] if len(data) > length else data)
                self._finish(parts[0] if len(parts) == 1 else b"".join(parts), len(data) > length)
                return
            if length == -2:  # chunked
                self._buffer += data
                if self._read_chunks():
                    self._finish(b"".join(self._parts), bool(self._buffer))
                return
            self._parts.append(data)  # -3: up to the connection's end
            return

    def _read_head(self, head: bytes) -> bool:
        """Take a status line and headers; False for an interim (1xx) answer."""
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0]
        try:
            status = int(status_line[9:12])
        except ValueError:
            raise WireError("the server's answer is not HTTP") from None
        if (status_line[:7] != "HTTP/1." or status_line[8:9] != " " or status_line[12:13] not in ("", " ")
                or not 100 <= status <= 599):
            raise WireError("the server's answer is not HTTP/1.x")
        if status < 200:
            if status == 101:
                raise WireError("the server switched protocols")
            return False
        pairs: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                if line[:1] in (" ", "\t") and pairs:  # an obsolete folded line continues the last value
                    pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]} {line.strip()}")
                    continue
                raise WireError("the server's answer has a malformed header line")
            pairs.append((name.strip(), value.strip()))
        headers = CIMultiDictProxy(CIMultiDict(pairs))
        self._status = status
        self._headers = headers
        keep = status_line[7] != "0"  # HTTP/1.0 closes unless it says keep-alive
        connection = headers.get("Connection")
        if connection is not None:
            tokens = connection.lower()
            keep = "close" not in tokens and (keep or "keep-alive" in tokens)
        self.reusable = keep
        if self._head_only or status in _NO_BODY:
            self._length = 0
        elif (coding := headers.get("Transfer-Encoding")) is not None and "chunked" in coding.lower():
            self._length = -2
        elif (length := headers.get("Content-Length")) is not None:
            if not length.isdigit():
                raise WireError("the server's answer has an invalid Content-Length")
            self._length = int(length)
        else:
            self._length = -3
            self.reusable = False
        return True

    def _read_chunks(self) -> bool:
        """Take what is whole of a chunked body; True when its last chunk and trailers are in."""
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > MAX_HEAD:
                    raise WireError("a chunk size line is too long")
                return False
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError("the server's chunked answer is malformed") from None
            if size < 0:
                raise WireError("the server's chunked answer is malformed")
            if size == 0:  # the last chunk; trailers (ignored) up to an empty line
                if buffer[line_end + 2:line_end + 4] == b"\r\n":
                    del buffer[:line_end + 4]
                    return True
                end = buffer.find(b"\r\n\r\n", line_end)
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise WireError("the answer's trailers are too long")
                    return False
                del buffer[:end + 4]
                return True
            stop = line_end + 2 + size
            if len(buffer) < stop + 2:
                return False
            if buffer[stop:stop + 2] != b"\r\n":
                raise WireError("the server's chunked answer is malformed")
            self._parts.append(bytes(buffer[line_end + 2:stop]))
            del buffer[:stop + 2]

    def _finish(self, body: bytes, extra: bool) -> None:
        """Hand the answer over; `extra`: bytes came past its end (nothing more on this connection can be
        trusted)."""
        waiter = self._waiter
        headers = self._headers
        assert waiter is not None and headers is not None
        self._length = -1
        self._parts = []
        if extra:
            self.reusable = False
            self._buffer.clear()
        encoding = headers.get("Content-Encoding")
        if encoding is not None and body:
            try:
                body = _decode(encoding.lower(), body)
            except zlib.error:
                waiter.set_exception(WireError("the server's compressed answer cannot be decoded"))
                return
        waiter.set_result((self._status, headers, body))


def _decode(encoding: str, body: bytes) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    return body  # identity, or an encoding we did not ask for: as it came


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
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self.opened = 0  # connections opened so far (for tests and the curious)
        self._busy: set[_Connection] = set()  # connections with a request on the wire
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

    def _take(self) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            transport = conn.transport
            if not conn.closed and transport is not None and not transport.is_closing():
                return conn
            self._open.discard(conn)
        return None

    def _put_back(self, conn: _Connection) -> None:
        if conn.reusable and not conn.closed and len(self._idle) < self.keep:
            self._idle.append(conn)
            return
        self._open.discard(conn)
        if conn.transport is not None and not conn.closed:
            conn.closed = True
            conn.transport.close()

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        remaining = deadline - loop.time()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Connection, self.host, self.port, ssl=self._ssl,
                                       server_hostname=self.host if self.tls else None), max(0.0, remaining))
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
