"""3. Latency: HubSpot's 190/10s at real latencies from 100 ms to 2.5 s, and 4. the window in batch mode.

Every cell is a real `bulkassoc run` against a fake enforcing a time-scaled 190/10s, at the default
settings (`--concurrency auto`), once with clean answers and once with 2% 5xx/dropped + 0.5% 423 answers;
beside each, the same run with a fixed `--concurrency 8`. Time scaling (see limits.py) divides the
window and the latency by the same k, so the requests a run needs in flight (limit/s × latency) are
those of the real limit at the real latency. Batch mode is scaled less (its rows per second grow with k).

The window line repeats a batch-mode run against a 20/1s window at 100 ms: the busiest rolling window
the server saw must never exceed 20, and no request may be answered 429.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from bulkassoc import Rate, parse_rate

from ._options import Options
from ._table import Result
from .limits import Paced, paced_run

__all__ = ["measure_latency", "measure_window"]

SECTION = "3 latency"


def _cell(opts: Options, workdir: Path, log: Callable[[str], None], *, latency_ms: float, batch: bool,
          faults: bool, concurrency: int | None) -> Paced:
    hubspot = parse_rate(opts.hubspot_rate)
    scale = opts.batch_scale if batch else opts.time_scale
    rate = Rate(hubspot.limit, hubspot.period / scale)
    lat = latency_ms / scale
    windows = opts.batch_windows if batch else opts.windows
    per_s = rate.per_second if concurrency is None else min(rate.per_second, concurrency / (lat / 1000))
    requests = math.ceil(per_s * windows * rate.period) + 1
    size = opts.batch_size if batch else 0
    rows = requests * size if batch else requests
    name = (f"{'batch' if batch else 'single'}-{latency_ms:g}ms-{'faults' if faults else 'clean'}-"
            f"{concurrency or 'auto'}")
    log(f"latency: {name}: fake {rate} at ~{lat:g} ms, {rows:,} rows")
    return paced_run(workdir, name, rate=str(rate), latency_ms=lat, rows=rows, concurrency=concurrency,
                     batch_size=size, fail_rate=opts.fail_rate if faults else 0.0,
                     lock_rate=opts.lock_rate if faults else 0.0,
                     extra_args=() if opts.batch_read_first or not batch else ("--no-read-first",))


def measure_latency(opts: Options, log: Callable[[str], None], workdir: Path) -> list[Result]:
    results: list[Result] = []
    fixed = opts.compare_concurrency
    for batch in (mode == "batch" for mode in ("single", "batch") if mode in opts.modes):
        scale = opts.batch_scale if batch else opts.time_scale
        hubspot = parse_rate(opts.hubspot_rate)
        rate = Rate(hubspot.limit, hubspot.period / scale)
        mode = f"batch mode ({opts.batch_size} rows/request)" if batch else "single mode"
        for faults in (a == "faults" for a in ("clean", "faults") if a in opts.answers
                       and (opts.with_faults or a == "clean")):
            answers = (f"{opts.fail_rate:.1%} 5xx/dropped + {opts.lock_rate:.1%} 423" if faults
                       else "clean answers")
            goal = opts.fault_goal if faults else 0.97
            setup = f"{mode}; HubSpot {opts.hubspot_rate}, time ×{scale:g}: fake {rate}; {answers}"
            for latency_ms in opts.latencies_ms:
                auto = _cell(opts, workdir, log, latency_ms=latency_ms, batch=batch, faults=faults, concurrency=None)
                eight = _cell(opts, workdir, log, latency_ms=latency_ms, batch=batch, faults=faults,
                              concurrency=fixed) if opts.compare else None
                lat = latency_ms / scale
                needs = rate.per_second * lat / 1000
                contender = (f"{latency_ms:g} ms real ({lat * 0.5:g}–{lat * 1.5:g} ms scaled; needs ≈ {needs:.1f} "
                             "in flight): default `--concurrency auto`")
                text = auto.text() + ("" if eight is None else f" — with `--concurrency {fixed}`: "
                                      f"{eight.ratio:.2f} of limit, {eight.throttled} × 429")
                data = auto.data() | {"fixed": None if eight is None else eight.data(),
                                      "fixed_ratio": None if eight is None else eight.ratio,
                                      "latency_ms": latency_ms, "batch": batch, "faults": faults}
                beside = "" if eight is None else f" (fixed {fixed}: {eight.ratio:.2f})"
                results.append(Result(SECTION, setup, contender, text, f"{auto.ratio:.3f}{beside}",
                                      f"≥ {goal:g}, 0 × 429", auto.ok(goal), data))
    return results


def measure_window(opts: Options, log: Callable[[str], None], workdir: Path) -> list[Result]:
    rate = parse_rate(opts.window_rate)
    lat = opts.window_latency_ms
    requests = rate.limit * (opts.window_windows + 1)
    rows = requests * opts.batch_size
    runs: list[Paced] = []
    for n in range(1, opts.window_repeats + 1):
        log(f"window: batch mode against {rate} at ~{lat:g} ms, run {n}/{opts.window_repeats}, {rows:,} rows")
        runs.append(paced_run(workdir, f"window-{n}", rate=str(rate), latency_ms=lat, rows=rows, concurrency=None,
                              batch_size=opts.batch_size))
    throttled = sum(r.throttled for r in runs)
    busiest = max(r.busiest for r in runs)
    setup = (f"batch mode ({opts.batch_size} rows/request), fake {rate} at {lat * 0.5:g}–{lat * 1.5:g} ms; "
             f"{rows:,} rows; {opts.window_repeats} runs")
    text = "; ".join(f"{r.ratio:.3f} of limit, {r.throttled} × 429, busiest {r.busiest}" for r in runs)
    ok = throttled == 0 and busiest <= rate.limit and all(r.settled() for r in runs)
    return [Result("4 window", setup, "`bulkassoc run --mode batch`, defaults", text,
                   f"{throttled} × 429; busiest window {busiest}/{rate.limit}", f"0 × 429, busiest ≤ {rate.limit}",
                   ok, {"runs": [r.data() for r in runs]})]
