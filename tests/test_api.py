"""The public surface: a tested, minimal __all__, and the blocking `run` from plain Python."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import bulkassoc
from bulkassoc import ConfigError, RunConfig, VerifyConfig, parse_rate, run, verify

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


def test_token_none_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_HUBSPOT_TOKEN", "pat-from-env")
    assert RunConfig("links.csv", token_env="MY_HUBSPOT_TOKEN").token == "pat-from-env"
    assert VerifyConfig("links.csv", token_env="MY_HUBSPOT_TOKEN").token == "pat-from-env"
    assert RunConfig("links.csv", token="given", token_env="MY_HUBSPOT_TOKEN").token == "given"


@pytest.mark.parametrize("make", [RunConfig, VerifyConfig], ids=["run", "verify"])
def test_no_token_anywhere_says_where_to_put_one(monkeypatch: pytest.MonkeyPatch, make: type) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    with pytest.raises(ConfigError, match=r"token=\.\.\. or set the environment variable NO_SUCH_TOKEN_VAR"):
        make("links.csv", token_env="NO_SUCH_TOKEN_VAR")


@pytest.mark.parametrize("call", [run, verify], ids=["run", "verify"])
async def test_blocking_call_inside_a_running_loop_says_to_await(tmp_path: Path, call: Callable[..., object]) -> None:
    """One clear RuntimeError, and no 'coroutine was never awaited' warning (warnings are errors here)."""
    src = write_csv(tmp_path / "links.csv", simple_rows(2))
    config = (RunConfig(src, from_type="partner_services", dry_run=True) if call is run
              else VerifyConfig(src, from_type="partner_services", token="t"))
    with pytest.raises(RuntimeError, match=r"await bulkassoc\.(run|verify)_async\(config\)"):
        call(config)


def test_verify_is_public() -> None:
    assert {"verify", "verify_async", "VerifyConfig", "VerifySummary"} <= set(bulkassoc.__all__)
