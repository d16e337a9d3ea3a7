"""2. Limit utilisation and 3. latency: `bulkassoc run` against a fake that enforces a rolling window.

The achieved rate is measured on the server: requests received (the preflight GET included, since it
counts against the limit too) over the time from the first arrival to the last. It is compared with the
limit N/D; 429s and the busiest rolling window come from the server as well.

Time scaling: a rolling window of N per D seconds at latency L needs about N/D × L requests in flight
(Little's law). Dividing D by k multiplies the rate by k, so L must be divided by k too, or the run needs
k times the concurrency that the real limit needs and says nothing about the default. The HubSpot line
therefore scales both: 190/10s at ~150–300 ms becomes 190/1s at ~15–30 ms. The sweep keeps the real
latency at a lower limit and shows the concurrency a limit needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bulkassoc import Rate, parse_rate

from ._bulk import BulkRun, num, run_bulkassoc, supports, timeout_for
from ._inputs import write_csv
from ._options import Options
from ._proc import fake_server
from ._table import Result

__all__ = ["measure_latency", "measure_utilisation"]

SECTION = "3 latency"


@dataclass
class Paced:
    run: BulkRun
    stats: dict[str, object]
    limit: int
    period: float

    def stat(self, key: str) -> float:
        return num(self.stats, key)

    @property
    def achieved(self) -> float:
        """Requests per second the server received, first arrival to last."""
        span = self.stat("last") - self.stat("first")
        return (self.stat("requests") - 1) / span if span > 0 else 0.0

    @property
    def ratio(self) -> float:
        return self.achieved / (self.limit / self.period)

    @property
    def throttled(self) -> int:
        return int(self.stat("throttled"))

    @property
    def windows(self) -> float:
        return (self.stat("last") - self.stat("first")) / self.period

    def text(self) -> str:
        return (f"{self.achieved:,.1f} req/s over {self.windows:.0f} windows; "
                f"{self.throttled} × 429; busiest window {int(self.stat('max_in_window'))}/{self.limit}")

    def data(self) -> dict[str, object]:
        return {"achieved_per_s": self.achieved, "ratio": self.ratio, "throttled": self.throttled,
                "windows": self.windows, "summary": self.run.summary, "server": self.stats}

    def ok(self) -> bool:
        return (self.ratio >= 0.97 and self.throttled == 0 and self.run.num("succeeded") == self.run.rows
                and self.stat("max_in_window") <= self.limit)


def paced_run(workdir: Path, name: str, *, rate: str, latency_ms: float, rows: int, concurrency: int,
              batch_size: int = 0, client_rate: str | None = None) -> Paced:
    """`bulkassoc run` against a fake enforcing `rate`; batch mode when `batch_size` is set; the client
    runs at `client_rate` (e.g. `auto`) when given, else at the fake's own rate."""
    parsed = parse_rate(rate)
    input_path = write_csv(workdir / f"{name}.csv", rows)
    requests = rows / batch_size if batch_size else rows
    extra = ["--mode", "batch", "--batch-size", str(batch_size)] if batch_size else []
    with fake_server(rate=rate, latency_ms=latency_ms) as server:
        run = run_bulkassoc(input_path, workdir / f"{name}.ledger.sqlite", server.url, rate=client_rate or rate,
                            concurrency=concurrency, timeout=timeout_for(0) + requests / parsed.per_second * 2,
                            extra=extra)
    return Paced(run, server.stats, parsed.limit, parsed.period)


def measure_utilisation(opts: Options, log: Callable[[str], None], workdir: Path) -> list[Result]:
    rate = parse_rate(opts.util_rate)
    rows = rate.limit * (opts.windows + 1)
    log(f"utilisation: fake {rate}, {rows:,} rows")
    paced = paced_run(workdir, "utilisation", rate=str(rate), latency_ms=0.0, rows=rows,
                      concurrency=opts.default_concurrency)
    setup = f"fake: rolling window {rate} (time-scaled), latency 0; {rows:,} rows"
    results = [Result("2 utilisation", setup, f"`bulkassoc run --rate {rate}`", paced.text(),
                      f"{paced.ratio:.3f} of limit", "≥ 0.97, 0 × 429", paced.ok(), paced.data())]
    # --rate auto: the client is told nothing and learns the limit from the fake's headers
    scaled = opts.scaled_hubspot_rate
    lat = opts.latency_ms / opts.time_scale
    rows = scaled.limit * (opts.windows + 1)
    log(f"utilisation: --rate auto against a fake advertising {scaled}, {rows:,} rows")
    auto = paced_run(workdir, "auto", rate=str(scaled), latency_ms=lat, rows=rows,
                     concurrency=opts.default_concurrency, client_rate="auto")
    setup = (f"fake advertising {scaled} in X-HubSpot-RateLimit-* (HubSpot {opts.hubspot_rate}, time "
             f"×{opts.time_scale:g}), latency {lat * 0.5:g}–{lat * 1.5:g} ms; {rows:,} rows")
    results.append(Result("2 utilisation", setup, "`bulkassoc run --rate auto`", auto.text(),
                          f"{auto.ratio:.3f} of advertised", "≥ 0.97, 0 × 429", auto.ok(), auto.data()))
    return results


def measure_latency(opts: Options, log: Callable[[str], None], workdir: Path) -> list[Result]:
    results: list[Result] = []
    scaled = opts.scaled_hubspot_rate
    lat = opts.latency_ms / opts.time_scale
    rows = scaled.limit * (opts.windows + 1)
    log(f"latency: fake {scaled} at ~{lat:g} ms, {rows:,} rows, concurrency {opts.default_concurrency}")
    paced = paced_run(workdir, "hubspot-scaled", rate=str(scaled), latency_ms=lat, rows=rows,
                      concurrency=opts.default_concurrency)
    setup = (f"HubSpot {opts.hubspot_rate} at {opts.latency_ms * 0.5:g}–{opts.latency_ms * 1.5:g} ms, "
             f"time ×{opts.time_scale:g}: fake {scaled}, latency {lat * 0.5:g}–{lat * 1.5:g} ms; {rows:,} rows")
    results.append(Result(SECTION, setup, f"`bulkassoc run --rate {scaled}`, default concurrency "
                          f"{opts.default_concurrency}", paced.text(), f"{paced.ratio:.3f} of limit",
                          "≥ 0.97, 0 × 429", paced.ok(), paced.data()))

    results.append(_batch_line(opts, log, workdir))

    rate = parse_rate(opts.sweep_rate)
    mean_s = opts.latency_ms / 1000
    needed = rate.per_second * mean_s
    setup = (f"fake {rate} at real latency {opts.latency_ms * 0.5:g}–{opts.latency_ms * 1.5:g} ms: needs "
             f"≈ {needed:.1f} in flight (limit/s × mean latency)")
    for concurrency in opts.sweep:
        expected = min(rate.per_second, concurrency / mean_s)
        rows = math.ceil(expected * opts.sweep_windows * rate.period) + 1
        log(f"latency sweep: fake {rate} at ~{opts.latency_ms:g} ms, concurrency {concurrency}, {rows:,} rows")
        paced = paced_run(workdir, f"sweep-{concurrency}", rate=str(rate), latency_ms=opts.latency_ms, rows=rows,
                          concurrency=concurrency)
        results.append(Result(SECTION, setup, f"concurrency {concurrency}", paced.text(),
                              f"{paced.ratio:.2f} of limit", "", None, paced.data()))
    return results


def _batch_line(opts: Options, log: Callable[[str], None], workdir: Path) -> Result:
    hubspot = parse_rate(opts.hubspot_rate)
    rate = Rate(hubspot.limit, hubspot.period / opts.batch_scale)
    lat = opts.latency_ms / opts.batch_scale
    rows = rate.limit * (opts.batch_windows + 1) * opts.batch_size
    setup = (f"HubSpot {opts.hubspot_rate}, time ×{opts.batch_scale:g}: fake {rate}, latency "
             f"{lat * 0.5:g}–{lat * 1.5:g} ms; {rows:,} rows")
    name = f"`--mode batch --batch-size {opts.batch_size}`, default concurrency {opts.default_concurrency}"
    if not supports("--mode"):
        return Result(SECTION, setup, name, "skipped: this bulkassoc has no batch mode", "", "", None)
    log(f"latency: batch mode, fake {rate} at ~{lat:g} ms, {rows:,} rows")
    paced = paced_run(workdir, "batch", rate=str(rate), latency_ms=lat, rows=rows,
                      concurrency=opts.default_concurrency, batch_size=opts.batch_size)
    span = paced.stat("last") - paced.stat("first")
    rows_per_s = paced.run.num("succeeded") / span if span > 0 else 0.0
    data = paced.data() | {"rows_per_s": rows_per_s, "batch_size": opts.batch_size}
    return Result(SECTION, setup, name, f"{paced.text()}; {rows_per_s:,.0f} rows/s",
                  f"{paced.ratio:.3f} of limit", "≥ 0.97, 0 × 429", paced.ok(), data)
