"""A bare HTTP sink: `python -m benchmarks._sink`. Every request is answered `200 {}` at once.

An `asyncio.Protocol` that splits HTTP/1.1 keep-alive requests by their header block and Content-Length
and writes one fixed response per request: no routing, no JSON, no state. It costs a small fraction of
what the aiohttp fake does per request, so the ceiling measures the client, not the server. A fixed
`{}` is enough for `bulkassoc run`: the preflight learns nothing from it (and checks nothing), a 200 to
a PUT is a success. Protocol as `benchmarks._server`: prints `fake HubSpot listening on URL`, serves
until its stdin is closed, then prints one JSON line of statistics.
"""

from __future__ import annotations

import asyncio
import resource
import sys

import orjson

from ._stop import serve_until_stopped

__all__ = ["Sink", "main"]

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            b"Connection: keep-alive\r\n\r\n{}")


class Sink(asyncio.Protocol):
    requests = 0
    first: float | None = None
    last: float | None = None

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        answered = 0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17: stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            buffer = buffer[total:]
            answered += 1
        self._buffer = buffer
        if answered and self._transport is not None:
            self._transport.write(RESPONSE * answered)
            now = asyncio.get_running_loop().time()
            cls = type(self)
            cls.requests += answered
            cls.first = now if cls.first is None else cls.first
            cls.last = now


async def _serve() -> dict[str, object]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await serve_until_stopped(f"http://127.0.0.1:{port}")
    finally:
        server.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"requests": Sink.requests, "puts": Sink.requests, "first": Sink.first, "last": Sink.last,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def main() -> None:
    data = asyncio.run(_serve())
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
