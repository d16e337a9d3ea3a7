"""Run the real `bulkassoc` CLI, SIGKILLing it just before the Nth execution of a matching SQL statement.

Used as `python _killhook.py run INPUT ...` with KILL_AT_SQL (a regex) and KILL_AT_NTH (default 1) in the
environment. sqlite3's trace callback fires as SQLite starts a statement, so the kill lands exactly there:
inside a transaction, before a COMMIT, half way through the schema. Nothing else about the run changes.
"""

from __future__ import annotations

import os
import re
import runpy
import signal
import sqlite3
from typing import Any

_pattern = re.compile(os.environ["KILL_AT_SQL"])
_nth = int(os.environ.get("KILL_AT_NTH", "1"))
_seen = 0
_connect = sqlite3.connect


def _trace(statement: str) -> None:
    global _seen
    if _pattern.search(statement):
        _seen += 1
        if _seen == _nth:
            os.kill(os.getpid(), signal.SIGKILL)


def _traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    conn: sqlite3.Connection = _connect(*args, **kwargs)
    conn.set_trace_callback(_trace)
    return conn


sqlite3.connect = _traced_connect  # type: ignore[assignment]
runpy.run_module("bulkassoc", run_name="__main__", alter_sys=True)
