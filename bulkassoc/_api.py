"""The library entry points: `run` (blocking) and `run_async`."""

from __future__ import annotations

import asyncio

from ._config import RunConfig
from ._engine import run_async
from ._summary import RunSummary

__all__ = ["run", "run_async"]


def run(config: RunConfig) -> RunSummary:
    """Run a job to completion in a fresh event loop (for scripts, notebooks, Airflow tasks).

    Inside a running event loop, `await run_async(config)` instead.
    """
    return asyncio.run(run_async(config))
