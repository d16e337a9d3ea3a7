"""6. Startup: wall time of `bulkassoc --help`, against the bare interpreter, and the heaviest imports."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ._options import Options
from ._proc import child_env, run_measured
from ._table import Result

__all__ = ["heaviest_imports", "measure_startup"]


def _bulkassoc_argv() -> list[str]:
    """The installed console script next to this interpreter, else `python -m bulkassoc`."""
    script = Path(sys.executable).with_name("bulkassoc")
    if script.exists():
        return [str(script)]
    found = shutil.which("bulkassoc")
    return [found] if found else [sys.executable, "-m", "bulkassoc"]


def _wall(argv: Sequence[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        measured = run_measured(argv, timeout=60.0)
        if measured.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {measured.returncode}: {measured.stderr[-500:]}")
        times.append(measured.wall_s)
    return times


def _import_times(argv: Sequence[str]) -> list[tuple[str, float]]:
    """(module, cumulative seconds) for every import `python -X importtime ARGV...` makes."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], env=child_env(), capture_output=True,
                          text=True, timeout=60)
    timed: list[tuple[str, float]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            timed.append((parts[2].strip(), int(parts[1].strip()) / 1e6))
    return timed


def heaviest_imports(count: int = 3) -> list[tuple[str, float]]:
    """The heaviest imports of `bulkassoc --help` beyond the bare interpreter's, by cumulative time (s);
    bulkassoc's own modules and submodules of a module already listed are left out."""
    baseline = {name for name, _ in _import_times(["-c", "pass"])}
    chosen: list[tuple[str, float]] = []
    for name, seconds in sorted(_import_times(["-m", "bulkassoc", "--help"]), key=lambda item: -item[1]):
        if name in baseline or name.startswith(("bulkassoc", "__editable")):
            continue
        if not any(name.startswith(f"{other}.") for other, _ in chosen):
            chosen.append((name, seconds))
        if len(chosen) == count:
            break
    return chosen


def measure_startup(opts: Options, log: Callable[[str], None]) -> list[Result]:
    runs = max(1, opts.startup_runs)
    argv = [*_bulkassoc_argv(), "--help"]
    log(f"startup: {' '.join(argv)} × {runs}")
    base = _wall([sys.executable, "-c", "pass"], runs)
    helps = _wall(argv, runs)
    top = heaviest_imports()
    imports = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in top)
    text = (f"median {statistics.median(helps) * 1000:.0f} ms, best {min(helps) * 1000:.0f} ms "
            f"(bare `python -c pass`: {statistics.median(base) * 1000:.0f} ms); heaviest imports: {imports}")
    return [Result("7 startup", f"wall time, {runs} runs", "`bulkassoc --help`", text,
                   f"{statistics.median(helps) - statistics.median(base):.2f} s over the interpreter", "", None,
                   {"help_s": helps, "python_s": base, "imports": top})]
