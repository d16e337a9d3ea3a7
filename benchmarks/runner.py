"""Runs the measurements in order and puts the table, the machine and the notes together."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bulkassoc import parse_rate

from ._options import Options
from ._proc import SERVER_CPU, client_cpu
from ._table import Result, render

__all__ = ["SECTIONS", "Report", "machine", "run_all"]

SECTIONS = ("ceiling", "utilisation", "latency", "window", "memory", "startup")


@dataclass
class Report:
    options: Options
    results: list[Result] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def find(self, section: str, contender_prefix: str = "") -> Result | None:
        for r in self.results:
            if r.section.endswith(section) and r.contender.startswith(contender_prefix):
                return r
        return None

    @property
    def missed(self) -> list[Result]:
        return [r for r in self.results if r.met is False]

    def markdown(self) -> str:
        m = self.machine
        header = [
            "## bulkassoc benchmarks",
            "",
            f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory')}; Python {m.get('python')}, "
            f"aiohttp {m.get('aiohttp')}; bulkassoc {m.get('bulkassoc')} at {m.get('commit')}; "
            f"load average at start {m.get('load')}. Total time {self.elapsed_s:.0f} s."
            + (f" {self.options.label}" if self.options.label else ""),
        ]
        return render(self.results, header, self.notes())

    def notes(self) -> list[str]:
        notes = []
        if SERVER_CPU is not None:
            notes.append(f"Every contender ran as its own process pinned to CPU {client_cpu()}, against a fresh "
                         f"fake HubSpot in another process pinned to CPU {SERVER_CPU} (127.0.0.1 only).")
        else:
            notes.append("Only one CPU available: server and client shared it (ratios are still same-run).")
        notes.append("Rate off for `bulkassoc run` means `--rate 1000000/1s` (it always paces). CPU µs/row is the "
                     "client process's whole user+system time (start-up included) ÷ rows.")
        notes.append("The SDK's `client.api_request` calls `requests.put` without a session: one new TCP "
                     "connection per request. That is the SDK's behaviour; the benchmark does not change it.")
        opts = self.options
        notes.append(f"Time scaling: a limit N/D at latency L needs ≈ N/D × L requests in flight, so dividing D "
                     f"by k divides L by k too (k = {opts.time_scale:g} for single mode, {opts.batch_scale:g} for "
                     "batch mode, whose rows/s the client must read, record and encode grow with k as well). The "
                     "fake's latency is uniform in 0.5×–1.5× of its mean. Achieved rate = requests the server "
                     "received from its 1st percentile of arrivals, or the first write if later, to the 99th "
                     "(without the start-up: the preflight, the pair's types and the first read before write, a "
                     "full latency each; and without the tail of rows waiting out a backoff); the whole run's "
                     "rate is given beside it. Reads and retries count, as they do at HubSpot. "
                     "429s and the busiest window count over the whole run. "
                     "Faults: 5xx/dropped answers are retried after 0.5–1 s, 423 after 2 s (real seconds, not "
                     "scaled); the row waits, its in-flight slot does not.")
        notes.extend(self.meaning())
        if self.errors:
            notes.append("ERRORS: " + " / ".join(self.errors))
        return notes

    def meaning(self) -> list[str]:
        out = []
        hubspot = parse_rate(opts_rate := self.options.hubspot_rate)
        cells = [r for r in self.results if r.section.endswith("latency")]
        single = [r.data.get("ratio") for r in cells if r.data.get("batch") is False]
        ratios = [x for x in single if isinstance(x, float) and x > 0]
        if ratios:
            per_s = hubspot.per_second * min(ratios)
            hours = 1_000_000 / per_s / 3600
            out.append(f"For a user: at {opts_rate} bulkassoc sends at least {per_s:.2f} requests/s at every latency "
                       f"measured, so 1,000,000 associations take at most {hours:.1f} h of API time (the limit alone "
                       f"allows {1_000_000 / hubspot.per_second / 3600:.1f} h).")
        batched = [r.data.get("ratio") for r in cells if r.data.get("batch") is True]
        batch_ratios = [x for x in batched if isinstance(x, float) and x > 0]
        size = self.options.batch_size
        if batch_ratios:
            seconds = 1_000_000 / size / (hubspot.per_second * min(batch_ratios))
            out.append(f"In batch mode ({size} rows per request) the same 1,000,000 associations need "
                       f"{1_000_000 // size:,} requests: {seconds / 60:.0f} min at {opts_rate}.")
        ceiling = self.find("ceiling", "`bulkassoc")
        rate = ceiling.data.get("rows_per_s") if ceiling else None
        if isinstance(rate, float) and rate > 0:
            out.append(f"The engine's ceiling ({rate:,.0f} rows/s here) is {rate / hubspot.per_second:,.0f}× "
                       f"{opts_rate}: the rate limit, not the client, bounds every real run.")
        rates: dict[str, object] = {}
        for r in self.results:
            if r.section.endswith("resume"):
                kind = "kill" if r.data.get("after_kill") else "digests" if r.data.get("digests", True) else "slow"
                rates.setdefault(kind, r.data.get("rows_per_s"))
        skip_rate, slow, killed = rates.get("digests"), rates.get("slow"), rates.get("kill")
        if isinstance(skip_rate, float) and skip_rate > 0:
            out.append(f"A rerun of a done file skips its rows at {skip_rate:,.0f} rows/s: "
                       f"{1_000_000 / skip_rate:.0f} s for 1,000,000 done rows, and sends nothing for them"
                       + (f"; after a kill -9, the part done before it at {killed:,.0f} rows/s"
                          if isinstance(killed, float) else "")
                       + (f"; a ledger without settled-chunk digests (older, or after an undo) admits done rows "
                          f"one by one at {slow:,.0f} rows/s" if isinstance(slow, float) else "") + ".")
        return out


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bulkassoc"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    return (head or "unknown commit") + (" + uncommitted changes in bulkassoc/" if dirty else "")


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kib = int(fh.readline().split()[1])
            memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    from importlib.metadata import version

    import bulkassoc

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "aiohttp": version("aiohttp"),
        "bulkassoc": bulkassoc.__version__,
        "commit": _git_commit(),
        "load": " ".join(f"{x:.2f}" for x in load),
    }


def _log_to_stderr(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_all(options: Options, log: Callable[[str], None] = _log_to_stderr) -> Report:
    """Run every wanted measurement; a failing one is reported in `errors`, the others still run."""
    from .ceiling import measure_ceiling
    from .limits import measure_utilisation
    from .memory import measure_memory_and_resume
    from .startup import measure_startup
    from .sweep import measure_latency, measure_window

    report = Report(options, machine=machine())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bulkassoc-bench-") as tmp:
        workdir = options.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        steps: list[tuple[str, Callable[[], list[Result]]]] = [
            ("ceiling", lambda: measure_ceiling(options, workdir, log)),
            ("utilisation", lambda: measure_utilisation(options, log, workdir)),
            ("latency", lambda: measure_latency(options, log, workdir)),
            ("window", lambda: measure_window(options, log, workdir)),
            ("memory", lambda: measure_memory_and_resume(options, log, workdir)),
            ("startup", lambda: measure_startup(options, log)),
        ]
        for name, step in steps:
            if not options.wants(name):
                continue
            try:
                report.results.extend(step())
            except Exception as exc:
                log(f"{name} failed:\n{traceback.format_exc()}")
                report.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
    report.elapsed_s = time.perf_counter() - started
    return report
