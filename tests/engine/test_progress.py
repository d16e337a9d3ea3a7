"""The progress line's ETA counts rows at the pace rows settle (issue 13: batch mode said 1h16m for 38 s)."""

from __future__ import annotations

import io

import pytest

from bulkassoc.engine.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def line(stream: io.StringIO) -> str:
    return stream.getvalue().rsplit("\r", 1)[-1].strip()


@pytest.mark.parametrize(("rows_per_request", "eta"), [(1, "ETA 9.0s"), (100, "ETA 9.0s"), (2000, "ETA 9.0s")])
def test_eta_counts_rows_not_requests(rows_per_request: int, eta: str) -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10_000, stream=out, interval=0.0, clock=clock)
    clock.now += 2.0  # preflight: nothing settled yet, no ETA
    progress.update(0, 0, 0, 1)
    assert "ETA" not in line(out)
    clock.now += 0.5
    progress.update(1, 0, 0, 1)  # the first row settles: the pace is measured from here
    clock.now += 1.0
    settled = 1 + 1000
    progress.update(settled - 10, 10, 0, max(1, settled // rows_per_request))
    assert eta in line(out)


def test_skipped_rows_count_as_done_but_not_in_the_pace() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(10_000, stream=out, interval=0.0, clock=clock)
    progress.update(0, 0, 5000, 0)  # a resume skipped half the file at once
    assert "ETA" not in line(out) and "done 5,000/10,000 (50.0%)" in line(out)
    clock.now += 1.0
    progress.update(1, 0, 5000, 1)
    clock.now += 1.0
    progress.update(501, 0, 5000, 501)  # 500 rows/s; 4,499 left
    assert "ETA 9.0s" in line(out)
