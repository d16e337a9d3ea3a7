"""Many batches at once, never two at once on one pair: how undo and mirror deletes keep the wire full.

Work on one pair (archive one type, read the pair back, put back what HubSpot's unlabeled-type trap
took; or read it, then create with the union) must stay in order: two calls racing on a pair could put
back a type the other is removing. `Lanes` fills batches in the order items come (full batches: requests
are what the rate limit counts), and starts each as soon as a worker is free and no running batch names
one of its pairs — (from_type, from_id, to_type, to_id), IDs compared as numbers. How many requests are
really on the wire is the paced caller's business (its in-flight gate, pacing/inflight.py: `--concurrency
auto` or a cap); `Lanes` only keeps enough batches offered.

A batch holds up to `size` items of one (from_type, to_type), as HubSpot's batch endpoints take them.
At most `workers` batches run and one fills per type pair, so memory is bounded by (workers + type
pairs) × size whatever the ledger holds. The first error a send raises (the command halted, the ledger
failed) stops the intake: running batches finish the call they are in, nothing more starts, and `put`
or `close` raises that error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Lanes", "Pair", "pair_of"]

T = TypeVar("T")
Key = tuple[str, str, str, str, str]
Pair = tuple[str, str, str, str]


def pair_of(key: Key) -> Pair:
    """The pair a key names, IDs as numbers (`007` is `7`)."""
    return key[0], key[1].lstrip("0") or "0", key[2], key[3].lstrip("0") or "0"


class Lanes(Generic[T]):
    """`put` items, then `close` (always: it sends the partial batches, waits, raises the first error)."""

    def __init__(self, workers: int, size: int, send: Callable[[str, str, list[T]], Awaitable[None]]) -> None:
        if workers < 1 or size < 1:
            raise ValueError(f"workers and size must be at least 1, got {workers} and {size}")
        self._workers, self._size, self._send = workers, size, send
        self._filling: dict[tuple[str, str], tuple[list[T], set[Pair]]] = {}
        self._running: dict[asyncio.Future[None], set[Pair]] = {}
        self.error: BaseException | None = None
        self.started = 0  # batches started

    async def put(self, key: Key, item: T) -> None:
        """Add `item`, on the pair `key` names (the key as sent: IDs, not e-mails). Raises the first
        error a batch met, so the caller stops reading more work."""
        self._raise()
        kind = (key[0], key[2])
        items, pairs = self._filling.setdefault(kind, ([], set()))
        items.append(item)
        pairs.add(pair_of(key))
        if len(items) >= self._size:
            del self._filling[kind]
            await self._start(kind, items, pairs)

    async def close(self) -> None:
        """Start the partial batches, wait for all, raise the first error one met."""
        try:
            while self._filling and self.error is None:
                kind, (items, pairs) = self._filling.popitem()
                await self._start(kind, items, pairs)
            self._filling.clear()
        finally:
            if self._running:
                await asyncio.wait(list(self._running))
        self._raise()

    async def _start(self, kind: tuple[str, str], items: list[T], pairs: set[Pair]) -> None:
        while self.error is None:
            if len(self._running) >= self._workers:
                wait_on = list(self._running)
            elif not (wait_on := [f for f, on in self._running.items() if not on.isdisjoint(pairs)]):
                break
            await asyncio.wait(wait_on, return_when=asyncio.FIRST_COMPLETED)
        self._raise()
        task = asyncio.ensure_future(self._send(kind[0], kind[1], items))
        self._running[task] = pairs
        task.add_done_callback(self._done)
        self.started += 1

    def _done(self, task: asyncio.Future[None]) -> None:
        del self._running[task]
        if not task.cancelled() and (exc := task.exception()) is not None and self.error is None:
            self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error
