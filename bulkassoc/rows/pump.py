"""Reads input chunks on a daemon thread, a bounded number ahead of the event loop.

Parsing never blocks the loop, a slow stdin never stalls in-flight requests, and because the
thread is a daemon an interrupted run can exit while it is still blocked on a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ChunkPump"]

T = TypeVar("T")


class ChunkPump(Generic[T]):
    def __init__(self, read_chunk: Callable[[int], list[T]], size: int, *, depth: int = 2) -> None:
        self._read_chunk = read_chunk
        self._size = size
        self._slots = threading.Semaphore(depth)
        self._stopped = threading.Event()
        self._queue: asyncio.Queue[list[T] | BaseException] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="bulkassoc-reader", daemon=True)
        self._thread.start()

    def _deliver(self, item: list[T] | BaseException) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening any more
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        while True:
            self._slots.acquire()
            if self._stopped.is_set():
                return
            try:
                chunk = self._read_chunk(self._size)
            except BaseException as exc:  # handed to the loop, raised there
                self._deliver(exc)
                return
            self._deliver(chunk)
            if not chunk:
                return

    async def next(self) -> list[T]:
        """The next chunk; [] at the end of the input. Re-raises the reader's error."""
        item = await self._queue.get()
        self._slots.release()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self, join_timeout: float = 2.0) -> None:
        """Ask the thread to stop after its current read and wait a little for it."""
        self._stopped.set()
        self._slots.release()
        self._thread.join(join_timeout)
