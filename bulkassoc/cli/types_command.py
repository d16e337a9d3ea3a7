"""`bulkassoc types FROMTYPE TOTYPE`: the association types a portal defines for one pair, by ID, v3 name,
label and category: what the type column of an input may say."""

from __future__ import annotations

import asyncio
import random
import sys

import click
import orjson

from .._version import __version__
from ..engine.config import ConfigError
from ..hubspot.caller import Caller, CallerConfig, make_mask
from ..hubspot.halt import Halt, Halted
from ..hubspot.outcomes import RetryPolicy
from ..hubspot.urls import check_base_url
from ..keys.types import TypeBook, TypeDefs
from ..pacing.rate import Rate
from .options import CONTEXT, ConcurrencyType, RateType, fail, read_token

__all__ = ["types_command"]


async def _read(config: CallerConfig, from_type: str, to_type: str) -> tuple[TypeDefs | None, Halt]:
    halt = Halt(make_mask(config.token))
    async with Caller(config, halt, rand=random.random) as caller:
        try:
            return await TypeBook(caller).definitions(from_type, to_type), halt
        except Halted:
            return None, halt


@click.command("types", context_settings=CONTEXT)
@click.argument("from_type", metavar="FROMTYPE")
@click.argument("to_type", metavar="TOTYPE")
@click.option("--base-url", default="https://api.hubapi.com", show_default=True, help="API root.")
@click.option("--token-env", default="HUBSPOT_ACCESS_TOKEN", show_default=True, metavar="NAME",
              help="Environment variable that holds the access token.")
@click.option("--rate", type=RateType(), default="100/10s", show_default=True, help="Request pace.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds per request.")
@click.option("--concurrency", type=ConcurrencyType(), default="auto", show_default=True,
              help="Requests in flight: 'auto' (what the pace needs at the latency seen) or at most N.")
@click.option("--progress/--no-progress", default=False, help="Accepted like run's (two reads: no progress).")
@click.option("--json", "as_json", is_flag=True, help="Print the types as one JSON object on stdout.")
def types_command(from_type: str, to_type: str, base_url: str, token_env: str, rate: Rate | None, timeout: float,
                  concurrency: int | None, progress: bool, as_json: bool) -> None:
    """Print the portal's association types for FROMTYPE → TOTYPE: ID, name, label, category."""
    del progress
    token = read_token(token_env)
    try:
        url = check_base_url(base_url)
    except (ValueError, ConfigError) as exc:
        fail(str(exc))
    config = CallerConfig(base_url=url, token=token, token_env=token_env, rate=rate, concurrency=concurrency,
                          timeout=timeout,
                          retry=RetryPolicy(), daily_reserve=None, user_agent=f"bulkassoc/{__version__}")
    defs, halt = asyncio.run(_read(config, from_type.strip(), to_type.strip()))
    if halt.reason is not None:
        fail(halt.message, 3)
    types = defs.types if defs is not None else ()
    if as_json:
        click.echo(orjson.dumps({"fromType": from_type, "toType": to_type,
                                 "types": [t.to_dict() for t in types]}).decode())
    else:
        click.echo(f"{'ID':>10}  {'NAME':<40}  {'LABEL':<30}  CATEGORY")
        for t in types:
            click.echo(f"{t.type_id:>10}  {t.name or '-':<40}  {t.label or '-':<30}  {t.category or '-'}")
    if not types:
        click.echo(f"HubSpot listed no association types for {from_type} → {to_type} (check both object types)",
                   err=True)
        sys.exit(1)
