"""Shared test helpers: a scripted HTTP server on 127.0.0.1 that records every request, and
small builders for input files. Fakes live at the HTTP boundary; nothing here mocks our code."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

TOKEN = "test-token-SECRET-7f3a"


class Clock:
    """A clock for the fake HubSpot's window accounting, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answer:
    """One answer of the fake, read whole."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: object = field(default_factory=lambda: {"id": "1", "properties": {}, "archived": False})
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    at: float
    method: str
    path: str
    auth: str
    body: bytes = b""


Script = Callable[[int, web.Request], Reply]


class ScriptedServer:
    """Answers request number n (0-based, in arrival order) with script(n, request)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        n = len(self.seen)
        self.seen.append(Seen(asyncio.get_running_loop().time(), request.method, request.path,
                              request.headers.get("Authorization", ""), await request.read()))
        reply = self.script(n, request)
        if reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        body = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
        return web.Response(status=reply.status, body=body, headers={"Content-Type": "application/json",
                                                                      **reply.headers})

    async def __aenter__(self) -> ScriptedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def puts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "PUT"]


async def wait_for_requests(server: ScriptedServer, n: int, *, timeout: float = 10.0) -> None:
    """Wait (bounded) until the server has seen `n` requests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(server.seen) < n:
        assert loop.time() < deadline, f"the server saw {len(server.seen)} requests, not {n}, within {timeout} s"
        await asyncio.sleep(0.01)


def write_csv(path: Path, rows: Iterable[Iterable[object]],
              header: tuple[str, ...] = ("fromId", "toType", "toId", "type")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, objects: Iterable[Mapping[str, object]]) -> Path:
    with path.open("wb") as fh:
        for obj in objects:
            fh.write(orjson.dumps(obj) + b"\n")
    return path


def simple_rows(n: int, *, start: int = 1000, to_type: str = "contacts", type_id: str = "1") -> list[list[str]]:
    return [[str(start + i), to_type, str(500000 + i), type_id] for i in range(n)]


def cli(*args: str, env: Mapping[str, str] | None = None, input_bytes: bytes | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (as a user would)."""
    full_env = {**os.environ, "BULKASSOC_DEBUG": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bulkassoc", *args], capture_output=True, timeout=timeout, env=full_env,
        input=input_bytes.decode() if input_bytes is not None else None, text=True,
        stdin=None if input_bytes is not None else subprocess.DEVNULL,
    )


async def acli(*args: str, env: Mapping[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Like `cli`, without blocking the event loop (so an in-process fake keeps answering)."""
    full_env = {**os.environ, "BULKASSOC_DEBUG": "", **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bulkassoc", *args, env=full_env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())
