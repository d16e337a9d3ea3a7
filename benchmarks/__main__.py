"""`python -m benchmarks [--quick] [--rows N] [--only SECTION ...] [--json PATH]`: print the table."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import orjson

from ._options import Options, quick
from .runner import SECTIONS, run_all

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    d = Options()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure bulkassoc against a local fake HubSpot (127.0.0.1 only) and print a markdown table.")
    p.add_argument("--quick", action="store_true",
                   help="smaller files and shorter windows (a couple of minutes instead of ~8)")
    p.add_argument("--rows", type=int, help=f"rows for the engine ceiling [default {d.rows:,}; --quick 10,000]")
    p.add_argument("--sdk-rows", type=int, help=f"rows for the SDK contender [default {d.sdk_rows:,}]")
    p.add_argument("--no-sdk", action="store_true", help="skip the hubspot-api-client contender")
    p.add_argument("--repeat", type=int,
                   help=f"runs per ceiling contender, interleaved; the best counts [default {d.repeat}]")
    p.add_argument("--concurrency", type=int, help=f"bulkassoc and raw loop at the ceiling [default {d.concurrency}]")
    p.add_argument("--windows", type=int, help=f"rolling windows per paced run [default {d.windows}]")
    p.add_argument("--util-rate", help=f"time-scaled limit for the utilisation run [default {d.util_rate}]")
    p.add_argument("--latency-ms", type=float,
                   help=f"mean real latency; each request gets 0.5×–1.5× of it [default {d.latency_ms:g}]")
    p.add_argument("--memory-rows", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                   help=f"rows of the two real runs for memory; LARGE is resumed [default {d.memory_rows}]")
    p.add_argument("--sweep-modes", nargs="+", choices=("single", "batch"),
                   help="latency sweep: only these rows [default: both]")
    p.add_argument("--sweep-latencies-ms", nargs="+", type=float, metavar="MS",
                   help=f"latency sweep: these real latencies [default {' '.join(f'{x:g}' for x in d.latencies_ms)}]")
    p.add_argument("--sweep-answers", nargs="+", choices=("clean", "faults"),
                   help="latency sweep: clean answers, injected faults or both [default: both]")
    p.add_argument("--no-compare", action="store_true",
                   help=f"latency sweep: skip the fixed --concurrency {d.compare_concurrency} cell beside each")
    p.add_argument("--no-read-first", action="store_true",
                   help="latency sweep: batch cells measure the writes alone (`bulkassoc run --no-read-first`)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections (memory includes resume)")
    p.add_argument("--label", default="", help="a note printed with the machine line, e.g. what tree was measured")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every raw number as JSON")
    p.add_argument("--workdir", type=Path, help="keep inputs and ledgers here (default: a temporary directory)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base = quick(Options()) if args.quick else Options()
    options = replace(
        base,
        rows=args.rows if args.rows is not None else base.rows,
        sdk_rows=args.sdk_rows if args.sdk_rows is not None else base.sdk_rows,
        sdk=base.sdk and not args.no_sdk,
        repeat=args.repeat if args.repeat is not None else base.repeat,
        concurrency=args.concurrency if args.concurrency is not None else base.concurrency,
        windows=args.windows if args.windows is not None else base.windows,
        util_rate=args.util_rate if args.util_rate is not None else base.util_rate,
        latency_ms=args.latency_ms if args.latency_ms is not None else base.latency_ms,
        memory_rows=(args.memory_rows[0], args.memory_rows[1]) if args.memory_rows else base.memory_rows,
        workdir=args.workdir if args.workdir is not None else base.workdir,
        only=frozenset(args.only) if args.only else base.only,
        label=args.label,
        modes=tuple(args.sweep_modes) if args.sweep_modes else base.modes,
        latencies_ms=tuple(args.sweep_latencies_ms) if args.sweep_latencies_ms else base.latencies_ms,
        answers=tuple(args.sweep_answers) if args.sweep_answers else base.answers,
        compare=base.compare and not args.no_compare,
        batch_read_first=base.batch_read_first and not args.no_read_first,
    )
    report = run_all(options)
    print(report.markdown())
    if args.json:
        args.json.write_bytes(orjson.dumps({
            "machine": report.machine, "elapsed_s": report.elapsed_s, "errors": report.errors,
            "results": [r.to_dict() for r in report.results]}, option=orjson.OPT_INDENT_2, default=str))
    if report.missed:
        print(f"\ngoals missed: {', '.join(f'{r.section} {r.contender}' for r in report.missed)}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
