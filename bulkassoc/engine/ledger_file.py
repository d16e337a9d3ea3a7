"""A run's ledger file: opened (a dry run and a check work on a scratch copy, so the real one is never
touched) and closed: the pace, the timeline and the summary saved, or, for a scratch copy, the rows this
run would fail written to `--failed-out` before the copy is removed. And the usage error of an input
that says nowhere what type its fromIds are."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from ..ledger.failures import Failure
from ..ledger.report import write_failed_csv
from ..ledger.store import FLUSH_EVERY, Ledger, LedgerError, remove_ledger_files, scratch_copy
from ..pacing.limiter import RollingWindowLimiter
from ..rows.reader import InputError, InvalidRow
from .checks import save_pace
from .config import RunConfig
from .summary import RunSummary
from .watch import Watch, after_run

__all__ = ["close_ledger", "no_from_type", "open_ledger"]


def no_from_type(name: str, invalid: Sequence[InvalidRow] | None = None, rows: int = 0) -> None:
    """Raise the usage error (exit 2, before anything is written) of an input with no fromType anywhere:
    a CSV without the column (`invalid` None), or a first chunk whose every row lacks it."""
    if invalid is not None and not (rows and len(invalid) == rows and all(
            not it.from_type and it.reason.startswith("no fromType") for it in invalid)):
        return
    raise InputError(f"{name} has no fromType {'column' if invalid is None else 'in any row'} and no --from-type was "
                     "given: pass --from-type TYPE (the object type of every fromId, e.g. contacts) or add fromType")


def open_ledger(config: RunConfig) -> Ledger:
    # a batch answer settles its rows at once: they commit together (a kill -9 repeats whole batches anyway),
    # not in slices of FLUSH_EVERY, three commits in one turn of the loop that the pacer's timers wait for
    every = max(FLUSH_EVERY, config.batch_size) if config.mode == "batch" else FLUSH_EVERY
    ledger = Ledger(scratch_copy(config.ledger_path) if config.scratch else config.ledger_path,
                    settle=config.skip_settled and not config.scratch, flush_every=every)
    try:
        ledger.open(str(config.input))
    except BaseException:
        if config.scratch:
            remove_ledger_files(ledger.path)
        raise
    return ledger


def close_ledger(ledger: Ledger, config: RunConfig, limiter: RollingWindowLimiter, watch: Watch, *, since: float,
                 complete: bool, summary: Callable[[], RunSummary]) -> tuple[str | None, list[Failure]]:
    """Close the run's ledger; returns why it could not be written (or None), and the run's top failures."""
    failures: list[Failure] = []
    try:
        if not config.scratch:
            save_pace(ledger, limiter)
            watch.save_timeline(ledger.conn)
            so_far = summary()  # a run that failed no row has no top failures: no scan of the ledger for them
            failures = after_run(ledger, str(config.input), complete=complete,
                                 any_failed=bool(so_far.failed or so_far.invalid))
        ledger.close(None if config.scratch else orjson.dumps(summary().to_dict()).decode())
        if config.scratch and config.failed_out is not None:
            # this run's failures only: what a real run would fail now, not what an earlier one failed
            write_failed_csv(ledger.path, config.failed_out, since=since)
    except LedgerError as exc:
        return f"{exc}; rows not recorded will be sent again on the rerun", failures
    finally:
        if config.scratch:
            remove_ledger_files(ledger.path)
    return None, failures
