"""The `bulkassoc` command: a thin click shell over the library.

Every option also reads BULKASSOC_<OPTION> from the environment. Errors a user can cause end in
one line on stderr and exit 2; the token is read from an environment variable, never a flag.
"""

from __future__ import annotations

import gc
import sys

import click

from .._version import __version__
from ..engine.config import ConfigError, RunConfig
from ..hubspot.outcomes import RetryPolicy
from ..ledger.store import LedgerError
from ..pacing.rate import Rate
from ..rows.reader import InputError
from .envvars import EnvCommand
from .input_options import input_options
from .options import CONTEXT, connection_options, fail, finish, read_token
from .watch_options import progress_settings, watch_options

__all__ = ["cli", "main"]

@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="bulkassoc")
def cli() -> None:
    """Create HubSpot CRM associations in bulk: rate-limited, resumable, loss-free.

    Every option also reads BULKASSOC_<OPTION> from the environment (--json: BULKASSOC_JSON,
    --format: BULKASSOC_FORMAT); each command's --help names them.
    """


cli.command_class = EnvCommand


@cli.command("run", context_settings=CONTEXT)
@click.argument("input_path", metavar="INPUT", type=click.Path(allow_dash=True, dir_okay=False))
@connection_options
@click.option("--retry-failed/--skip-failed", default=True, show_default=True,
              help="On a rerun, attempt rows whose last outcome was a failure again, or leave them.")
@click.option("--dry-run", is_flag=True, help="Read and validate everything, count what would be sent; no network.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr: a live line on a terminal, else a timestamped line every --log-interval "
                   "seconds [default: on].")
@watch_options
@click.option("--preflight/--no-preflight", default=True, show_default=True,
              help="Before the first write, check the token (and learn the portal) with one cheap request, and "
                   "each (fromType, toType) pair's association types with the labels endpoint.")
@click.option("--daily-reserve", type=click.IntRange(0), default=None, metavar="N",
              help="Stop (exit 3) when the daily quota left reaches N, keeping it for the account's other "
                   "integrations [default: 1% of the daily limit the headers report].")
@click.option("--mode", type=click.Choice(["single", "batch"]), default="single", show_default=True,
              help="One PUT per row, or v4 batch create (up to --batch-size rows per request).")
@click.option("--batch-size", type=click.IntRange(1, 2000), default=100, show_default=True,
              help="Rows per batch call in batch mode (HubSpot accepts up to 2000).")
@click.option("--api", default="v3", show_default=True, metavar="v3|v4|YYYY-MM",
              help="Endpoint family: v3 (the seed endpoints), v4, or a date version such as 2026-09 "
                   "(v1-v4 go unsupported in 2027).")
@click.option("--association-category", "category", default="HUBSPOT_DEFINED", show_default=True,
              type=click.Choice(["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"]),
              help="associationCategory sent with v4, date-versioned and batch writes.")
@click.option("--resend", is_flag=True,
              help="Send rows the ledger records as succeeded again (suspected drift), recording them anew.")
@click.option("--read-first/--no-read-first", "read_first", default=None,
              help="Read what exists before writing (≤ 1 batch read per 1,000 rows): rows already there are "
                   "recorded present and not sent, and a labelled write keeps the pair's other labels "
                   "[default: on for --mode batch, --api v4 / YYYY-MM and --mirror; off for v3 PUTs].")
@click.option("--mirror", is_flag=True,
              help="The file is the truth for its scope (its fromIds × the toType/type pairs it uses): remove "
                   "associations in that scope it no longer lists (only that type; undoable).")
@click.option("--max-deletes", default="5%", show_default=True, metavar="N|P%",
              help="Mirror guard: refuse (exit 2, nothing written or deleted) to delete more than N "
                   "associations or P% of the scope.")
@click.option("--deletes-out", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Mirror: write the deletes (what a --dry-run would delete) as CSV.")
@input_options
@click.option("--failed-out", type=click.Path(dir_okay=False, allow_dash=False), default=None,
              help="With --dry-run: write the rows that would fail (invalid) as a CSV, with the reason.")
def run_command(
    input_path: str, from_type: str | None, fmt: str | None, ledger: str | None, base_url: str, token_env: str,
    rate: Rate | None, concurrency: int | None, max_attempts: int, timeout: float, retry_failed: bool, dry_run: bool,
    as_json: bool, progress: bool | None, log_file: str | None, log_format: str, log_interval: float,
    timeline_interval: float, preflight: bool, daily_reserve: int | None, mode: str, batch_size: int,
    api: str, category: str, resend: bool, read_first: bool | None, mirror: bool, max_deletes: str,
    deletes_out: str | None, delimiter: str | None, columns: tuple[tuple[str, str], ...],
    from_id_property: str | None, to_id_property: str | None, refresh_ids: bool, stop_on_mass_failure: bool,
    failed_out: str | None,
) -> None:
    """Create one association per row of INPUT (CSV or JSONL; '-' for stdin).

    Rerunning the same command resumes: rows recorded as succeeded are skipped.
    """
    from .._api import run

    token = read_token(token_env, required=not dry_run or mirror)
    try:
        config = RunConfig(
            input=input_path, from_type=from_type, format=fmt, ledger=ledger,  # type: ignore[arg-type]
            base_url=base_url, token=token, token_env=token_env, rate=rate, concurrency=concurrency,
            timeout=timeout, retry=RetryPolicy(max_attempts=max_attempts), retry_failed=retry_failed,
            dry_run=dry_run, preflight=preflight, daily_reserve=daily_reserve, resend=resend,
            mode=mode, batch_size=batch_size, api=api, category=category,  # type: ignore[arg-type]
            read_first=read_first, mirror=mirror, max_deletes=max_deletes, deletes_out=deletes_out,
            handle_signals=True, log_file=log_file, log_format=log_format,  # type: ignore[arg-type]
            timeline_interval=timeline_interval,
            **progress_settings(progress, sys.stderr.isatty(), log_interval),
            delimiter=delimiter, columns=columns, from_id_property=from_id_property, to_id_property=to_id_property,
            refresh_ids=refresh_ids, stop_on_mass_failure=50 if stop_on_mass_failure else None,
            failed_out=failed_out if dry_run else None,
        )
        if failed_out and not dry_run:
            fail("--failed-out goes with --dry-run (after a run: bulkassoc report LEDGER --failed-out FILE)")
        # the start-up's objects (imports, options) stay out of the run's collections: a full collection
        # of them held the loop for 100-200 ms, and the pacer loses the start slots of a loop that waits
        gc.collect()
        gc.freeze()
        summary = run(config)
    except (ConfigError, InputError, LedgerError) as exc:
        fail(str(exc))
    finish(summary, as_json)


@cli.command("demo", context_settings=CONTEXT)
@click.option("--progress/--no-progress", default=None, help="Live progress [default: on when stderr is a terminal].")
def demo_command(progress: bool | None) -> None:
    """Run the sample data against an in-process fake HubSpot (no token, no network)."""
    from .demo import run_demo

    sys.exit(run_demo(progress=sys.stderr.isatty() if progress is None else progress))


def _register_optional() -> None:
    from .check_command import check_command
    from .fake_command import fake_hubspot_command
    from .report_command import report_command
    from .types_command import types_command
    from .undo_command import undo_command
    from .verify_command import verify_command

    cli.add_command(fake_hubspot_command)
    cli.add_command(report_command)
    cli.add_command(undo_command)
    cli.add_command(verify_command)
    cli.add_command(check_command)
    cli.add_command(types_command)


_register_optional()


def main() -> None:
    cli.main(prog_name="bulkassoc")
