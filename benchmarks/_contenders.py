"""The contenders bulkassoc is measured against, each run as its own process:

    python -m benchmarks._contenders raw --url URL --input FILE --concurrency 8
    python -m benchmarks._contenders sdk --url URL --input FILE --threads 16

The token comes from $HUBSPOT_ACCESS_TOKEN, as for `bulkassoc run`. Each prints one JSON line:
rows, statuses, elapsed_s (from the first read of the input to the last answer).

`raw` is the upper bound for an aiohttp client: a minimal aiohttp loop — no validation, no ledger, no
pacing, no retries — at the same concurrency. `sdk` is what a user would write with the official `hubspot-api-client`:
`client.api_request({...})` (the SDK's generic call, here the same v3 association PUT) from a
`ThreadPoolExecutor`. That call goes through `requests.put` without a session, so every request opens a
new connection: that is the SDK's behaviour, not a choice made here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson

__all__ = ["main", "read_paths"]


def read_paths(input_path: Path, from_type: str) -> Iterator[str]:
    """The association PUT path of each data row of a `fromId,toType,toId,type` CSV."""
    with input_path.open(encoding="utf-8") as fh:
        next(fh, None)  # header
        for line in fh:
            from_id, to_type, to_id, assoc_type = line.rstrip("\n").split(",")
            yield f"/crm/v3/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}/{assoc_type}"


async def _raw(url: str, token: str, paths: Iterator[str], concurrency: int) -> Counter[int]:
    import aiohttp

    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as session:

        async def worker() -> None:
            for path in paths:  # one shared iterator: each path is taken by exactly one worker
                async with session.put(path) as resp:
                    await resp.read()
                    statuses[resp.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def _sdk(url: str, token: str, paths: Iterator[str], threads: int) -> Counter[int]:
    from concurrent.futures import ThreadPoolExecutor

    from hubspot import HubSpot

    client = HubSpot(access_token=token, base_url=url)  # the SDK's Request reads config["base_url"]

    def put(path: str) -> int:
        response = client.api_request({"method": "PUT", "path": path})
        return int(response.status_code)

    statuses: Counter[int] = Counter()
    with ThreadPoolExecutor(threads) as pool:
        for status in pool.map(put, paths, chunksize=1):
            statuses[status] += 1
    return statuses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._contenders")
    parser.add_argument("kind", choices=["raw", "sdk"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--from-type", default="contacts")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    token = os.environ.get("HUBSPOT_ACCESS_TOKEN", "")
    started = time.perf_counter()
    paths = read_paths(args.input, args.from_type)
    if args.kind == "raw":
        statuses = asyncio.run(_raw(args.url, token, paths, args.concurrency))
    else:
        statuses = _sdk(args.url, token, paths, args.threads)
    elapsed = time.perf_counter() - started
    rows = sum(statuses.values())
    out = {"rows": rows, "ok": sum(n for s, n in statuses.items() if 200 <= s < 300),
           "statuses": {str(s): n for s, n in sorted(statuses.items())}, "elapsed_s": elapsed}
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    main()
