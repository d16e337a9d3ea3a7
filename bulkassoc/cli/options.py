"""Click pieces shared by the `bulkassoc` commands (kept apart from cli.py so that command modules
registered by cli.py can use them without importing it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ..engine.config import DEFAULT_BASE_URL, DEFAULT_TOKEN_ENV
from ..pacing.rate import Rate, parse_rate
from ..rows.reader import validate_object_type

__all__ = ["CONTEXT", "RateType", "connection_options", "fail", "read_connection_options"]

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"auto_envvar_prefix": "BULKASSOC", "help_option_names": ["-h", "--help"]}


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"bulkassoc: error: {message}", err=True)
    sys.exit(code)


class RateType(click.ParamType):  # type: ignore[type-arg]
    """`N/Ds`, or `auto` (converted to None: learn the limit from HubSpot's headers)."""

    name = "N/Ds|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Rate | None:
        if value is None or isinstance(value, Rate):
            return value
        if str(value).strip().lower() == "auto":
            return None
        try:
            return parse_rate(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class ConcurrencyType(click.ParamType):  # type: ignore[type-arg]
    """`auto` (converted to None: in flight = pace × latency), or a hard cap N in 1..256."""

    name = "auto|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return None
        if text.isdigit() and 1 <= int(text) <= 256:
            return int(text)
        self.fail(f"{value!r} is neither 'auto' nor a number of requests from 1 to 256", param, ctx)


def finish(summary: Any, as_json: bool) -> NoReturn:
    """End a command: its human summary on stderr, the JSON one on stdout with --json, its exit code."""
    import orjson

    click.echo(summary.human(), err=True)
    if as_json:
        click.echo(orjson.dumps(summary.to_dict()).decode())
    sys.exit(summary.exit_code)


def read_token(token_env: str, *, required: bool = True) -> str:
    """The access token from the environment (never a flag); a usage error when it is required and unset."""
    token = os.environ.get(token_env, "").strip()
    if required and not token:
        fail(f"no access token: set the environment variable {token_env} (or pass --token-env NAME)")
    if token and not (token.isascii() and token.isprintable() and " " not in token):  # never shown
        fail(f"the access token in {token_env} has spaces, control or non-ASCII characters, which no "
             "HubSpot token has: copy it again")
    return token


def _check_from_type(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not validate_object_type(value.strip()):
        raise click.BadParameter(f"{value!r} is not an object type name (e.g. partner_services) or type ID (e.g. 0-1)")
    return None if value is None else value.strip()


def _add_connection_options(fn: F, *, ledger_hidden: bool) -> F:
    for decorator in reversed([
        click.option("--from-type", "from_type", callback=_check_from_type, metavar="TYPE",
                     help="Object type of fromId for rows without a fromType column (e.g. partner_services)."),
        click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
                     help="Input format (default: by extension; required for '-')."),
        click.option("--ledger", type=click.Path(dir_okay=False), default=None, hidden=ledger_hidden,
                     help="Resumable record of outcomes [default: INPUT.ledger.sqlite; required with '-']."),
        click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
                     help="API root; http:// only to a loopback host."),
        click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True, metavar="NAME",
                     help="Environment variable that holds the access token."),
        click.option("--rate", type=RateType(), default="100/10s", show_default=True,
                     help="At most N requests started in any rolling window of D (100/10s, 20/1s, 5/500ms), "
                          "or 'auto' (recommended): start at 100/10s and follow the X-HubSpot-RateLimit-* headers. "
                          "The associations API has its own limits, below the general ones: 100/10s on "
                          "Free/Starter, 150/10s on Professional/Enterprise, up to 200/10s with the increase, "
                          "500,000 a day. An explicit rate is a ceiling: the headers can only slow it down."),
        click.option("--concurrency", type=ConcurrencyType(), default="auto", show_default=True,
                     help="Requests in flight: 'auto' follows the pace × HubSpot's latency (2 to 64); "
                          "a number N is a hard cap."),
        click.option("--max-attempts", type=click.IntRange(1, 100), default=5, show_default=True,
                     help="Attempts per row in one run before it is recorded as failed."),
        click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
                     help="Seconds per request."),
    ]):
        fn = decorator(fn)
    return fn


def connection_options(fn: F) -> F:
    """Options shared by every command that talks to HubSpot."""
    return _add_connection_options(fn, ledger_hidden=False)


def read_connection_options(fn: F) -> F:
    """The same options for commands that keep no ledger: `--ledger` is accepted, so that a `run`
    command line works unchanged, but hidden from the help (the command ignores it)."""
    return _add_connection_options(fn, ledger_hidden=True)
