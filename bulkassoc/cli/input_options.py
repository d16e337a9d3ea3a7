"""Click options for inputs keyed the way users' data is keyed (shared by `run` and `check`): the CSV
delimiter, source columns mapped onto ours, the unique properties fromId / toId values belong to, and
forgetting cached lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..rows.header import parse_column_map

__all__ = ["input_options", "read_options"]

F = TypeVar("F", bound=Callable[..., Any])


def _columns(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    try:
        return parse_column_map(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def read_options(fn: F) -> F:
    """How to read the input: delimiter, column mapping, the properties keyed IDs belong to."""
    for decorator in reversed(_READ):
        fn = decorator(fn)
    return fn


def input_options(fn: F) -> F:
    """`read_options`, and for the commands that keep a ledger: --refresh-ids, --stop-on-mass-failure."""
    for decorator in reversed([*_READ, *_LEDGER]):
        fn = decorator(fn)
    return fn


_READ = [
    click.option("--delimiter", default=None, metavar="CHAR",
                 help="CSV delimiter: ',', ';' or 'tab' [default: detected from the header among , ; tab]."),
    click.option("--column", "columns", multiple=True, callback=_columns, metavar="NAME=SOURCE",
                 help="Read our column NAME (fromId, toId, fromType, toType, type, fromIdProperty, "
                      "toIdProperty) from the input's column SOURCE; repeatable."),
    click.option("--from-id-property", default=None, metavar="PROP",
                 help="fromId values are values of this unique property (e.g. email, legacy_id), resolved "
                      "to record IDs with batch reads (a fromIdProperty column overrides it per row)."),
    click.option("--to-id-property", default=None, metavar="PROP",
                 help="The same for toId (a toIdProperty column overrides it per row)."),
]
_LEDGER = [
    click.option("--refresh-ids", is_flag=True,
                 help="Forget the ledger's cached lookups and resolve every value again."),
    click.option("--stop-on-mass-failure/--no-stop-on-mass-failure", "stop_on_mass_failure", default=True,
                 show_default=True,
                 help="Stop (exit 3, resumable) when the first 50 answers of a (fromType, toType) pair all "
                      "fail the same way, e.g. 404 on every row after a misspelled --from-type."),
]
