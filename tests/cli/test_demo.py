"""`bulkassoc demo` end to end in a subprocess, from a directory that is not the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_exits_0(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "bulkassoc", "demo", "--no-progress"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "succeeded 1,954" in r.stderr and "succeeded 1,462" in r.stderr
    assert "answered 0 with 429" in r.stderr
    assert "OBJECT_NOT_FOUND" in r.stderr  # the report shows the failed rows
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory
