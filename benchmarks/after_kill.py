"""6. Resume after kill -9: the part of a file done before the kill.

A real `bulkassoc run` of the large shuffled file (rate off, latency 0) is SIGKILLed once the fake has
counted `fraction` of its rows as PUT. The rerun (same command, a fresh fake) skips the chunks settled
before the kill by their digests, admits the few chunks that were in flight row by row, and then starts
writing the rest. It is timed at the fake, from the rerun's preflight GET (its first request) to its first
PUT (its second), and killed there: rows skipped ÷ that time, where the rows counted are those of the
chunks recorded as settled before the kill (all of them lie before the first PUT).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson

from ._bulk import RATE_OFF
from ._inputs import FROM_TYPE
from ._proc import _pin, child_env, client_cpu, fake_server
from ._table import Result, fmt_int

__all__ = ["measure_after_kill"]


def _argv(input_path: Path, ledger: Path, url: str, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "bulkassoc", "run", str(input_path), "--from-type", FROM_TYPE, "--base-url", url,
            "--rate", RATE_OFF, "--concurrency", str(concurrency), "--ledger", str(ledger), "--json", "--no-progress"]


def _puts(url: str) -> int:
    with urllib.request.urlopen(f"{url}/__fake__/stats?window=1", timeout=10) as answer:
        return int(orjson.loads(answer.read())["puts"])


def _run_until(argv: list[str], url: str, puts: int, timeout: float, every: float) -> bool:
    """Start the client; SIGKILL it once the fake has counted `puts` PUTs. False if it ended first."""
    cpu = client_cpu()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=child_env(), preexec_fn=lambda: _pin(cpu))
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if _puts(url) >= puts:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(every)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ledger_counts(ledger: Path) -> tuple[int, int, int]:
    """(rows succeeded, settled chunks, rows in them)."""
    conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        done = conn.execute("SELECT count(*) FROM assoc WHERE status = 'succeeded'").fetchone()[0]
        chunks, rows = conn.execute("SELECT count(*), coalesce(sum(rows), 0) FROM settled_chunks").fetchone()
        return int(done), int(chunks), int(rows)
    finally:
        conn.close()


def measure_after_kill(workdir: Path, input_path: Path, rows: int, concurrency: int, log: Callable[[str], None],
                       *, fraction: float = 0.2) -> Result:
    ledger = workdir / f"after-kill-{rows}.ledger.sqlite"
    setup = (f"the {fmt_int(rows)}-row file's real run (rate off) SIGKILLed after {fraction:.0%} of its rows; "
             "rerun timed at a fresh fake from its preflight GET to its first PUT")
    log(f"resume after kill -9: real run of {rows:,} rows, killed after {int(rows * fraction):,} PUTs")
    with fake_server() as server:
        killed = _run_until(_argv(input_path, ledger, server.url, concurrency), server.url, int(rows * fraction),
                            timeout=120.0 + rows / 500.0, every=0.5)
    if not killed:
        return Result("6 resume", setup, "`bulkassoc run` after kill -9", "not measured: the run ended before the kill")
    done, chunks, settled_rows = _ledger_counts(ledger)
    log(f"resume after kill -9: {done:,} rows succeeded, {chunks} chunks ({settled_rows:,} rows) settled; rerun")
    with fake_server() as server:
        _run_until(_argv(input_path, ledger, server.url, concurrency), server.url, 1, timeout=120.0, every=0.01)
    first, second = server.stats.get("first"), server.stats.get("second")
    if not isinstance(first, float) or not isinstance(second, float):
        return Result("6 resume", setup, "`bulkassoc run` after kill -9", "not measured: no write in the rerun")
    skip = second - first
    rate = settled_rows / skip if skip > 0 else 0.0
    text = (f"{fmt_int(done)} rows done before the kill, {fmt_int(settled_rows)} of them in {chunks} settled chunks; "
            f"rerun: first PUT {skip:.2f} s after its preflight GET")
    return Result("6 resume", setup, "`bulkassoc run` after kill -9, same command", text, f"{fmt_int(rate)} rows/s",
                  "", None, {"done_before": done, "settled_chunks": chunks, "settled_rows": settled_rows,
                             "skip_s": skip, "rows_per_s": rate, "after_kill": True, "server": server.stats})
