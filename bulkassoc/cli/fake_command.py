"""`bulkassoc fake-hubspot`: run the fake HubSpot until Ctrl-C or SIGTERM.

The main CLI registers it with `cli.add_command(fake_hubspot_command)`. Stdout gets exactly one line,
`fake HubSpot listening on URL`, so scripts can read the URL; everything else goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from bulkassoc.pacing.rate import Rate, parse_rate

if TYPE_CHECKING:  # the server (aiohttp.web) is imported when the command runs, not when the CLI starts
    from bulkassoc.fake.server import FakeConfig, FakeHubSpot

__all__ = ["fake_hubspot_command"]

_OBJECT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*|\d+-\d+")


def _parse_rate(ctx: click.Context, param: click.Parameter, value: str) -> Rate | None:
    """`N/Ds` as for `run --rate`, or `off` for no limit (benchmarks)."""
    if value.strip().lower() in ("off", "none"):
        return None
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (or 'off')") from None


def _check_token(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def _parse_scopes(ctx: click.Context, param: click.Parameter, value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    types = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in types if not _OBJECT_TYPE.fullmatch(t)]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not an object type (e.g. partner_services, contacts, 0-1)")
    return frozenset(types)


@click.command("fake-hubspot", short_help="Run a local HubSpot stand-in (no token, no network).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0 = any free port; the URL printed says which).")
@click.option("--rate", callback=_parse_rate, metavar="N/Ds|off", default="100/10s", show_default=True,
              help="Rolling-window limit: at most N requests in any D seconds, else 429; 'off' for none.")
@click.option("--daily", type=click.IntRange(min=1), default=None,
              help="Daily request budget, then 429 DAILY; also sends the -Daily rate-limit headers.")
@click.option("--token", callback=_check_token, default="fake-token", show_default=True,
              help="The access token to accept (Authorization: Bearer TOKEN); anything else gets 401.")
@click.option("--scopes", callback=_parse_scopes, metavar="TYPE,…", default=None,
              help="Object types the token may write associations from; others get 403 MISSING_SCOPES. "
                   "[default: all]")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of requests answered 502/503/504 or with a dropped connection.")
@click.option("--lock-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Fraction of requests answered 423 Locked.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Mean added latency per request, with ±50% jitter.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for faults and latency: the same seed and request order give the same answers.")
@click.option("--retry-after/--no-retry-after", default=False, show_default=True,
              help="Send Retry-After (seconds) on 429 (HubSpot does not document one).")
@click.option("--rate-headers/--no-rate-headers", default=True, show_default=True,
              help="Send the X-HubSpot-RateLimit-* headers.")
@click.option("--count-rejected/--no-count-rejected", default=False, show_default=True,
              help="Whether 429'd requests use up the window and the daily budget too.")
@click.option("--portal-id", type=click.IntRange(min=1), default=12345678, show_default=True,
              help="Portal (account) ID reported by /account-info/v3/details.")
@click.option("--sample-data", is_flag=True,
              help="Know only the records and association types of sample_data/, so its unknown IDs "
                   "get 404 and its wrong-direction types 400 (default: every numeric ID exists).")
def fake_hubspot_command(host: str, port: int, rate: Rate | None, daily: int | None, token: str,
                         scopes: frozenset[str] | None, fail_rate: float, lock_rate: float,
                         latency_ms: float, seed: int, retry_after: bool, rate_headers: bool,
                         count_rejected: bool, portal_id: int, sample_data: bool) -> None:
    """Serve HubSpot's association API locally, with its rate limits, errors and faults.

    Runs until Ctrl-C. Point `bulkassoc run --base-url` at the printed URL and set the token
    variable to the --token value.
    """
    from bulkassoc.fake.sample import sample_fake_config
    from bulkassoc.fake.server import FakeConfig, FakeHubSpot

    try:
        config = FakeConfig(rate=rate, daily=daily, token=token, scopes=scopes, fail_rate=fail_rate,
                            lock_rate=lock_rate, latency_ms=latency_ms, seed=seed, rate_headers=rate_headers,
                            retry_after=retry_after, count_rejected=count_rejected, portal_id=portal_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if sample_data:
        config = sample_fake_config(config)
    with contextlib.suppress(KeyboardInterrupt):  # where signal handlers are unavailable (Windows)
        asyncio.run(_serve(FakeHubSpot(config), host, port))


async def _serve(fake: FakeHubSpot, host: str, port: int) -> None:
    try:
        url = await fake.start(host, port)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = [s for s in (signal.SIGINT, signal.SIGTERM) if _on_signal(loop, s, stop.set)]
    try:
        click.echo(f"fake HubSpot listening on {url}")  # click.echo flushes: a reader sees it at once
        click.echo(_describe(fake.config), err=True)
        await stop.wait()
    finally:
        for s in signals:
            loop.remove_signal_handler(s)
        await fake.stop()
    stats = fake.stats
    click.echo(f"fake HubSpot stopped: {stats.requests} requests, {stats.associations_stored} "
               f"associations stored, {stats.throttled + stats.daily_throttled} throttled", err=True)


def _on_signal(loop: asyncio.AbstractEventLoop, sig: signal.Signals, callback: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(sig, callback)
    except (NotImplementedError, RuntimeError):
        return False
    return True


def _describe(config: FakeConfig) -> str:
    parts = [f"rate {config.rate or 'off'}", f"token {config.token!r}"]
    if config.daily is not None:
        parts.append(f"daily {config.daily}")
    if config.fail_rate or config.lock_rate:
        parts.append(f"faults {config.fail_rate:g} + locks {config.lock_rate:g} (seed {config.seed})")
    if config.latency_ms:
        parts.append(f"latency ~{config.latency_ms:g} ms")
    if config.known_ids is not None:
        parts.append("seeded with sample_data IDs")
    return "; ".join(parts) + ". Ctrl-C to stop."
