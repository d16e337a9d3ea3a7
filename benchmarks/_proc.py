"""Processes: the fake server on one CPU, the measured client on the other, with the client's rusage.

Every contender runs as a child process of the orchestrator, and every child is reaped with
`os.wait4`, which returns that child's own resource usage (peak RSS, CPU time) — unlike
`RUSAGE_CHILDREN`, which only keeps the largest peak over all children reaped so far.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["SERVER_CPU", "Measured", "Server", "client_cpu", "fake_server", "run_measured", "sink_server"]

TOKEN = "bench-token"
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
# With two CPUs or more: the server on one, the measured client on another, for every contender alike.
SERVER_CPU: int | None = _CPUS[0] if len(_CPUS) >= 2 else None
_CLIENT_CPU: int | None = _CPUS[1] if len(_CPUS) >= 2 else None


def client_cpu() -> int | None:
    return _CLIENT_CPU


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: ours, with the benchmark token and this source tree importable."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["HUBSPOT_ACCESS_TOKEN"] = TOKEN
    env.pop("BULKASSOC_RATE", None)  # the benchmark sets every option it relies on explicitly
    env.pop("BULKASSOC_CONCURRENCY", None)
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    stats: dict[str, object]


@contextlib.contextmanager
def fake_server(*, rate: str = "off", latency_ms: float = 0.0, seed: int = 0, fail_rate: float = 0.0,
                lock_rate: float = 0.0, timeout: float = 30.0) -> Iterator[Server]:
    """A fake HubSpot in its own process (pinned to SERVER_CPU); `.stats` is filled in on exit."""
    argv = [sys.executable, "-m", "benchmarks._server", "--rate", rate, "--latency-ms", str(latency_ms),
            "--token", TOKEN, "--seed", str(seed),
            "--fail-rate", str(fail_rate), "--lock-rate", str(lock_rate)]
    with _serving(argv, timeout) as server:
        yield server


@contextlib.contextmanager
def sink_server(timeout: float = 30.0) -> Iterator[Server]:
    """The bare HTTP sink (benchmarks._sink: fixed `200 {}` answers) in its own process on SERVER_CPU."""
    with _serving([sys.executable, "-m", "benchmarks._sink"], timeout) as server:
        yield server


@contextlib.contextmanager
def _serving(argv: list[str], timeout: float) -> Iterator[Server]:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(),
                            preexec_fn=lambda: _pin(SERVER_CPU))
    assert proc.stdout is not None and proc.stdin is not None
    try:
        first = proc.stdout.readline().decode()
        prefix = "fake HubSpot listening on "
        if not first.startswith(prefix):
            raise RuntimeError(f"the fake server did not start: {first!r}")
        server = Server(first[len(prefix):].strip(), {})
        yield server
        out, _ = proc.communicate(timeout=timeout)  # closes stdin: the server stops and reports
        server.stats = orjson.loads(out.decode().strip().splitlines()[-1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class Measured:
    """One finished client process."""

    returncode: int
    wall_s: float
    max_rss_kib: int  # peak resident set size (Linux reports ru_maxrss in KiB)
    cpu_s: float  # user + system CPU time of the process (all its threads)
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        """The last stdout line, parsed (the contenders and `bulkassoc run --json` end with one)."""
        lines = self.stdout.strip().splitlines()
        if self.returncode not in (0, 1) or not lines:
            raise RuntimeError(f"client exited {self.returncode}: {self.stderr.strip()[-2000:]}")
        value = orjson.loads(lines[-1])
        if not isinstance(value, dict):
            raise RuntimeError(f"client printed {lines[-1]!r}")
        return value


def run_measured(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
                 pin: bool = True) -> Measured:
    """Run a client process to the end (killed after `timeout` s) and return its own rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cpu = client_cpu() if pin else None
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env or child_env(), preexec_fn=lambda: _pin(cpu))
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))
