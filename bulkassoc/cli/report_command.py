"""`bulkassoc report LEDGER`: totals, the failed rows as a CSV, the picture of the run (registered by main.py)."""

from __future__ import annotations

import sys

import click
import orjson

from ..ledger.store import LedgerError
from .envvars import EnvCommand
from .options import CONTEXT, fail

__all__ = ["report_command"]


@click.command("report", cls=EnvCommand, context_settings=CONTEXT)
@click.argument("ledger_path", metavar="LEDGER", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the totals as one JSON object on stdout.")
@click.option("--failed-out", type=click.Path(dir_okay=False, allow_dash=False), default=None,
              help="Write every failed and invalid row as a CSV that `bulkassoc run` accepts.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, allow_dash=False), default=None, metavar="PATH",
              help="Write one self-contained HTML page with charts of the ledger's runs (pace vs limit, 429s and "
                   "retries, progress, latency, failures); needs pip install 'bulkassoc[report]'.")
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Exit 1 when the ledger holds failed or invalid rows, 0 when it holds none (for scripts; "
                   "without it, report exits 0 whenever it could read the ledger).")
@click.option("--lookups-out", type=click.Path(dir_okay=False, allow_dash=False), default=None, metavar="PATH",
              help="Write every value resolved by a unique property (the value given, the record ID used) as CSV.")
def report_command(ledger_path: str, as_json: bool, failed_out: str | None, html_out: str | None,
                   exit_code: bool, lookups_out: str | None) -> None:
    """Summarise the ledger LEDGER (the file `bulkassoc run` wrote, by default INPUT.ledger.sqlite);
    optionally write its failed rows for a retry, or a page with charts of its runs."""
    from ..ledger.report import read_report, write_failed_csv, write_lookups_csv

    if html_out is not None:
        from ..report.page import MISSING_EXTRA, plotting_available

        if not plotting_available():
            fail(MISSING_EXTRA)
    try:
        report = read_report(ledger_path)
        written = write_failed_csv(ledger_path, failed_out) if failed_out else None
        resolved = write_lookups_csv(ledger_path, lookups_out) if lookups_out else None
        if html_out is not None:
            from ..report.page import write_page

            write_page(ledger_path, html_out)
    except LedgerError as exc:
        fail(str(exc))
    if as_json:
        click.echo(orjson.dumps(report.to_dict()).decode())
    else:
        click.echo(report.human())
    if written is not None:
        click.echo(f"wrote {written:,} failed and invalid rows to {failed_out}", err=True)
    if resolved is not None:
        click.echo(f"wrote {resolved:,} resolved values to {lookups_out}", err=True)
    if html_out is not None:
        click.echo(f"wrote the charts of the ledger's runs to {html_out}", err=True)
    sys.exit(1 if exit_code and (report.failed or report.invalid) else 0)
