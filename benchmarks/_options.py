"""What to measure, and how big: the full run's defaults, `--quick`, and the smoke test's tiny sizes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bulkassoc import Rate, parse_rate

__all__ = ["Options", "quick", "smoke"]


@dataclass(frozen=True)
class Options:
    # 1. engine ceiling: rate off, latency 0
    rows: int = 50_000
    sdk_rows: int | None = 10_000  # None: the same as `rows` (the SDK is slow: fewer rows, same rate)
    concurrency: int = 8  # bulkassoc and the raw loop
    sdk_threads: int = 16
    sdk: bool = True  # False: skip the SDK line (it is also skipped when hubspot-api-client is missing)
    repeat: int = 3  # each contender runs this often, interleaved; the best run counts
    # 2. limit utilisation at a time-scaled rolling window, latency 0
    util_rate: str = "50/1s"
    windows: int = 12  # each paced run lasts at least this many windows
    # 3. latency: HubSpot's limit at real latencies, time-scaled by `time_scale` (single mode) and
    # `batch_scale` (batch mode: scaling the window also multiplies the rows per second the client must
    # read, record and encode), default settings, clean and with faults; beside each a fixed concurrency
    hubspot_rate: str = "190/10s"
    latency_ms: float = 225.0  # `--rate auto` utilisation: the fake's mean (each request 0.5×–1.5× of it)
    latencies_ms: tuple[float, ...] = (100.0, 500.0, 1000.0, 2500.0)
    time_scale: float = 10.0
    batch_scale: float = 2.5
    batch_size: int = 100
    # batch mode reads what exists before it writes (its default since read-before-write landed): the
    # cells run with it, as a user does; False measures the writes alone (`--no-read-first`)
    batch_read_first: bool = True
    modes: tuple[str, ...] = ("single", "batch")  # which rows of the sweep to run
    answers: tuple[str, ...] = ("clean", "faults")
    compare: bool = True  # False: skip the fixed `--concurrency` cell beside each
    batch_windows: int = 5
    compare_concurrency: int = 8
    fail_rate: float = 0.02  # 502/503/504/dropped, an equal mix
    lock_rate: float = 0.005  # 423 Locked
    fault_goal: float = 0.9
    with_faults: bool = True  # False: only the clean cells (the smoke test)
    # 4. window: batch mode against a small window, repeated
    window_rate: str = "20/1s"
    window_latency_ms: float = 100.0
    window_repeats: int = 5
    window_windows: int = 6
    # 4. memory and 5. resume: real runs, rate off; the resume reruns the larger one
    memory_rows: tuple[int, int] = (100_000, 1_000_000)
    # 6. startup
    startup_runs: int = 7
    workdir: Path | None = None  # None: a temporary directory, removed at the end
    only: frozenset[str] = frozenset()  # section names to run ("ceiling", "limit", ...); empty: all
    label: str = ""  # printed with the machine, e.g. the commit of an exported tree that git cannot name

    @property
    def scaled_hubspot_rate(self) -> Rate:
        rate = parse_rate(self.hubspot_rate)
        return Rate(rate.limit, rate.period / self.time_scale)

    def wants(self, section: str) -> bool:
        return not self.only or section in self.only


def quick(options: Options) -> Options:
    """A few minutes less: smaller files, shorter windows; still ≥ 20 windows for utilisation."""
    return replace(options, rows=10_000, sdk_rows=5_000, repeat=1, latencies_ms=(100.0, 1000.0), batch_windows=3,
                   window_repeats=2, memory_rows=(20_000, 200_000), startup_runs=3)


def smoke(workdir: Path | None = None) -> Options:
    """Tiny sizes for the test suite: exercises every code path in seconds; the numbers mean nothing."""
    # no fault cells: a faulted row waits out a real backoff (0.5–2 s), too long for the test suite
    return Options(rows=150, sdk_rows=40, repeat=1, util_rate="20/100ms", windows=2, hubspot_rate="19/1s",
                   latency_ms=20.0, latencies_ms=(100.0,), time_scale=10.0, batch_size=10, batch_windows=1,
                   with_faults=False, window_rate="20/200ms", window_repeats=1, window_windows=1,
                   memory_rows=(100, 300), startup_runs=1, workdir=workdir)
