"""How a benchmark server process (the fake, the bare sink) learns to stop: SIGINT/SIGTERM, or its stdin
closing (the orchestrator went away)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading

__all__ = ["serve_until_stopped"]


async def serve_until_stopped(url: str) -> None:
    """Announce `url` on stdout, then wait until told to stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def watch_stdin() -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()  # returns at EOF: the orchestrator closed our stdin
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    print(f"fake HubSpot listening on {url}", flush=True)
    await stop.wait()
