"""Shared pieces of the sync tests: a portal of contacts → companies with a user-defined label, files of rows."""

from __future__ import annotations

from pathlib import Path

from bulkassoc import Rate, RetryPolicy, RunConfig

TOKEN = "test-token-SYNC-SECRET-91c2"
FROM, TO = "contacts", "companies"
DEFAULT, LABEL = "279", "37"  # the unlabeled type, and a user-defined "Decision maker"
USER_LABELS = {(FROM, TO): {37: "Decision maker"}}
FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)

Key = tuple[str, str, str, str, str]


def key(from_id: int, to_id: int, assoc_type: str = DEFAULT) -> Key:
    return (FROM, str(from_id), TO, str(to_id), assoc_type)


def write_rows(path: Path, keys: list[Key]) -> Path:
    lines = ["fromType,fromId,toType,toId,type"] + [",".join(k) for k in keys]
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path: Path, url: str, src: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {"input": src, "base_url": url, "token": TOKEN, "retry": FAST,
                               "ledger": tmp_path / "ledger.sqlite", "rate": Rate(5000, 1.0),
                               "mode": "batch", "batch_linger": 0.05}
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]
