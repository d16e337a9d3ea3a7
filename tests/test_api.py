"""The public surface: a tested, minimal __all__, and the blocking `run` from plain Python."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import bulkassoc
from bulkassoc import RunConfig, parse_rate, run

from ._support import simple_rows, write_csv


def test_exported_members() -> None:
    # submodules (cli, fake_hubspot) become attributes once imported; they are not the API surface
    public = sorted(name for name, value in vars(bulkassoc).items()
                    if (not name.startswith("_") or name == "__version__") and not isinstance(value, ModuleType))
    public = [n for n in public if n not in {"annotations", "version", "PackageNotFoundError"}]
    assert sorted(bulkassoc.__all__) == sorted(public)
    assert bulkassoc.__all__ == sorted(bulkassoc.__all__)


def test_version_is_metadata() -> None:
    from importlib.metadata import version

    assert bulkassoc.__version__ == version("bulkassoc")


def test_token_never_in_repr() -> None:
    config = RunConfig("links.csv", token="pat-na1-SECRET", rate=parse_rate("190/10s"))
    assert "SECRET" not in repr(config)
    assert "SECRET" not in str(config)


def test_blocking_run_dry(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "links.csv", simple_rows(4))
    summary = run(RunConfig(src, from_type="partner_services", dry_run=True))
    assert (summary.rows, summary.would_send, summary.exit_code) == (4, 4, 0)
    assert summary.to_dict()["aborted"] is None
