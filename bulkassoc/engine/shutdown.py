"""Stopping a run cleanly: signal handlers and the wind-down of feeder and workers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

__all__ = ["install_signal_handlers", "wind_down"]


def install_signal_handlers(stop: Callable[[Any, str], None], halt: asyncio.Event,
                            busy: set[asyncio.Task[Any]], *, grace: float = 0.0,
                            say: Callable[[str], None] | None = None) -> Callable[[], None]:
    """SIGINT/SIGTERM halt intake; a second signal also cancels the requests still in flight.

    `say` tells the user at once what the stop waits for (and how to stop waiting); the second
    signal's cancelled requests stay pending in the ledger, so the rerun sends them again.
    Returns a function that removes the handlers again.
    """
    loop = asyncio.get_running_loop()
    installed: list[int] = []

    def on_signal(signum: int) -> None:
        if halt.is_set():
            if busy and say is not None:
                say(f"quitting now: {len(busy)} requests in flight stay pending and are sent again on the rerun")
            for task in list(busy):
                task.cancel()
            return
        name = signal.Signals(signum).name
        stop("interrupted", f"stopped by {name}")
        if say is not None:
            again = "Ctrl-C" if signum == signal.SIGINT else name
            say(f"stopping: waiting up to {grace:g} s for {len(busy)} requests in flight "
                f"({again} again to quit now)" if busy else "stopping: no request in flight")

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


async def wind_down(feeder: asyncio.Task[None], workers: list[asyncio.Task[None]], halt: asyncio.Event,
                    busy: set[asyncio.Task[Any]], grace: float) -> None:
    """Wait for feeder and workers to finish, or for a halt; then stop intake, cancel idle workers,
    and give the ones with a request on the wire `grace` seconds before cancelling them too."""
    everything: asyncio.Future[Any] = asyncio.gather(feeder, *workers)
    halted: asyncio.Future[Any] = asyncio.ensure_future(halt.wait())
    try:
        await asyncio.wait([everything, halted], return_when=asyncio.FIRST_COMPLETED)
        if not everything.done():
            feeder.cancel()
            for task in workers:
                if task not in busy:
                    task.cancel()
            in_flight = [t for t in workers if not t.done()]
            if in_flight:
                _, late = await asyncio.wait(in_flight, timeout=grace)
                for task in late:
                    task.cancel()
    finally:
        halted.cancel()
        if not everything.done():  # we were cancelled ourselves: take everything down with us
            for task in (feeder, *workers):
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await everything
