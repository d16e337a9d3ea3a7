"""One self-contained HTML page with charts of a ledger's runs (`bulkassoc report LEDGER --html FILE`).

The charts are drawn by matplotlib (the optional extra `pip install 'bulkassoc[report]'`) as inline
SVG with real text: the page opens offline, needs no script and no CDN, and a test (or grep) can
find every series by its name. Charts: pace vs limit, 429s and retries, cumulative progress,
latency percentiles, failures by category, failures by time. Data: the ledger's `timeline` table
(ledger/timeline.py) and, for failures by category, its failed and invalid rows (retired ones left out).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..ledger.failures import not_retired
from ..ledger.store import LedgerError, connect
from ..ledger.timeline import Point, read_timeline

__all__ = ["CHARTS", "MISSING_EXTRA", "drawers", "plotting_available", "read_ledger", "write_page"]

MISSING_EXTRA = "report --html needs the plotting extra: pip install 'bulkassoc[report]'"
CHARTS = {  # section id -> heading
    "chart-pace": "Pace vs limit",
    "chart-throttles": "429s and retries",
    "chart-progress": "Cumulative progress",
    "chart-latency": "Latency",
    "chart-failures-category": "Failures by category",
    "chart-failures-time": "Failures by time",
}


def plotting_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _when(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)


def _svg(draw: Callable[[Any], None], height: float = 2.8) -> str:
    """Draw on a fresh figure's axes; the figure as an SVG element with its text kept as text."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(9.5, height), layout="constrained")
        ax = fig.subplots()
        draw(ax)
        ax.grid(True, alpha=0.3)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("time (UTC)")


def drawers(points: list[Point], by_category: list[tuple[str, int]]) -> dict[str, Callable[[Any], None]]:
    """For each chart (CHARTS), a function that draws it on a matplotlib Axes."""
    xs = [_when(p.t) for p in points]
    widths = [p.seconds / 86400 * 0.9 for p in points]  # bar widths in days (matplotlib's date unit)

    def pace(ax: Any) -> None:
        ax.step(xs, [p.pace for p in points], where="post", label="pace allowed (req/s)")
        if any(p.advertised is not None for p in points):
            ax.step(xs, [p.advertised for p in points], where="post", linestyle="--",
                    label="limit advertised by HubSpot (req/s)")
        ax.plot(xs, [p.starts / p.seconds if p.seconds else 0 for p in points], marker=".",
                label="requests started (req/s)")
        ax.set_ylabel("requests / s")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower right")
        _time_axis(ax)

    def throttles(ax: Any) -> None:
        ax.bar(xs, [p.throttled for p in points], width=widths, align="edge", label="429 answers")
        ax.bar(xs, [p.retries for p in points], width=widths, align="edge", bottom=[p.throttled for p in points],
               label="retries (resent attempts)")
        ax.set_ylabel("per interval")
        ax.legend(loc="upper right")
        _time_axis(ax)

    def progress(ax: Any) -> None:
        done = failed = 0
        ok, bad = [], []
        for p in points:
            done += p.succeeded
            failed += p.failed
            ok.append(done)
            bad.append(failed)
        ax.plot(xs, ok, label="succeeded (cumulative)")
        ax.plot(xs, bad, label="failed (cumulative)")
        ax.set_ylabel("rows")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left")
        _time_axis(ax)

    def latency(ax: Any) -> None:
        for name, values in (("p50", [p.p50_ms for p in points]), ("p90", [p.p90_ms for p in points]),
                             ("p99", [p.p99_ms for p in points])):
            ax.plot(xs, [float("nan") if v is None else v for v in values], marker=".", label=f"latency {name} (ms)")
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right")
        _time_axis(ax)

    def failures_category(ax: Any) -> None:
        if not by_category:
            ax.text(0.5, 0.5, "no failed or invalid rows", ha="center", va="center", transform=ax.transAxes)
            return
        names = [c for c, _ in by_category][::-1]
        ax.barh(names, [n for _, n in by_category][::-1], label="failed and invalid rows")
        ax.set_xlabel("rows")

    def failures_time(ax: Any) -> None:
        cats: dict[str, int] = {}
        for p in points:
            for c, n in p.failures.items():
                cats[c] = cats.get(c, 0) + n
        bottom = [0] * len(points)
        for c in sorted(cats, key=lambda k: -cats[k]):
            heights = [p.failures.get(c, 0) for p in points]
            ax.bar(xs, heights, width=widths, align="edge", bottom=bottom, label=c)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        if cats:
            ax.legend(loc="upper right")
        else:
            ax.text(0.5, 0.5, "no row failed during the runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel("failed rows per interval")
        _time_axis(ax)

    return {"chart-pace": pace, "chart-throttles": throttles, "chart-progress": progress,
            "chart-latency": latency, "chart-failures-category": failures_category,
            "chart-failures-time": failures_time}


def _charts(points: list[Point], by_category: list[tuple[str, int]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, draw in drawers(points, by_category).items():
        if points or key == "chart-failures-category":
            out[key] = _svg(draw, 2.2 + 0.25 * len(by_category) if key == "chart-failures-category" else 2.8)
    return out


def read_ledger(path: Path) -> tuple[list[Point], list[tuple[str, int]], list[tuple[Any, ...]]]:
    conn = connect(path, readonly=True)
    try:
        points = list(read_timeline(conn))
        keep = not_retired(conn)
        by_category = [(str(c), int(n)) for c, n in conn.execute(
            f"SELECT coalesce(category, CAST(http_status AS TEXT), 'no answer') AS cat, count(*) FROM assoc "
            f"WHERE status IN ('failed', 'invalid') AND {keep} GROUP BY cat ORDER BY count(*) DESC, cat LIMIT 12")]
        runs = conn.execute("SELECT id, started_at, finished_at, input, summary FROM runs ORDER BY id").fetchall()
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot read the ledger {path}: {exc}") from None
    finally:
        conn.close()
    return points, by_category, runs


def _runs_table(runs: list[tuple[Any, ...]]) -> str:
    head = ("run", "started (UTC)", "finished", "input", "succeeded", "failed", "invalid", "requests", "429s",
            "rate", "exit")
    rows = []
    for run_id, started, finished, input_name, summary in runs:
        s = orjson.loads(summary) if summary else {}
        cells = (run_id, _when(started).strftime("%Y-%m-%d %H:%M:%S"),
                 _when(finished).strftime("%H:%M:%S") if finished else "did not finish", input_name,
                 s.get("succeeded", ""), s.get("failed", ""), s.get("invalid", ""), s.get("requests", ""),
                 s.get("throttled", ""), s.get("rate", ""), s.get("exit_code", ""))
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")


def write_page(ledger: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Write the page for the ledger at `ledger` to `out`. Raises LedgerError."""
    path = Path(ledger)
    if not path.is_file():
        raise LedgerError(f"no ledger at {path}: give the file `bulkassoc run` wrote (default INPUT.ledger.sqlite)")
    points, by_category, runs = read_ledger(path)
    charts = _charts(points, by_category)
    sections = []
    if not points:
        sections.append("<p class=note>This ledger holds no timeline: its runs were made by a bulkassoc before the "
                        "timeline existed, or were too short for one interval. Its next run records one.</p>")
    for key, title in CHARTS.items():
        if key in charts:
            sections.append(f'<section id="{key}"><h2>{html.escape(title)}</h2>\n{charts[key]}\n</section>')
    interval = f"{points[0].seconds:.0f} s" if points else "-"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bulkassoc: {html.escape(path.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:0.85em}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}
section{{margin-top:1.5em}}h2{{font-size:1.1em;margin-bottom:0}}svg{{max-width:100%;height:auto}}.note{{color:#a50}}</style>
</head><body>
<h1>bulkassoc ledger {html.escape(str(path))}</h1>
<p>{len(runs)} runs; {len(points)} intervals of about {interval} each. Times are UTC.</p>
{_runs_table(runs)}
{chr(10).join(sections)}
</body></html>
"""
    try:
        Path(out).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise LedgerError(f"cannot write {out}: {exc.strerror}") from None
