"""`bulkassoc demo`: the sample data through the real engine against an in-process fake HubSpot.

No token and no network: the fake listens on 127.0.0.1 with a time-scaled rolling window
(HubSpot's 190/10s, ten times faster), seeded so that the sample's unknown IDs answer 404.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click

from .._api import run_async
from ..engine.config import RunConfig
from ..engine.summary import RunSummary
from ..fake.sample import KeyedSample, sample_fake_config, write_sample_data
from ..fake.server import FakeConfig, FakeHubSpot
from ..hubspot.outcomes import RetryPolicy
from ..ledger.report import read_report, write_failed_csv
from ..pacing.rate import Rate

__all__ = ["run_demo"]

# HubSpot Professional's pace (190/10s) ten times faster, in a 2 s window: client and fake share
# one event loop here, and the window must be long enough for the limiter's margin to cover its stalls
DEMO_RATE = Rate(380, 2.0)
DEMO_TOKEN = "demo-token"  # a token for the local fake only


async def _demo(workdir: Path, progress: bool) -> list[RunSummary]:
    info = write_sample_data(workdir)
    fake_config = sample_fake_config(FakeConfig(rate=DEMO_RATE, token=DEMO_TOKEN, latency_ms=20, seed=7))
    summaries = []
    async with FakeHubSpot(fake_config) as fake:
        click.echo(f"fake HubSpot on {fake.url}: rolling window {DEMO_RATE} (the pace of 190/10s, 10x faster), "
                   "unknown sample IDs answer 404", err=True)
        for sample in (info.services, info.clients):
            path = workdir / sample.name
            click.echo(f"\n$ bulkassoc run {sample.name}"
                       + (f" --from-type {sample.from_type}" if sample.from_type else "")
                       + f" --ledger demo.sqlite --rate {DEMO_RATE} --base-url {fake.url}", err=True)
            # one ledger for both files: the second run keeps the first one's pace (no burst into
            # the window the first run just filled), as a nightly sync sharing a ledger does
            config = RunConfig(input=path, from_type=sample.from_type, base_url=fake.url, token=DEMO_TOKEN,
                               ledger=workdir / "demo.sqlite",
                               rate=DEMO_RATE, concurrency=8, retry=RetryPolicy(backoff_base=0.2),
                               progress=progress, handle_signals=True)
            summary = await run_async(config)
            click.echo(summary.human(), err=True)
            summaries.append(summary)
            if summary.aborted:
                break
        else:
            summaries.append(await _keyed(workdir, info.keyed, fake.url, progress))
        click.echo(f"\nthe fake stored {len(fake.associations()):,} associations from "
                   f"{fake.stats.requests:,} requests, and answered {fake.stats.throttled} with 429", err=True)
    return summaries


async def _keyed(workdir: Path, sample: KeyedSample, url: str, progress: bool) -> RunSummary:
    """The file keyed as users' data is: legacy IDs, e-mails, labels by name; `;`-separated, export headers."""
    columns = (("fromId", "legacy_id"), ("toId", "contact_email"))
    click.echo(f"\n$ bulkassoc run {sample.name} --from-type {sample.from_type} --from-id-property "
               f"{sample.from_id_property} --to-id-property {sample.to_id_property} --column fromId=legacy_id "
               f"--column toId=contact_email --mode batch --ledger demo.sqlite --base-url {url}", err=True)
    config = RunConfig(input=workdir / sample.name, from_type=sample.from_type, base_url=url, token=DEMO_TOKEN,
                       ledger=workdir / "demo.sqlite", rate=DEMO_RATE, concurrency=8,
                       retry=RetryPolicy(backoff_base=0.2), progress=progress, handle_signals=True, mode="batch",
                       columns=columns, from_id_property=sample.from_id_property,
                       to_id_property=sample.to_id_property)
    summary = await run_async(config)
    click.echo(summary.human(), err=True)
    return summary


def run_demo(*, progress: bool) -> int:
    """Run the demo; returns the exit code (0 unless something is broken)."""
    with tempfile.TemporaryDirectory(prefix="bulkassoc-demo-") as tmp:
        workdir = Path(tmp)
        summaries = asyncio.run(_demo(workdir, progress))
        ledger = workdir / "demo.sqlite"
        report = read_report(ledger)
        click.echo("\n$ bulkassoc report demo.sqlite --failed-out failed.csv", err=True)
        click.echo(report.human(), err=True)
        failed = workdir / "failed.csv"
        count = write_failed_csv(ledger, failed)
        click.echo(f"failed.csv ({count} rows, first 15):", err=True)
        for line in failed.read_text(encoding="utf-8").splitlines()[:16]:
            click.echo(f"  {line}", err=True)
        ok = all(s.aborted is None and s.exit_code in (0, 1) for s in summaries) and len(summaries) == 3
        click.echo("\ndemo finished: the failed rows above are the sample's deliberate mistakes" if ok
                   else "\ndemo did not finish as expected", err=True)
        return 0 if ok else 1
