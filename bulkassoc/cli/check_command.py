"""`bulkassoc check INPUT`: what `run` would send and what it would fail, learnt with reads only (the
token, each pair's association types, the lookups of keyed IDs); nothing is written to HubSpot or to
the ledger (a check works on a scratch copy of it)."""

from __future__ import annotations

import sys

import click
import orjson

from ..engine.config import ConfigError, RunConfig
from ..hubspot.outcomes import RetryPolicy
from ..ledger.store import LedgerError
from ..pacing.rate import Rate
from ..rows.reader import InputError
from .input_options import input_options
from .options import CONTEXT, connection_options, fail, read_token

__all__ = ["check_command"]


@click.command("check", context_settings=CONTEXT)
@click.argument("input_path", metavar="INPUT", type=click.Path(allow_dash=True, dir_okay=False))
@connection_options
@input_options
@click.option("--retry-failed/--skip-failed", default=True, show_default=True,
              help="As for run: whether rows the ledger records as failed would be attempted again.")
@click.option("--mode", type=click.Choice(["single", "batch"]), default="single", show_default=True,
              help="The mode the run will use (batch and --api other than v3 need numeric type IDs, resolved here).")
@click.option("--api", default="v3", show_default=True, metavar="v3|v4|YYYY-MM", help="The run's endpoint family.")
@click.option("--failed-out", type=click.Path(dir_okay=False, allow_dash=False), default=None,
              help="Write every row that would fail, and why, as a CSV that `bulkassoc run` accepts.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--progress/--no-progress", default=False, help="Live progress.")
def check_command(
    input_path: str, from_type: str | None, fmt: str | None, ledger: str | None, base_url: str, token_env: str,
    rate: Rate | None, concurrency: int, max_attempts: int, timeout: float, delimiter: str | None,
    columns: tuple[tuple[str, str], ...], from_id_property: str | None, to_id_property: str | None,
    refresh_ids: bool, stop_on_mass_failure: bool, retry_failed: bool, mode: str, api: str,
    failed_out: str | None, as_json: bool, progress: bool,
) -> None:
    """Check INPUT against the portal without writing: token, types, keyed IDs.

    Prints what `run` would send and what it would fail (with --failed-out, every such row and why).
    Exit 0 when every row would be sent, 1 when some would fail or are invalid, 2 for a usage error,
    3 when it stopped early (token, scope, daily limit, unreachable, Ctrl-C).
    """
    del stop_on_mass_failure, progress  # accepted so that a `run` command line works unchanged
    token = read_token(token_env)
    from .._api import run

    try:
        config = RunConfig(
            input=input_path, from_type=from_type, format=fmt, ledger=ledger,  # type: ignore[arg-type]
            base_url=base_url, token=token, token_env=token_env, rate=rate, concurrency=concurrency,
            timeout=timeout, retry=RetryPolicy(max_attempts=max_attempts), retry_failed=retry_failed,
            mode=mode, api=api, check=True, failed_out=failed_out,  # type: ignore[arg-type]
            delimiter=delimiter, columns=columns, from_id_property=from_id_property, to_id_property=to_id_property,
            refresh_ids=refresh_ids, handle_signals=True,
        )
        summary = run(config)
    except (ConfigError, InputError, LedgerError) as exc:
        fail(str(exc))
    click.echo(summary.human(), err=True)
    if failed_out:
        click.echo(f"wrote the rows that would fail to {failed_out}", err=True)
    if as_json:
        click.echo(orjson.dumps(summary.to_dict()).decode())
    sys.exit(summary.exit_code)
