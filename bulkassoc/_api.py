"""The library entry points: `run` (blocking) and `run_async`.

The engine (and aiohttp) is imported on first use, so `import bulkassoc` and the CLI start fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .engine.config import RunConfig
from .engine.summary import RunSummary

__all__ = ["run", "run_async"]


async def run_async(config: RunConfig, *, rand: Callable[[], float] | None = None) -> RunSummary:
    """Run one bulk association job to the end (or to an abort) and return its summary.

    Raises InputError for an unusable input file and LedgerError for an unusable ledger, before
    anything is sent. `rand` (default: random.random) is the jitter source, for reproducible tests.
    """
    from .engine.run import run_async as engine_run

    return await engine_run(config, rand=rand)


def run(config: RunConfig) -> RunSummary:
    """Run a job to completion in a fresh event loop (for scripts, notebooks, Airflow tasks).

    Inside a running event loop, `await run_async(config)` instead.
    """
    return asyncio.run(run_async(config))
