"""4. Memory and 5. resume.

Memory: two real `bulkassoc run`s (rate off, latency 0, every row sent and recorded), a small and a
large file; peak RSS is the client process's own `ru_maxrss`, from `os.wait4`.

Resume: the large run leaves a ledger in which every row succeeded — built by that real run, not by
writing the ledger directly — and the same command is run again against a fresh fake. It must send no
association request, and skips rows at rows ÷ the run's `elapsed_s`: first with the settled-chunk digests
the real run recorded (a done chunk of 2,048 rows costs one lookup), then without them (deleted: a ledger
written before them, or after an undo cleared them), where every row is looked up in the ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ._bulk import RATE_OFF, BulkRun, num, run_bulkassoc, timeout_for
from ._inputs import write_shuffled_csv
from ._options import Options
from ._proc import fake_server
from ._table import Result, fmt_int, fmt_mib
from .after_kill import measure_after_kill

__all__ = ["measure_memory_and_resume"]

AFTER_KILL_MIN_ROWS = 20_000  # below, a run is over before it can be killed part-way


def _real_run(workdir: Path, rows: int, concurrency: int, log: Callable[[str], None]
              ) -> tuple[BulkRun, dict[str, object], Path, Path]:
    input_path = write_shuffled_csv(workdir / f"memory-{rows}.csv", rows)
    ledger = workdir / f"memory-{rows}.ledger.sqlite"
    log(f"memory: real run of {rows:,} rows (rate off)")
    with fake_server() as server:
        run = run_bulkassoc(input_path, ledger, server.url, rate=RATE_OFF, concurrency=concurrency,
                            timeout=timeout_for(rows))
    return run, server.stats, input_path, ledger


def _complete(run: BulkRun) -> str:
    done, rows = int(run.num("succeeded")), run.rows
    return "" if done == rows else f"; only {fmt_int(done)} of {fmt_int(rows)} succeeded"


def measure_memory_and_resume(opts: Options, log: Callable[[str], None], workdir: Path,
                              *, resume: bool = True) -> list[Result]:
    results: list[Result] = []
    small_rows, large_rows = opts.memory_rows
    setup = ("real `bulkassoc run`, fake: rate off, latency 0; 20-digit IDs in shuffled order; peak RSS of the "
             "client process")
    small, small_stats, _, _ = _real_run(workdir, small_rows, opts.concurrency, log)
    large, large_stats, large_input, large_ledger = _real_run(workdir, large_rows, opts.concurrency, log)
    for run, stats in ((small, small_stats), (large, large_stats)):
        rate = run.rows / run.elapsed if run.elapsed else 0.0
        text = f"{fmt_mib(run.proc.max_rss_kib)} ({fmt_int(rate)} rows/s, {run.elapsed:,.0f} s){_complete(run)}"
        if run is small:
            results.append(Result("5 memory", setup, f"{fmt_int(run.rows)} rows", text, "1.00", "", None,
                                  {"max_rss_kib": run.proc.max_rss_kib, "summary": run.summary, "server": stats}))
        else:
            ratio = run.proc.max_rss_kib / small.proc.max_rss_kib if small.proc.max_rss_kib else 0.0
            results.append(Result("5 memory", setup, f"{fmt_int(run.rows)} rows", text,
                                  f"{ratio:.2f} × RSS({fmt_int(small.rows)})", "≤ 1.1", ratio <= 1.1,
                                  {"max_rss_kib": run.proc.max_rss_kib, "summary": run.summary, "server": stats}))
    if not resume:
        return results

    for fast in (True, False):
        results.append(_resume(large_input, large_ledger, large_rows, opts.concurrency, fast, log))
    if large_rows >= AFTER_KILL_MIN_ROWS:
        results.append(measure_after_kill(workdir, large_input, large_rows, opts.concurrency, log))
    return results


def _forget_settled(ledger: Path) -> None:
    """What a ledger without digests has (written before them, or after an undo cleared them)."""
    conn = sqlite3.connect(ledger)
    try:
        conn.execute("DELETE FROM settled_chunks")
        conn.commit()
    finally:
        conn.close()


def _resume(large_input: Path, large_ledger: Path, large_rows: int, concurrency: int, fast: bool,
            log: Callable[[str], None]) -> Result:
    """Rerun of the done file: with the digests its run recorded (whole chunks skipped), or without them
    (every row looked up in the ledger: a ledger from before them, or after an undo cleared them)."""
    if not fast:
        _forget_settled(large_ledger)
    how = "" if fast else ", its settled-chunk digests deleted first (row-by-row admission)"
    log(f"resume: rerun of the done {large_rows:,}-row file{how}")
    with fake_server() as server:
        rerun = run_bulkassoc(large_input, large_ledger, server.url, rate=RATE_OFF, concurrency=concurrency,
                              timeout=timeout_for(large_rows, 5000.0))
    puts = int(num(server.stats, "puts"))
    writes = int(rerun.num("requests"))
    skipped = int(rerun.num("already_done"))
    rate = skipped / rerun.elapsed if rerun.elapsed else 0.0
    checks = int(rerun.num("checks"))
    text = (f"{writes} association requests ({puts} PUTs at the server, {checks} preflight GET); "
            f"{fmt_int(skipped)} rows skipped in {rerun.elapsed:.2f} s; RSS {fmt_mib(rerun.proc.max_rss_kib)}")
    goal = "0 requests, ≥ 200,000 rows/s" if fast else "0 requests"
    met = writes == 0 and puts == 0 and skipped == large_rows and (rate >= 200_000 or not fast)
    return Result("6 resume", f"rerun of the done {fmt_int(large_rows)}-row file (ledger from the real run above)"
                  f"{how}, fresh fake", "`bulkassoc run`, same command", text, f"{fmt_int(rate)} rows/s", goal, met,
                  {"summary": rerun.summary, "server": server.stats, "rows_per_s": rate,
                   "max_rss_kib": rerun.proc.max_rss_kib, "digests": fast})
