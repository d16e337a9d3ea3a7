"""The keep-alive HTTP/1.1 transport (hubspot/wire.py) against real servers on 127.0.0.1: an aiohttp
server (plain and TLS with a certificate made here) and scripted asyncio servers for what aiohttp would
never send (split answers, interim 1xx, bodies that end with the connection, garbage)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
import trustme
from aiohttp import web

from bulkassoc.hubspot.client import open_session, request
from bulkassoc.hubspot.outcomes import Kind
from bulkassoc.hubspot.wire import ConnectError, Wire, WireError, WireTimeout

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "User-Agent": "bulkassoc/test", "Accept": "application/json"}

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# -- servers ------------------------------------------------------------------------------------
async def echo(request: web.Request) -> web.StreamResponse:
    """What the request was, as JSON; /big/N answers N bytes; /chunked streams three chunks."""
    body = await request.read()
    if request.path.startswith("/big/"):
        size = int(request.path.rsplit("/", 1)[1])
        return web.Response(body=bytes(i % 251 for i in range(size)))
    if request.path == "/chunked":
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three" * 10_000):
            await response.write(part)
        await response.write_eof()
        return response
    return web.json_response({"method": request.method, "path": request.path_qs, "body": body.decode(),
                              "auth": request.headers.get("Authorization"), "host": request.headers.get("Host"),
                              "type": request.headers.get("Content-Type"),
                              "length": request.headers.get("Content-Length"),
                              "agent": request.headers.get("User-Agent"),
                              "encoding": request.headers.get("Accept-Encoding")})


async def serve_app(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"


@pytest.fixture
async def app_url() -> AsyncIterator[str]:
    runner, url = await serve_app()
    yield url
    await runner.cleanup()


class Scripted:
    """A raw TCP server: `handler(reader, writer)` per connection; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests = 0

    async def __aenter__(self) -> str:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":")[1]))
        return head


def answering(*answers: bytes, pieces: int = 1, close_after: bool = False) -> Callable[[Scripted], Handler]:
    """A handler answering each request on a connection with the next answer (the last one repeats),
    written in `pieces` separate writes; `close_after`: close the connection after each answer."""
    def make(server: Scripted) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            n = 0
            while True:
                await server.read_request(reader)
                answer = answers[min(n, len(answers) - 1)]
                n += 1
                step = max(1, -(-len(answer) // pieces))
                for at in range(0, len(answer), step):
                    writer.write(answer[at:at + step])
                    await writer.drain()
                    if pieces > 1:
                        await asyncio.sleep(0.001)
                if close_after:
                    return
        return handler
    return make


async def scripted_request(make: Callable[[Scripted], Handler], *paths: str, method: str = "GET",
                           timeout: float = 5.0) -> tuple[list[tuple[int, dict[str, str], bytes]], Scripted, Wire]:
    server = Scripted(lambda r, w: asyncio.sleep(0))
    server.handler = make(server)
    async with server as url:
        wire = Wire(url, HEADERS, timeout=timeout, keep=4)
        try:
            out = []
            for path in paths:
                status, headers, body = await wire.request(method, path)
                out.append((status, dict(headers), body))
        finally:
            await wire.close()
    return out, server, wire


# -- against aiohttp's server -------------------------------------------------------------------
async def test_requests_reuse_one_connection_and_carry_the_fixed_headers(app_url: str) -> None:
    wire = Wire(app_url, HEADERS, timeout=5.0, keep=4)
    try:
        for n in range(20):
            status, headers, body = await wire.request("PUT", f"/crm/v3/x/{n}?a=1", b'{"n": %d}' % n)
            assert status == 200 and headers["Content-Type"].startswith("application/json")
            seen = orjson.loads(body)
            assert seen == {"method": "PUT", "path": f"/crm/v3/x/{n}?a=1", "body": f'{{"n": {n}}}',
                            "auth": f"Bearer {TOKEN}", "host": app_url.split("//")[1], "type": "application/json",
                            "length": str(len(f'{{"n": {n}}}')), "agent": "bulkassoc/test", "encoding": None}
        status, _, body = await wire.request("PUT", "/empty")
        assert status == 200 and orjson.loads(body)["length"] == "0"  # a body-less PUT says Content-Length: 0
        assert wire.opened == 1
    finally:
        await wire.close()


async def test_concurrent_requests_get_their_own_answers(app_url: str) -> None:
    wire = Wire(app_url, HEADERS, timeout=5.0, keep=8)
    try:
        for _ in range(3):
            answers = await asyncio.gather(*(wire.request("GET", f"/n/{i}") for i in range(8)))
            assert [orjson.loads(body)["path"] for _, _, body in answers] == [f"/n/{i}" for i in range(8)]
        assert wire.opened == 8  # eight at once, then the same eight again
    finally:
        await wire.close()


async def test_large_and_chunked_answers_arrive_whole(app_url: str) -> None:
    wire = Wire(app_url, HEADERS, timeout=10.0, keep=2)
    try:
        size = 5_000_000
        status, _, body = await wire.request("GET", f"/big/{size}")
        assert status == 200 and body == bytes(i % 251 for i in range(size))
        status, headers, body = await wire.request("GET", "/chunked")
        assert headers.get("Transfer-Encoding") == "chunked"
        assert body == b"one,two," + b"three" * 10_000
        status, _, body = await wire.request("GET", "/after")  # the same connection still works
        assert orjson.loads(body)["path"] == "/after" and wire.opened == 1
    finally:
        await wire.close()


async def test_a_path_prefix_in_the_base_url_and_odd_characters_are_sent_quoted(app_url: str) -> None:
    wire = Wire(app_url + "/proxy/", HEADERS, timeout=5.0, keep=1)
    try:
        _, _, body = await wire.request("GET", "/a b/é")
        assert orjson.loads(body)["path"] == "/proxy/a%20b/%C3%A9"
    finally:
        await wire.close()


async def test_tls_with_a_trusted_certificate_keeps_alive_and_an_untrusted_one_is_refused() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    runner, url = await serve_app(server_ctx)
    try:
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        wire = open_session(url, TOKEN, concurrency=2, timeout=5.0, user_agent="t", ssl_context=client_ctx)
        try:
            for n in range(5):
                outcome, response = await request(wire, "PUT", f"/tls/{n}", body=b"{}")
                assert outcome.kind is Kind.SUCCESS and response is not None and b"/tls/%d" % n in response.body
            assert wire.opened == 1
        finally:
            await wire.close()
        untrusted = open_session(url, TOKEN, concurrency=2, timeout=5.0, user_agent="t")  # the system's trust store
        try:
            outcome, response = await request(untrusted, "GET", "/x")
        finally:
            await untrusted.close()
        assert response is None and outcome.kind is Kind.RETRY and outcome.category == "CONNECTION_ERROR"
        assert "certificate verify failed" in outcome.message.lower() and TOKEN not in outcome.message
    finally:
        await runner.cleanup()


# -- against scripted servers -------------------------------------------------------------------
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


async def test_an_answer_split_into_many_pieces_is_put_together() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    out, server, wire = await scripted_request(answering(answer, pieces=len(answer)), "/a", "/b")
    assert [(s, b) for s, _, b in out] == [(200, b"hello world")] * 2
    assert out[0][1]["X-A"] == "1" and (server.connections, wire.opened) == (1, 1)


async def test_interim_and_bodyless_answers() -> None:
    answers = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + OK,
               b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",  # 204 has no body, whatever it says
               b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
               OK)
    out, server, _ = await scripted_request(answering(*answers), "/1", "/2", "/3", "/4")
    assert [(s, b) for s, _, b in out] == [(200, b"{}"), (204, b""), (304, b""), (200, b"{}")]
    assert server.connections == 1


async def test_head_answers_have_no_body() -> None:
    out, server, _ = await scripted_request(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
                                            "/1", "/2", method="HEAD")
    assert [(s, b) for s, _, b in out] == [(200, b"")] * 2 and server.connections == 1


async def test_connection_close_and_bodies_that_end_with_the_connection() -> None:
    answers = (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
               b"HTTP/1.0 200 OK\r\n\r\nto the end")
    out, server, _ = await scripted_request(answering(*answers, close_after=True), "/1", "/2")
    assert [(s, b) for s, _, b in out] == [(200, b"ok"), (200, b"ok")]
    out, server, _ = await scripted_request(answering(answers[1], close_after=True), "/1", "/2")
    assert [(s, b) for s, _, b in out] == [(200, b"to the end")] * 2 and server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    server2 = Scripted(lambda r, w: asyncio.sleep(0))
    server2.handler = answering(OK, close_after=True)(server2)
    async with server2 as url:
        wire = Wire(url, HEADERS, timeout=5.0, keep=4)
        try:
            for _ in range(3):
                assert (await wire.request("GET", "/x"))[0] == 200
                for _ in range(100):  # the server's FIN reaches us (bounded)
                    if not wire._idle or wire._idle[0].closed:
                        break
                    await asyncio.sleep(0.005)
            assert (server2.connections, server2.requests, wire.opened) == (3, 3, 3)
        finally:
            await wire.close()


async def test_a_connection_closed_before_the_answer_is_an_error_and_never_resent() -> None:
    def make(server: Scripted) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")  # then gone
        return handler
    server = Scripted(lambda r, w: asyncio.sleep(0))
    server.handler = make(server)
    async with server as url:
        wire = open_session(url, TOKEN, concurrency=2, timeout=5.0, user_agent="t")
        try:
            outcome, response = await request(wire, "PUT", "/x", body=b"{}")
            assert response is None and (outcome.kind, outcome.category) == (Kind.RETRY, "CONNECTION_ERROR")
            assert "closed the connection" in outcome.message
            outcome, _ = await request(wire, "PUT", "/x", body=b"{}")  # the next request: a new connection
        finally:
            await wire.close()
    assert (server.requests, server.connections) == (2, 2)


async def test_no_answer_within_the_timeout() -> None:
    def make(server: Scripted) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            await reader.read()  # never answers; returns when the client gives up
        return handler
    server = Scripted(lambda r, w: asyncio.sleep(0))
    server.handler = make(server)
    async with server as url:
        wire = open_session(url, TOKEN, concurrency=2, timeout=0.2, user_agent="t")
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            outcome, response = await request(wire, "GET", "/slow")
            waited = loop.time() - started
            assert response is None and (outcome.kind, outcome.category) == (Kind.RETRY, "TIMEOUT")
            assert 0.2 <= waited < 1.0
            with pytest.raises(WireTimeout):
                await wire.request("GET", "/slow")
            assert wire.opened == 2 and not wire._idle  # a timed-out connection is never reused
        finally:
            await wire.close()


async def test_cancelling_a_request_drops_its_connection() -> None:
    def make(server: Scripted) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            await reader.read()
        return handler
    server = Scripted(lambda r, w: asyncio.sleep(0))
    server.handler = make(server)
    async with server as url:
        wire = Wire(url, HEADERS, timeout=5.0, keep=2)
        try:
            task = asyncio.ensure_future(wire.request("GET", "/x"))
            for _ in range(200):
                if server.requests:
                    break
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not wire._idle and not wire._busy
        finally:
            await wire.close()


@pytest.mark.parametrize("answer", [
    b"SPDY/3 200 OK\r\n\r\n",
    b"HTTP/1.1 2x0 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Echo: Bearer " + TOKEN.encode() + b"\r\n" + b"X: " + b"y" * 70_000,
], ids=["not-http", "bad-status", "bad-header", "bad-length", "bad-chunk", "switch", "endless-head"])
async def test_garbage_is_an_error_that_never_shows_the_token(answer: bytes) -> None:
    server = Scripted(lambda r, w: asyncio.sleep(0))
    server.handler = answering(answer)(server)
    async with server as url:
        wire = open_session(url, TOKEN, concurrency=2, timeout=5.0, user_agent="t")
        try:
            outcome, response = await request(wire, "GET", "/x")
        finally:
            await wire.close()
    assert response is None and outcome.category == "CONNECTION_ERROR"
    assert TOKEN not in outcome.message and "Bearer" not in outcome.message


async def test_compressed_answers_are_decoded() -> None:
    packed = gzip.compress(b'{"ok": true}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    out, _, _ = await scripted_request(answering(answer), "/x")
    assert out[0][2] == b'{"ok": true}'


async def test_refused_connection_and_unsendable_headers() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    wire = open_session(f"http://127.0.0.1:{port}", TOKEN, concurrency=1, timeout=5.0, user_agent="t")
    try:
        with pytest.raises(ConnectError, match="cannot connect"):
            await wire.request("GET", "/x")
        outcome, _ = await request(wire, "GET", "/x")
        assert outcome.category == "CONNECTION_ERROR" and TOKEN not in outcome.message
    finally:
        await wire.close()
    with pytest.raises(ValueError, match="'Authorization' header") as caught:
        open_session("http://127.0.0.1:1", TOKEN + "\r\nX-Evil: 1", concurrency=1, timeout=1.0, user_agent="t")
    assert TOKEN not in str(caught.value)
    assert issubclass(WireTimeout, WireError) and issubclass(ConnectError, WireError)


async def test_on_sent_is_called_once_per_request_when_it_has_left(app_url: str) -> None:
    wire = Wire(app_url, HEADERS, timeout=5.0, keep=2)
    calls: list[int] = []  # connections open when the request was reported sent
    try:
        for _ in range(3):
            await wire.request("PUT", "/x", b"{}", on_sent=lambda: calls.append(wire.opened))
    finally:
        await wire.close()
    assert calls == [1, 1, 1]  # the first after its connection was opened, each exactly once


async def test_a_connection_closed_right_after_it_opened_fails_at_once() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = Scripted(hang_up)
    async with server as url:
        wire = Wire(url, HEADERS, timeout=30.0, keep=2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            for _ in range(3):
                with pytest.raises(WireError, match="closed the connection"):
                    await wire.request("GET", "/x")
        finally:
            await wire.close()
        assert loop.time() - started < 5.0  # never the 30 s timeout


async def test_a_ca_named_in_ssl_cert_file_is_trusted_by_the_default_context(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a user behind a TLS-inspecting proxy does: SSL_CERT_FILE names the CA (no code change)."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    runner, url = await serve_app(server_ctx)
    try:
        wire = open_session(url, TOKEN, concurrency=1, timeout=5.0, user_agent="t")
        try:
            outcome, response = await request(wire, "GET", "/ok")
        finally:
            await wire.close()
        assert outcome.kind is Kind.SUCCESS and response is not None
    finally:
        await runner.cleanup()


async def test_a_host_name_with_several_addresses_reaches_the_one_that_listens(app_url: str) -> None:
    port = app_url.rsplit(":", 1)[1]
    wire = Wire(f"http://localhost:{port}", HEADERS, timeout=5.0, keep=1)  # ::1 (if any) refuses, 127.0.0.1 answers
    try:
        status, _, body = await wire.request("GET", "/named")
    finally:
        await wire.close()
    assert status == 200 and orjson.loads(body)["host"] == f"localhost:{port}"
