"""`bulkassoc undo LEDGER`: the click shell over `sync/undo.py` (registered by cli/main.py)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import click

from .._version import __version__
from ..engine.checks import bind_portal, read_account
from ..engine.config import DEFAULT_BASE_URL, DEFAULT_TOKEN_ENV
from ..engine.shutdown import install_signal_handlers
from ..hubspot.caller import Caller
from ..hubspot.halt import Halt
from ..hubspot.outcomes import RetryPolicy
from ..hubspot.urls import check_base_url
from ..ledger.store import Ledger, LedgerError
from ..pacing.rate import Rate
from ..sync.undo import UndoConfig, undo_async
from .envvars import EnvCommand
from .options import CONTEXT, ConcurrencyType, RateType, fail, finish, read_token

__all__ = ["undo_command"]


async def _portal_check(caller: Caller, ledger: Ledger) -> str | None:
    """The ledger belongs to one portal: undo refuses another (it would delete there)."""
    portal, caller.time_zone = await read_account(caller)
    return bind_portal(ledger, caller.config.base_url, caller.config.token, portal)


def _signals(halt: Halt, caller: Caller) -> Callable[[], None]:
    return install_signal_handlers(halt.stop, halt.event, caller.busy)


@click.command("undo", cls=EnvCommand, context_settings=CONTEXT)
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option("--run", "runs", type=click.IntRange(1), multiple=True, metavar="ID",
              help="Undo only this run of the ledger (repeat for several) [default: every run].")
@click.option("--dry-run", is_flag=True, help="Count what would be removed and restored; send nothing.")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="API root; http:// only to a loopback host.")
@click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True, metavar="NAME",
              help="Environment variable that holds the access token.")
@click.option("--rate", type=RateType(), default="100/10s", show_default=True,
              help="At most N requests started in any rolling window of D, or 'auto'.")
@click.option("--concurrency", type=ConcurrencyType(), default="auto", show_default=True,
              help="Requests in flight: 'auto' (what the pace needs at the latency seen) or at most N.")
@click.option("--max-attempts", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Attempts per request before its rows are recorded as failed.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Accepted as run accepts it (undo prints no live progress).")
def undo_command(ledger_path: str, runs: tuple[int, ...], dry_run: bool, base_url: str, token_env: str,
                 rate: Rate | None, concurrency: int | None, max_attempts: int, timeout: float, as_json: bool,
                 progress: bool | None) -> None:
    """Remove exactly the associations the ledger's runs created (only the type created; a type the pair
    had before stays), and put back what a --mirror run deleted.

    Rate-limited like run; resumable (rerun after an interrupt sends nothing for what is done). Exit 0
    all undone, 1 some failed, 2 usage (or a ledger of another portal), 3 aborted and resumable.
    """
    del progress
    token = read_token(token_env, required=not dry_run)
    try:
        base_url = check_base_url(base_url)
    except ValueError as exc:
        fail(str(exc))
    config = UndoConfig(ledger=ledger_path, base_url=base_url, token=token, token_env=token_env, rate=rate,
                        concurrency=concurrency, timeout=timeout, retry=RetryPolicy(max_attempts=max_attempts),
                        runs=runs or None, dry_run=dry_run)
    try:
        summary = asyncio.run(undo_async(config, rand=random.Random().random, version=__version__,
                                         portal_check=_portal_check, signals=_signals))
    except (LedgerError, ValueError) as exc:
        fail(str(exc))
    finish(summary, as_json)
