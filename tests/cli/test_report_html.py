"""Issue 16: `report --html` on the ledger of a run that had 429 pauses, retries and failures: one
self-contained page with a chart for each series; without the plotting extra, one line says how to get it."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.pacing.rate import Rate
from bulkassoc.report.page import CHARTS

from ..reliability._harness import TOKEN, arun, env

SERIES = ["pace allowed (req/s)", "limit advertised by HubSpot (req/s)", "requests started (req/s)",
          "429 answers", "retries (resent attempts)", "succeeded (cumulative)", "failed (cumulative)",
          "latency p50 (ms)", "latency p90 (ms)", "latency p99 (ms)", "OBJECT_NOT_FOUND", "INVALID_ROW"]


def troubled_fake() -> FakeConfig:
    """A 10/1s window the client overruns at first (16 requests start before the first answer tells it the
    limit), 15% of answers 5xx or dropped (retries), and fromIds 1-60 known (61-64 get 404)."""
    known = {"partner_services": frozenset(str(i) for i in range(1, 61)),
             "contacts": frozenset(str(100 + i) for i in range(1, 65))}
    return FakeConfig(rate=Rate(10, 1.0), token=TOKEN, latency_ms=600, fail_rate=0.15, seed=5, retry_after=True,
                      known_ids=known)


def troubled_input(path: Path) -> Path:
    path.write_text("fromId,toType,toId,type\n" + "".join(f"{i},contacts,{100 + i},1\n" for i in range(1, 65))
                    + "x,contacts,1,1\n")
    return path


async def troubled_run(tmp_path: Path) -> Path:
    src = troubled_input(tmp_path / "links.csv")
    async with FakeHubSpot(troubled_fake()) as fake:
        r = await arun("run", str(src), "--from-type", "partner_services", "--base-url", fake.url, "--rate", "50/1s",
                       "--concurrency", "16", "--no-preflight", "--no-progress", "--timeline-interval", "0.5",
                       timeout=90)
    assert r.returncode == 1, r.stderr
    return Path(f"{src}.ledger.sqlite")


async def test_the_page_has_a_chart_for_each_series(tmp_path: Path) -> None:
    ledger = await troubled_run(tmp_path)
    conn = sqlite3.connect(ledger)
    try:
        throttled, retries, failed, points = conn.execute(
            "SELECT sum(throttled), sum(retries), sum(failed), count(*) FROM timeline").fetchone()
    finally:
        conn.close()
    assert throttled >= 1 and retries >= 1 and failed >= 4 and points >= 4  # the run had what the page shows

    page = tmp_path / "run.html"
    r = await arun("report", str(ledger), "--html", str(page))
    assert r.returncode == 0, r.stderr
    text = page.read_text()
    for key, title in CHARTS.items():
        section = re.search(rf'<section id="{key}"><h2>{re.escape(title)}</h2>\s*<svg.*?</svg>\s*</section>', text,
                            re.S)
        assert section is not None, key
    for name in SERIES:
        assert f">{name}<" in text, name
    # self-contained: no script, stylesheet, image or font fetched from anywhere
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert not re.search(r'(src|href)="https?://', text)


def test_without_the_extra_one_line_says_how_to_install_it(tmp_path: Path) -> None:
    ledger = tmp_path / "none.sqlite"
    code = ("import sys; sys.modules['matplotlib'] = None; from bulkassoc.cli import main; "
            f"sys.argv = ['bulkassoc', 'report', {str(ledger)!r}, '--html', 'x.html']; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "bulkassoc: error: report --html needs the plotting extra: pip install 'bulkassoc[report]'\n"
