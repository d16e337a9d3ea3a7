"""1. Engine ceiling: a bare HTTP sink (benchmarks/_sink.py) with no limit and no latency, so the client's
own cost is what shows (the aiohttp fake would be the bottleneck: it needs more CPU per request than the
clients do).

Three contenders, each with a fresh sink in its own process (on its own CPU when there are two):
`bulkassoc run` (ledger on), the minimal raw aiohttp loop at the same concurrency (the upper bound any
aiohttp client can reach against this server), and the official SDK from a ThreadPoolExecutor.
rows/s is rows ÷ the contender's own elapsed time (bulkassoc: its summary's `elapsed_s`, which covers
reading, ledger and sending; the others: from opening the input to the last answer).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ._bulk import RATE_OFF, BulkRun, ClientRun, num, run_bulkassoc, run_contender, timeout_for
from ._inputs import write_csv
from ._options import Options
from ._proc import sink_server
from ._table import Result, fmt_int

__all__ = ["measure_ceiling", "sdk_available"]

SECTION = "1 ceiling"


def sdk_available() -> bool:
    try:
        return importlib.util.find_spec("hubspot") is not None
    except (ImportError, ValueError):
        return False


@dataclass
class Attempt:
    """One run of one contender."""

    rows: int
    ok: int
    elapsed_s: float
    client_cpu_s: float
    server: dict[str, object]

    @property
    def rate(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_per_row_us(self) -> float:
        return self.client_cpu_s / self.rows * 1e6 if self.rows else 0.0

    def text(self) -> str:
        busy = num(self.server, "cpu_s") / self.elapsed_s if self.elapsed_s > 0 else 0.0
        text = (f"{fmt_int(self.rate)} rows/s; client CPU {self.cpu_per_row_us:.0f} µs/row; "
                f"server CPU busy {min(1.0, busy):.0%}")
        if self.ok != self.rows:
            text += f"; only {fmt_int(self.ok)} of {fmt_int(self.rows)} answered 2xx"
        return text


def _min_cpu(attempts: list[Attempt]) -> float:
    return min(a.cpu_per_row_us for a in attempts)


def _best(attempts: list[Attempt]) -> tuple[Attempt, dict[str, object]]:
    """The fastest attempt (others on the machine only ever slow a run down), and all of them as data."""
    best = max(attempts, key=lambda a: a.rate)
    return best, {"rows_per_s": best.rate, "rows": best.rows, "ok": best.ok,
                  "cpu_per_row_us": _min_cpu(attempts),
                  "attempts": [asdict(a) | {"rows_per_s": a.rate} for a in attempts]}


def measure_ceiling(opts: Options, workdir: Path, log: Callable[[str], None]) -> list[Result]:
    rows = opts.rows
    sdk_rows = opts.sdk_rows if opts.sdk_rows is not None else rows
    repeat = max(1, opts.repeat)
    setup = (f"bare HTTP sink (fixed 200s); rate off; {fmt_int(rows)} rows; concurrency {opts.concurrency}; "
             + (f"best of {repeat} runs each, interleaved" if repeat > 1 else "one run each"))
    input_path = write_csv(workdir / f"ceiling-{rows}.csv", rows)
    sdk_name = f"hubspot-api-client, ThreadPoolExecutor({opts.sdk_threads})"
    sdk_skip = ("skipped (--no-sdk)" if not opts.sdk else
                "" if sdk_available() else "skipped: hubspot-api-client is not installed (pip install -e '.[bench]')")
    sdk_input = input_path if sdk_rows == rows or sdk_skip else write_csv(workdir / f"ceiling-sdk-{sdk_rows}.csv",
                                                                            sdk_rows)
    raws: list[Attempt] = []
    bulks: list[Attempt] = []
    sdks: list[Attempt] = []
    for n in range(1, repeat + 1):
        log(f"ceiling {n}/{repeat}: raw aiohttp loop, {rows:,} rows")
        with sink_server() as server:
            raw: ClientRun = run_contender("raw", input_path, server.url, concurrency=opts.concurrency,
                                           timeout=timeout_for(rows))
        raws.append(Attempt(raw.rows, raw.ok, raw.elapsed, raw.proc.cpu_s, server.stats))

        log(f"ceiling {n}/{repeat}: bulkassoc run, {rows:,} rows")
        with sink_server() as server:
            bulk: BulkRun = run_bulkassoc(input_path, workdir / f"ceiling-{n}.ledger.sqlite", server.url,
                                          rate=RATE_OFF, concurrency=opts.concurrency, timeout=timeout_for(rows))
        bulks.append(Attempt(bulk.rows, int(bulk.num("succeeded")), bulk.elapsed, bulk.proc.cpu_s, server.stats))

        if not sdk_skip:
            log(f"ceiling {n}/{repeat}: SDK with {opts.sdk_threads} threads, {sdk_rows:,} rows")
            with sink_server() as server:
                sdk = run_contender("sdk", sdk_input, server.url, threads=opts.sdk_threads,
                                    timeout=timeout_for(sdk_rows, 100.0))
            sdks.append(Attempt(sdk.rows, sdk.ok, sdk.elapsed, sdk.proc.cpu_s, server.stats))

    results: list[Result] = []
    raw_best, raw_data = _best(raws)
    results.append(Result(SECTION, setup, "raw aiohttp loop", raw_best.text(), "1.00", "", None,
                          raw_data))
    bulk_best, bulk_data = _best(bulks)
    vs_raw = bulk_best.rate / raw_best.rate if raw_best.rate else 0.0
    cpu_vs_raw = _min_cpu(raws) / _min_cpu(bulks) if _min_cpu(bulks) else 0.0
    bulk_data["vs_raw"] = vs_raw
    results.append(Result(SECTION, setup, "`bulkassoc run` (ledger on)", bulk_best.text(),
                          f"{vs_raw:.2f} × raw (CPU/row: raw's is {cpu_vs_raw:.2f} × ours)", "≥ 0.8 × raw",
                          vs_raw >= 0.8, bulk_data))
    if sdk_skip:
        results.append(Result(SECTION, setup, sdk_name, sdk_skip, "", "bulkassoc ≥ 9 × SDK", None))
        return results
    sdk_best, sdk_data = _best(sdks)
    text = sdk_best.text() + (f" ({fmt_int(sdk_rows)} rows)" if sdk_rows != rows else "")
    vs_sdk = bulk_best.rate / sdk_best.rate if sdk_best.rate else 0.0
    sdk_data["bulkassoc_vs_sdk"] = vs_sdk
    results.append(Result(SECTION, setup, sdk_name, text, f"bulkassoc = {vs_sdk:.1f} × SDK", "bulkassoc ≥ 9 × SDK",
                          vs_sdk >= 9.0, sdk_data))
    return results
