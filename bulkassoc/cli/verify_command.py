"""`bulkassoc verify INPUT`: the click shell over `verify_async` (registered by cli.py)."""

from __future__ import annotations

import asyncio
import sys

import click

from ..engine.config import ConfigError
from ..hubspot.outcomes import RetryPolicy
from ..pacing.rate import Rate
from ..rows.reader import InputError
from .envvars import EnvCommand
from .input_options import read_options
from .options import CONTEXT, fail, finish, read_connection_options, read_token
from .watch_options import progress_settings

__all__ = ["verify_command"]


@click.command("verify", cls=EnvCommand, context_settings=CONTEXT)
@click.argument("input_path", metavar="INPUT", type=click.Path(allow_dash=True, dir_okay=False))
@read_connection_options
@read_options
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object on stdout.")
@click.option("--missing-out", type=click.Path(dir_okay=False, allow_dash=False), default=None,
              help="Write the missing rows as a CSV that `bulkassoc run` accepts.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr: a live line on a terminal, else a timestamped line every --log-interval "
                   "seconds [default: on].")
@click.option("--log-interval", type=click.FloatRange(0.1, 86400), default=30.0, show_default=True,
              metavar="SECONDS", help="Seconds between progress lines when stderr is not a terminal.")
def verify_command(
    input_path: str, from_type: str | None, fmt: str | None, ledger: str | None, base_url: str, token_env: str,
    rate: Rate | None, concurrency: int | None, max_attempts: int, timeout: float, delimiter: str | None,
    columns: tuple[tuple[str, str], ...], from_id_property: str | None, to_id_property: str | None, as_json: bool,
    missing_out: str | None, progress: bool | None, log_interval: float,
) -> None:
    """Check at HubSpot that the associations of INPUT exist (CSV or JSONL; '-' for stdin).

    Reads back the rows' fromIds with the v4 batch read, rate-limited like `run`, and reports the rows
    HubSpot does not hold. Exit 0 when none is missing, 1 when some are (or could not be checked),
    2 for a usage error, 3 when it stopped early (token, scope, daily limit, unreachable, Ctrl-C).
    """
    del ledger  # accepted so that a `run` command line works unchanged; verify keeps no ledger
    token = read_token(token_env)
    from .._api import verify_async
    from ..verify.config import VerifyConfig

    try:
        config = VerifyConfig(
            input=input_path, from_type=from_type, format=fmt, base_url=base_url,  # type: ignore[arg-type]
            token=token, token_env=token_env, rate=rate, concurrency=concurrency, timeout=timeout,
            retry=RetryPolicy(max_attempts=max_attempts), missing_out=missing_out, handle_signals=True,
            **progress_settings(progress, sys.stderr.isatty(), log_interval),
            delimiter=delimiter, columns=columns, from_id_property=from_id_property, to_id_property=to_id_property,
        )
        summary = asyncio.run(verify_async(config))
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    finish(summary, as_json)
