"""The fake HubSpot in its own process: `python -m benchmarks._server --rate off --latency-ms 0 --token T`.

Prints `fake HubSpot listening on URL` on stdout, serves until its stdin is closed (or SIGTERM/SIGINT),
then prints one JSON line of statistics and exits. It wraps `bulkassoc.fake.server.FakeHubSpot` rather
than the `fake-hubspot` command only to report what the command does not: arrival times (for the
achieved rate) and the server's own CPU time (to tell whether the server was the bottleneck).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import sys

import orjson

from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.pacing.rate import Rate, parse_rate

from ._stop import serve_until_stopped

__all__ = ["main"]


def _rate(text: str) -> Rate | None:
    return None if text.strip().lower() in ("off", "none") else parse_rate(text)


def _steady(arrivals: list[float], first_write: int | None) -> dict[str, object]:
    """The sustained pace's span: from the 1st percentile of the arrivals, or the first write when it came
    later (a run that reads before it writes spends its first round trips on the preflight, the pair's
    types and the first chunk's read, one after the other: at 2.5 s each, a fifth of a 20 s benchmark run
    and 1% of a 10-minute one), to the 99th (the tail: a run's last rows may wait out backoffs alone)."""
    n = len(arrivals)
    if n < 3:
        return {"steady_first": arrivals[0] if arrivals else None, "steady_last": arrivals[-1] if arrivals else None,
                "steady_count": n}
    hi = max(n // 100 + 1, math.ceil(0.99 * n) - 1)
    lo = min(max(n // 100, first_write or 0), hi - 1)
    return {"steady_first": arrivals[lo], "steady_last": arrivals[hi], "steady_count": hi - lo + 1}


async def _serve(config: FakeConfig) -> dict[str, object]:
    fake = FakeHubSpot(config)
    url = await fake.start("127.0.0.1", 0)
    try:
        await serve_until_stopped(url)
    finally:
        await fake.stop()
    stats = fake.stats
    usage = resource.getrusage(resource.RUSAGE_SELF)
    arrivals = stats.arrivals
    data: dict[str, object] = {
        "requests": stats.requests,
        "puts": stats.puts,
        "stored": stats.associations_stored,
        "throttled": stats.throttled + stats.daily_throttled,
        "errors": {str(k): v for k, v in sorted(stats.errors.items())},
        "dropped": stats.dropped,
        "repeated_pairs": sum(1 for n in stats.put_counts.values() if n > 1),
        "first": arrivals[0] if arrivals else None,
        "second": arrivals[1] if len(arrivals) > 1 else None,  # a rerun after a kill: its first PUT
        # the sustained pace, without the start (the reads before the first write, each a full latency)
        # and the tail (a run's last rows may wait out backoffs alone)
        **_steady(arrivals, stats.first_write),
        "last": arrivals[-1] if arrivals else None,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    if config.rate is not None:
        data["max_in_window"] = stats.max_in_window(config.rate.period)
        data["limit"] = config.rate.limit
        data["period"] = config.rate.period
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--rate", default="off", help="N/Ds or off")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="fraction answered 5xx or dropped")
    parser.add_argument("--lock-rate", type=float, default=0.0, help="fraction answered 423 Locked")
    args = parser.parse_args(argv)
    config = FakeConfig(rate=_rate(args.rate), latency_ms=args.latency_ms, token=args.token, seed=args.seed,
                        fail_rate=args.fail_rate, lock_rate=args.lock_rate)
    data = asyncio.run(_serve(config))
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
