"""The `N/Ds` rate notation shared by `run --rate` and `fake-hubspot --rate`."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Rate", "parse_rate"]

_RATE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)?\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` request starts in any rolling window of `period` seconds."""

    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"rate limit must be at least 1 request, got {self.limit}")
        if not self.period > 0:
            raise ValueError(f"rate period must be > 0 seconds, got {self.period}")

    @property
    def per_second(self) -> float:
        return self.limit / self.period

    def __str__(self) -> str:
        if self.period < 1:
            return f"{self.limit}/{self.period * 1000:g}ms"
        return f"{self.limit}/{self.period:g}s"


def parse_rate(text: str) -> Rate:
    """Parse `190/10s`, `20/1s`, `5/500ms`, `100/s` or `600/1m` into a `Rate`.

    Raises ValueError with a message that shows the expected form.
    """
    m = _RATE_RE.fullmatch(text)
    if m is None or (m.group(2) is None and m.group(3) is None):
        raise ValueError(f"{text!r} is not a rate; write N/Ds, e.g. 190/10s, 20/1s or 5/500ms")
    number = float(m.group(2)) if m.group(2) is not None else 1.0
    period = number * _UNIT_SECONDS[m.group(3) or "s"]
    return Rate(int(m.group(1)), period)
