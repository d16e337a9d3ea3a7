"""The stop switch a command shares with its paced caller: the first reason to stop wins.

A halt ends intake and cuts every wait short (the limiter, a backoff, a throttle pause); the work
not yet settled stays pending, so a rerun resumes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

__all__ = ["EXIT_2_REASONS", "AbortReason", "Halt", "Halted"]

# contract: auth, daily_limit, interrupted, unreachable (exit 3). Additions: ledger (exit 3, the ledger
# could not be written), read (exit 3, what exists could not be read), mass_failure (exit 3, the first answers
# of a pair all failed the same way), and, before any write (exit 2): input, portal, types, mirror_guard (a
# --mirror run would delete more than --max-deletes allows).
AbortReason = Literal["auth", "daily_limit", "interrupted", "unreachable", "ledger", "input", "portal", "types",
                      "read", "mirror_guard", "mass_failure"]
EXIT_2_REASONS = frozenset({"input", "portal", "types", "mirror_guard"})


class Halted(Exception):
    """Raised inside a task when the command halted while it waited; its work stays pending."""


class Halt:
    """Why a command stopped (`reason`, `message`) and the event every wait watches.

    `mask` cleans a message before it is kept: a message may quote what the server sent back.
    """

    def __init__(self, mask: Callable[[str], str] = str) -> None:
        self.event = asyncio.Event()
        self.reason: AbortReason | None = None
        self.message = ""
        self._mask = mask

    def stop(self, reason: AbortReason, message: str) -> None:
        if self.reason is None:
            self.reason, self.message = reason, self._mask(message)
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self) -> None:
        await self.event.wait()
