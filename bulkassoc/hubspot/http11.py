"""One HTTP/1.1 keep-alive connection as an `asyncio.Protocol`: it parses the answer to the one request
on it (status line, headers, a Content-Length, chunked or read-to-close body; no body for HEAD, 204 and
304; interim 1xx answers skipped) and hands it to the waiting request. `wire.py` keeps the pool.

No message here includes a header or any byte the server sent.
"""

from __future__ import annotations

import asyncio
import zlib

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["MAX_HEAD", "Answer", "ConnectError", "Connection", "WireError", "WireTimeout"]

MAX_HEAD = 64 * 1024  # a status line and headers longer than this are not an HTTP answer we can use
_NO_BODY = frozenset((204, 304))


class WireError(Exception):
    """A request that got no usable HTTP answer. The text is ours: never a header, never the server's bytes."""


class WireTimeout(WireError):
    """No whole answer within the timeout (connecting included)."""


class ConnectError(WireError):
    """The connection could not be opened (DNS, refused, TLS)."""


Answer = tuple[int, "CIMultiDictProxy[str]", bytes]


class Connection(asyncio.Protocol):
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
        if self.closed:  # lost between being opened (or picked) and this request: fail now, not at the timeout
            waiter.set_exception(WireError("the server closed the connection before its answer was complete"))

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
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

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
