"""Helpers for the reliability suite: the real CLI in subprocesses, the fake HubSpot, ledger reads.

Every subprocess started here has a deadline and is killed in a `finally`; every wait is a bounded loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from bulkassoc.fake.server import FakeConfig, FakeHubSpot

# A token that looks real and is easy to grep for: it must never be written anywhere by bulkassoc.
TOKEN = "pat-na1-0f3c9e2a-RELIABILITY-SECRET-5b7d"
ENV = {"HUBSPOT_ACCESS_TOKEN": TOKEN}
FAST = ("--rate", "5000/1s", "--no-progress", "--json")
PY = sys.executable

Key = tuple[str, str, str, str, str]


def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without BULKASSOC_* settings (they would change the runs), plus the token."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BULKASSOC_")}
    return {**clean, **ENV, **(extra or {})}


def write_links(path: Path, n: int, *, start: int = 10_000, to_type: str = "contacts") -> Path:
    """n distinct valid rows fromId,toType,toId,type (fromType comes from --from-type)."""
    lines = ["fromId,toType,toId,type"] + [f"{start + i},{to_type},{890_000 + start + i},1" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def keys_for(n: int, *, start: int = 10_000, from_type: str = "partner_services",
             to_type: str = "contacts") -> set[Key]:
    """The fake's canonical keys for `write_links(path, n, start=start)`."""
    return {(from_type, str(start + i), to_type, str(890_000 + start + i), "1") for i in range(n)}


def last_json(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    assert lines, "no JSON summary on stdout"
    data = orjson.loads(lines[-1])
    assert isinstance(data, dict)
    return data


def num(summary: Mapping[str, object], key: str) -> int:
    value = summary[key]
    assert isinstance(value, int), (key, value)
    return value


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert "Error:" not in text.replace("bulkassoc: error:", ""), text


# -------------------------------------------------------------------------------------- subprocesses


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float


async def start_cli(*args: str, extra_env: Mapping[str, str] | None = None,
                    prefix: Sequence[str] = ("-m", "bulkassoc"),
                    ) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PY, *prefix, *args, env=env(extra_env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def finish(proc: asyncio.subprocess.Process, timeout: float, started: float | None = None) -> Result:
    """Collect a started process's output, killing it if it outlives `timeout`."""
    started = time.monotonic() if started is None else started
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                  time.monotonic() - started)


async def arun(*args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 60,
               prefix: Sequence[str] = ("-m", "bulkassoc")) -> Result:
    """Run the CLI to the end without blocking the event loop (an in-process fake keeps answering)."""
    started = time.monotonic()
    proc = await start_cli(*args, extra_env=extra_env, prefix=prefix)
    return await finish(proc, timeout, started)


def run(*args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 60) -> Result:
    """Run the CLI to the end, blocking (only with a fake in another process)."""
    started = time.monotonic()
    proc = subprocess.Popen([PY, "-m", "bulkassoc", *args], env=env(extra_env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                  time.monotonic() - started)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str, *,
                     proc: asyncio.subprocess.Process | None = None) -> None:
    """Poll `predicate` every 5 ms for at most `timeout` seconds (and fail early if `proc` exits)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.returncode is not None:
            raise AssertionError(f"the process exited ({proc.returncode}) before: {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.005)


@contextlib.contextmanager
def fake_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`bulkassoc fake-hubspot --port 0 ARGS` in its own process; yields (url, process)."""
    proc = subprocess.Popen([PY, "-m", "bulkassoc", "fake-hubspot", "--port", "0", "--token", TOKEN, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the first line names the URL (the process flushes it at once)
        assert line.startswith("fake HubSpot listening on http://127.0.0.1:"), line
        yield line.split()[-1], proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def free_port() -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(config: FakeConfig, port: int = 0) -> AsyncIterator[FakeHubSpot]:
    """An in-process fake on a chosen port (0: any): a "restarted" HubSpot can come back where it was,
    which matters because a ledger run without the preflight is bound to the API's URL."""
    fake = FakeHubSpot(config)
    await fake.start("127.0.0.1", port)
    try:
        yield fake
    finally:
        await fake.stop()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# ------------------------------------------------------------------------------------------ ledger


def ledger_rows(path: Path) -> dict[Key, tuple[str, int]]:
    """{key: (status, attempts)} as committed (a fresh connection reads the WAL too); {} for a ledger
    whose creation never committed (no table yet)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'assoc'").fetchone()[0] == 0:
            return {}
        return {(a, b, c, d, e): (s, n) for a, b, c, d, e, s, n in conn.execute(
            "SELECT from_type, from_id, to_type, to_id, type, status, attempts FROM assoc")}
    finally:
        conn.close()


def succeeded(path: Path) -> set[Key]:
    return {k for k, (status, _) in ledger_rows(path).items() if status == "succeeded"} if path.exists() else set()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def assert_no_token(*, texts: Sequence[str] = (), files: Sequence[Path] = ()) -> None:
    """The token is nowhere: not in these texts, not in these files (nor their -wal/-shm/-journal)."""
    needle = TOKEN.encode()
    for text in texts:
        assert TOKEN not in text
    checked = 0
    for path in files:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"),
                          Path(f"{path}.lock")):
            if candidate.exists():
                assert needle not in candidate.read_bytes(), candidate
                checked += 1
    assert checked >= len(files)
