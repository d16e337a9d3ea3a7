"""The library entry points: `run` / `run_async` (write) and `verify` / `verify_async` (read back).

The engine (and aiohttp) is imported on first use, so `import bulkassoc` and the CLI start fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ._version import __version__
from .engine.config import RunConfig
from .engine.summary import RunSummary
from .verify.config import VerifyConfig
from .verify.summary import VerifySummary

__all__ = ["run", "run_async", "verify", "verify_async"]


async def run_async(config: RunConfig, *, rand: Callable[[], float] | None = None) -> RunSummary:
    """Run one bulk association job to the end (or to an abort) and return its summary.

    Raises InputError for an unusable input file and LedgerError for an unusable ledger, before
    anything is sent. `rand` (default: random.random) is the jitter source, for reproducible tests.
    """
    from .engine.run import run_async as engine_run

    return await engine_run(config, rand=rand, version=__version__)


def run(config: RunConfig) -> RunSummary:
    """Run a job to completion in a fresh event loop (for scripts, notebooks, Airflow tasks).

    Inside a running event loop (Jupyter, an async app), `await run_async(config)` instead.
    """
    _no_running_loop("run", "run_async")
    return asyncio.run(run_async(config))


async def verify_async(config: VerifyConfig, *, rand: Callable[[], float] | None = None) -> VerifySummary:
    """Check every row of the input against HubSpot; write the missing ones to `config.missing_out`.

    Raises InputError for an unusable input and ConfigError for an unwritable `missing_out`, before
    anything is sent.
    """
    from .verify.run import verify_async as engine_verify

    return await engine_verify(config, rand=rand, version=__version__)


def verify(config: VerifyConfig) -> VerifySummary:
    """`verify_async` in a fresh event loop; inside a running one, `await verify_async(config)` instead."""
    _no_running_loop("verify", "verify_async")
    return asyncio.run(verify_async(config))


def _no_running_loop(name: str, async_name: str) -> None:
    """Fail with one clear message before any coroutine exists (so no 'never awaited' warning)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"bulkassoc.{name}() cannot be called from a running event loop; "
                       f"use `await bulkassoc.{async_name}(config)` instead")
