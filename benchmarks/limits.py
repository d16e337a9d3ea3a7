"""2. Limit utilisation: `bulkassoc run` against a fake that enforces a rolling window (3. latency: sweep.py).

The achieved rate is measured on the server: requests received (reads included, since they count against
the limit too) from the 1st percentile of the arrivals, or the first write when it came later, to the 99th
percentile (benchmarks/_server.py). It is compared with the limit N/D; the whole run's rate (start-up and
tail included) is shown beside it; 429s and the busiest rolling window come from the server as well (over all).

Time scaling: a rolling window of N per D seconds at latency L needs about N/D × L requests in flight
(Little's law). Dividing D by k multiplies the rate by k, so L must be divided by k too, or the run needs
k times the concurrency that the real limit needs and says nothing about the default. The HubSpot line
therefore scales both: 190/10s at ~150–300 ms becomes 190/1s at ~15–30 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bulkassoc import parse_rate

from ._bulk import BulkRun, num, run_bulkassoc, timeout_for
from ._inputs import write_csv
from ._options import Options
from ._proc import fake_server
from ._table import Result

__all__ = ["Paced", "measure_utilisation", "paced_run"]

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
        """Requests per second the server received over the sustained span: a run's start (the reads before
        its first write, each a full latency) and its last rows (waiting out a backoff alone) say nothing
        about the pace of a run of hours."""
        span = self.stat("steady_last") - self.stat("steady_first")
        return (self.stat("steady_count") - 1) / span if span > 0 else 0.0

    @property
    def ratio(self) -> float:
        return self.achieved / (self.limit / self.period)

    @property
    def whole_ratio(self) -> float:
        """The same over the whole run, first arrival to last: what a run as short as the benchmark's gets."""
        span = self.stat("last") - self.stat("first")
        return (self.stat("requests") - 1) / span / (self.limit / self.period) if span > 0 else 0.0

    @property
    def throttled(self) -> int:
        return int(self.stat("throttled"))

    @property
    def windows(self) -> float:
        return (self.stat("last") - self.stat("first")) / self.period

    @property
    def busiest(self) -> int:
        return int(self.stat("max_in_window"))

    def text(self) -> str:
        return (f"{self.achieved:,.1f} req/s over {self.windows:.0f} windows (whole run, start-up included: "
                f"{self.whole_ratio:.3f} of limit); {self.throttled} × 429; busiest window {self.busiest}/{self.limit}")

    def data(self) -> dict[str, object]:
        return {"achieved_per_s": self.achieved, "ratio": self.ratio, "whole_ratio": self.whole_ratio,
                "throttled": self.throttled,
                "windows": self.windows, "summary": self.run.summary, "server": self.stats}

    def settled(self) -> bool:
        """Every row was settled (succeeded; with injected faults, a row may fail after its attempts)."""
        return self.run.num("succeeded") + self.run.num("failed") == self.run.rows

    def ok(self, goal: float = 0.97) -> bool:
        return (self.ratio >= goal and self.throttled == 0 and self.settled()
                and self.stat("max_in_window") <= self.limit)


def paced_run(workdir: Path, name: str, *, rate: str, latency_ms: float, rows: int, concurrency: int | None,
              batch_size: int = 0, client_rate: str | None = None, fail_rate: float = 0.0,
              lock_rate: float = 0.0, extra_args: tuple[str, ...] = ()) -> Paced:
    """`bulkassoc run` against a fake enforcing `rate`; batch mode when `batch_size` is set; the client
    runs at `client_rate` (e.g. `auto`) when given, else at the fake's own rate; `concurrency` None is
    the default (`auto`)."""
    parsed = parse_rate(rate)
    input_path = write_csv(workdir / f"{name}.csv", rows)
    requests = rows / batch_size if batch_size else rows
    extra = ["--mode", "batch", "--batch-size", str(batch_size)] if batch_size else []
    extra += extra_args
    with fake_server(rate=rate, latency_ms=latency_ms, fail_rate=fail_rate, lock_rate=lock_rate) as server:
        run = run_bulkassoc(input_path, workdir / f"{name}.ledger.sqlite", server.url, rate=client_rate or rate,
                            concurrency=concurrency, timeout=timeout_for(0) + requests / parsed.per_second * 3,
                            extra=extra)
    return Paced(run, server.stats, parsed.limit, parsed.period)


def measure_utilisation(opts: Options, log: Callable[[str], None], workdir: Path) -> list[Result]:
    rate = parse_rate(opts.util_rate)
    rows = rate.limit * (opts.windows + 1)
    log(f"utilisation: fake {rate}, {rows:,} rows")
    paced = paced_run(workdir, "utilisation", rate=str(rate), latency_ms=0.0, rows=rows,
                      concurrency=None)
    setup = f"fake: rolling window {rate} (time-scaled), latency 0; {rows:,} rows"
    results = [Result("2 utilisation", setup, f"`bulkassoc run --rate {rate}`", paced.text(),
                      f"{paced.ratio:.3f} of limit", "≥ 0.97, 0 × 429", paced.ok(), paced.data())]
    # --rate auto: the client is told nothing and learns the limit from the fake's headers
    scaled = opts.scaled_hubspot_rate
    lat = opts.latency_ms / opts.time_scale
    rows = scaled.limit * (opts.windows + 1)
    log(f"utilisation: --rate auto against a fake advertising {scaled}, {rows:,} rows")
    auto = paced_run(workdir, "auto", rate=str(scaled), latency_ms=lat, rows=rows,
                     concurrency=None, client_rate="auto")
    setup = (f"fake advertising {scaled} in X-HubSpot-RateLimit-* (HubSpot {opts.hubspot_rate}, time "
             f"×{opts.time_scale:g}), latency {lat * 0.5:g}–{lat * 1.5:g} ms; {rows:,} rows")
    results.append(Result("2 utilisation", setup, "`bulkassoc run --rate auto`", auto.text(),
                          f"{auto.ratio:.3f} of advertised", "≥ 0.97, 0 × 429", auto.ok(), auto.data()))
    return results
