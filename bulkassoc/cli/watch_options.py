"""The options of `run` for watching it: progress on a terminal or in a log, and the event log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["progress_settings", "watch_options"]

F = TypeVar("F", bound=Callable[..., Any])


def watch_options(fn: F) -> F:
    for decorator in reversed([
        click.option("--log-file", type=click.Path(dir_okay=False, allow_dash=False), default=None, metavar="PATH",
                     help="Append one line per event that matters: start, pace change and why, pause on 429, "
                          "progress, stop and why, end with the summary."),
        click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                     help="Lines of --log-file: 'text' (timestamp, event, message) or 'json' (one object a line)."),
        click.option("--log-interval", type=click.FloatRange(0.1, 86400), default=30.0, show_default=True,
                     metavar="SECONDS",
                     help="Seconds between progress lines when stderr is not a terminal (cron, a log file), "
                          "also written to --log-file."),
        click.option("--timeline-interval", type=click.FloatRange(0.05, 3600), default=10.0, hidden=True,
                     help="Seconds per point of the ledger's timeline (report --html)."),
    ]):
        fn = decorator(fn)
    return fn


def progress_settings(progress: bool | None, tty: bool, interval: float) -> dict[str, Any]:
    """RunConfig's progress fields: a live `\\r` line only on a terminal; timestamped lines elsewhere
    (so a log never holds carriage returns); nothing with --no-progress."""
    if progress is False:
        return {"progress": False, "progress_lines": None}
    if tty:
        return {"progress": True, "progress_lines": None}
    return {"progress": False, "progress_lines": interval}
