"""The event log for schedulers: one line per event that matters (`--log-file`, `--log-format`).

Events: `start`, `pace` (a change and why), `throttle` (the pool pauses on a 429), `progress` (every
`--log-interval` seconds), `stopping` (an interrupt, waiting for requests in flight), `stop` (the run
aborted, and why), `end` (with the summary). A text line reads
`2026-12-01T15:04:05Z pace: 100/10s -> 190/10s (HubSpot's headers advertise 190/10s)`; a JSON line is
`{"ts": "...", "event": "pace", "message": "...", ...fields}`. Lines are flushed as written, so
`tail -f` follows them. Messages never hold the token (the caller masks what came from outside).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Literal, TextIO

import orjson

__all__ = ["LOG_FORMATS", "EventLog", "LogFormat", "open_log", "timestamp"]

LogFormat = Literal["text", "json"]
LOG_FORMATS = ("text", "json")


def timestamp(wall: float | None = None) -> str:
    """UTC, to the second, ISO 8601 with a Z."""
    when = dt.datetime.now(dt.timezone.utc) if wall is None else dt.datetime.fromtimestamp(wall, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


class EventLog:
    """Writes events to a text stream, one line each, as text or JSON."""

    def __init__(self, stream: TextIO, fmt: LogFormat = "text", *, owned: bool = False) -> None:
        if fmt not in LOG_FORMATS:
            raise ValueError(f"--log-format must be text or json, got {fmt!r}")
        self._stream = stream
        self._fmt = fmt
        self._owned = owned

    def write(self, event: str, message: str, **fields: Any) -> None:
        if self._fmt == "json":
            record = {"ts": timestamp(), "event": event, "message": message}
            record.update({k: _plain(v) for k, v in fields.items()})
            line = orjson.dumps(record).decode()
        else:
            line = f"{timestamp()} {event}: {message}"
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a full disk or a closed stream must not stop the run
            pass

    def close(self) -> None:
        if self._owned:
            self._stream.close()


def open_log(path: str | os.PathLike[str], fmt: LogFormat) -> EventLog:
    """Append to the log file at `path` (created if needed). Raises OSError when it cannot be opened."""
    return EventLog(open(path, "a", encoding="utf-8"), fmt, owned=True)
