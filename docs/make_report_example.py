"""Make docs/report-example.html and docs/report-example.png: `report --html` on the ledger of a run
against the local fake HubSpot that overruns a 10/1s window at first (429 pauses), gets 15% 5xx or
dropped answers (retries), 404s for unknown records and one invalid row.

    python docs/make_report_example.py      (needs pip install -e '.[report]')
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.pacing.rate import Rate

HERE = Path(__file__).parent
ROWS = 240


async def make_ledger() -> Path:
    work = Path(tempfile.mkdtemp(prefix="bulkassoc-docs-"))
    src = work / "links.csv"
    src.write_text("fromId,toType,toId,type\n" + "".join(f"{i},contacts,{1000 + i},1\n" for i in range(1, ROWS + 1))
                   + "x,contacts,1,1\n")
    known = {"partner_services": frozenset(str(i) for i in range(1, ROWS + 1) if i % 17),
             "contacts": frozenset(str(1000 + i) for i in range(1, ROWS + 1))}
    config = FakeConfig(rate=Rate(10, 1.0), token="demo", latency_ms=600, fail_rate=0.1, seed=5, retry_after=True,
                        known_ids=known)
    async with FakeHubSpot(config) as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bulkassoc", "run", str(src), "--from-type", "partner_services", "--base-url",
            fake.url, "--rate", "50/1s", "--concurrency", "16", "--no-preflight", "--no-progress",
            "--timeline-interval", "1", env={"HUBSPOT_ACCESS_TOKEN": "demo", "PATH": ""})
        await proc.wait()
    return Path(f"{src}.ledger.sqlite")


def screenshot(ledger: Path, out: Path) -> None:
    """The page's charts in one PNG, for the README."""
    from matplotlib.figure import Figure

    from bulkassoc.report.page import CHARTS, drawers, read_ledger

    points, by_category, _ = read_ledger(ledger)
    draw = drawers(points, by_category)
    fig = Figure(figsize=(10, 15), layout="constrained")
    for ax, (key, title) in zip(fig.subplots(len(CHARTS), 1), CHARTS.items(), strict=True):
        draw[key](ax)
        ax.set_title(title, loc="left", fontsize=11)
        ax.grid(True, alpha=0.3)
    fig.savefig(out, dpi=72)


if __name__ == "__main__":
    ledger = asyncio.run(make_ledger())
    subprocess.run([sys.executable, "-m", "bulkassoc", "report", str(ledger), "--html",
                    str(HERE / "report-example.html")], check=True)
    screenshot(ledger, HERE / "report-example.png")
