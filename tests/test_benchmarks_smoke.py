"""The benchmark runner at tiny sizes, so that `python -m benchmarks` never rots.

Every section runs end to end (fake servers and clients in their own processes, on 127.0.0.1); the
numbers mean nothing at these sizes and nothing here looks at timing.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks._options import smoke
from benchmarks._table import render
from benchmarks.ceiling import sdk_available
from benchmarks.runner import SECTIONS, run_all


def test_every_section_runs_and_renders(tmp_path: Path) -> None:
    messages: list[str] = []
    report = run_all(smoke(tmp_path), log=messages.append)

    assert report.errors == []
    sections = {r.section.split(" ", 1)[1] for r in report.results}
    assert sections == {"ceiling", "utilisation", "latency", "window", "memory", "resume", "startup"}
    assert len(SECTIONS) == 6  # memory runs the resume too

    ceiling = [r for r in report.results if r.section.endswith("ceiling")]
    assert [r.contender.split(" ")[0] for r in ceiling] == ["raw", "`bulkassoc", "hubspot-api-client,"]
    raw, bulk, sdk = ceiling
    assert raw.data["ok"] == raw.data["rows"] == 150
    assert bulk.data["ok"] == bulk.data["rows"] == 150
    if sdk_available():
        assert sdk.data["ok"] == sdk.data["rows"] == 40
    else:
        assert sdk.result.startswith("skipped") and sdk.met is None

    resumes = [r for r in report.results if r.section.endswith("resume")]  # at this size, no resume after a kill
    assert [r.data["digests"] for r in resumes] == [True, False]  # settled chunks skipped; then row by row
    for resume in resumes:
        summary = resume.data["summary"]
        assert isinstance(summary, dict)
        assert summary["requests"] == 0 and summary["already_done"] == 300
        server = resume.data["server"]
        assert isinstance(server, dict) and server["puts"] == 0

    paced = [r for r in report.results if r.section.endswith(("utilisation", "latency"))]
    assert len(paced) == 4  # utilisation (explicit, auto); latency: single and batch, clean, one latency
    for line in paced:
        summary = line.data["summary"]
        assert isinstance(summary, dict) and summary["succeeded"] + summary["failed"] == summary["rows"] > 0
    cells = [r for r in paced if r.section.endswith("latency")]
    assert {(r.data["batch"], r.data["faults"]) for r in cells} == {(False, False), (True, False)}
    assert all(isinstance(r.data["fixed"], dict) for r in cells)  # the fixed --concurrency 8 beside each
    window = next(r for r in report.results if r.section.endswith("window"))
    assert len(window.data["runs"]) == 1  # type: ignore[arg-type]

    table = report.markdown()
    assert table.startswith("## bulkassoc benchmarks")
    assert "| # | set-up | contender | result | ratio | goal | met |" in table
    assert messages  # progress went to the log, not to stdout


def test_render_marks_goals() -> None:
    from benchmarks._table import Result

    text = render([Result("1 x", "s", "a", "r", "1.0", "≥ 1", True), Result("1 x", "s", "b", "r|q", "", "", None),
                   Result("2 y", "t", "c", "r", "0.5", "≥ 1", False)])
    lines = text.splitlines()
    assert lines[2] == "| 1 x | s | a | r | 1.0 | ≥ 1 | yes |"
    assert lines[3] == "|  |  | b | r\\|q |  |  | — |"
    assert lines[4].endswith("| **NO** |")
