"""Running the contenders against a fake server, each in its own process."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._inputs import FROM_TYPE
from ._proc import Measured, run_measured

__all__ = ["RATE_OFF", "BulkRun", "ClientRun", "num", "run_bulkassoc", "run_contender", "supports", "timeout_for"]

# `bulkassoc run` always paces; "off" for the client is a limit far above anything reachable here.
RATE_OFF = "1000000/1s"


def num(data: Mapping[str, object], key: str) -> float:
    """A number from parsed JSON; 0 when missing or not a number."""
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) else 0.0


@dataclass
class BulkRun:
    summary: dict[str, object]
    proc: Measured

    def num(self, key: str) -> float:
        return num(self.summary, key)

    @property
    def rows(self) -> int:
        return int(self.num("rows"))

    @property
    def elapsed(self) -> float:
        return self.num("elapsed_s")


@dataclass
class ClientRun:
    out: dict[str, object]
    proc: Measured

    @property
    def rows(self) -> int:
        value = self.out.get("rows", 0)
        return int(value) if isinstance(value, int) else 0

    @property
    def ok(self) -> int:
        value = self.out.get("ok", 0)
        return int(value) if isinstance(value, int) else 0

    @property
    def elapsed(self) -> float:
        value = self.out.get("elapsed_s", 0.0)
        return float(value) if isinstance(value, (int, float)) else 0.0


def supports(option: str) -> bool:
    """Whether this bulkassoc's `run` has an option (e.g. `--mode`, for batch mode)."""
    proc = run_measured([sys.executable, "-m", "bulkassoc", "run", "--help"], timeout=60.0, pin=False)
    return option in proc.stdout


def timeout_for(rows: int, rows_per_s: float = 500.0) -> float:
    return 120.0 + rows / rows_per_s


def run_bulkassoc(input_path: Path, ledger: Path, url: str, *, rate: str, concurrency: int | None,
                  timeout: float, extra: Sequence[str] = ()) -> BulkRun:
    """`bulkassoc run INPUT ... --json` (the real CLI, ledger on, no progress line); `concurrency`
    None leaves the option out: the default (`auto`)."""
    option = [] if concurrency is None else ["--concurrency", str(concurrency)]
    argv = [sys.executable, "-m", "bulkassoc", "run", str(input_path), "--from-type", FROM_TYPE,
            "--base-url", url, "--rate", rate, *option, "--ledger", str(ledger), "--json", "--no-progress", *extra]
    proc = run_measured(argv, timeout=timeout)
    return BulkRun(proc.json(), proc)


def run_contender(kind: str, input_path: Path, url: str, *, concurrency: int = 8, threads: int = 16,
                  timeout: float) -> ClientRun:
    """The raw aiohttp loop (`raw`) or the SDK with a thread pool (`sdk`); see benchmarks._contenders."""
    argv = [sys.executable, "-m", "benchmarks._contenders", kind, "--url", url, "--input", str(input_path),
            "--from-type", FROM_TYPE, "--concurrency", str(concurrency), "--threads", str(threads)]
    proc = run_measured(argv, timeout=timeout)
    return ClientRun(proc.json(), proc)
