"""Benchmarks for bulkassoc against a local fake HubSpot: `python -m benchmarks` prints a markdown table.

1. engine ceiling (rate off): `bulkassoc run` vs a raw aiohttp loop vs hubspot-api-client + threads
2. limit utilisation at a time-scaled rolling window: achieved ÷ limit, 429s
3. latency: HubSpot's 190/10s and latency, time-scaled, at the default concurrency; a concurrency sweep
4. memory: peak RSS of real runs, small and large
5. resume: rerun of the done large file: requests sent, rows skipped per second
6. startup: `bulkassoc --help` wall time

Each contender runs in its own process against a fake server in another process (one CPU each when there
are two). Everything stays on 127.0.0.1 and is bounded in rows and time. Modules: `ceiling`, `limits`,
`memory`, `startup` (the measurements), `runner` (order, table, notes), `_proc` (processes, rusage),
`_server` and `_contenders` (the child processes).

This file imports nothing, so that the contender processes (`python -m benchmarks._contenders`) load
only what they use: `from benchmarks.runner import run_all` and `from benchmarks._options import ...`.
"""
