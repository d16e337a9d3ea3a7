"""Environment variables named after the options: `--json` reads BULKASSOC_JSON, `--format`
BULKASSOC_FORMAT, `--retry-failed/--skip-failed` BULKASSOC_RETRY_FAILED. `--help` shows each option's
variable, and a bad value from the environment names the variable it came from.

The spellings click derived from the parameter names before (BULKASSOC_AS_JSON, BULKASSOC_FMT) keep
working through `auto_envvar_prefix`; the option's own name wins when both are set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click
from click.core import ParameterSource

__all__ = ["PREFIX", "EnvCommand", "env_name"]

PREFIX = "BULKASSOC"


def env_name(option: click.Option) -> str | None:
    """BULKASSOC_ and the option's first long name (`--log-file` → BULKASSOC_LOG_FILE)."""
    longs = [o for o in option.opts if o.startswith("--")]
    if not longs or option.name in ("help", "version"):
        return None
    return f"{PREFIX}_{longs[0][2:].replace('-', '_').upper()}"


def _names(param: click.Parameter) -> Sequence[str]:
    if param.envvar is None:
        return []
    return [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)


class EnvCommand(click.Command):
    """A command whose options read BULKASSOC_<OPTION> and say so in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, click.Option) and param.envvar is None and (name := env_name(param)):
                param.envvar = name
                param.show_envvar = True

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as exc:
            param = exc.param
            if param is not None and param.name and \
                    ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT:
                candidates = [*_names(param), f"{PREFIX}_{param.name.upper()}"]
                var = next((v for v in candidates if os.environ.get(v)), candidates[0])
                raise click.BadParameter(f"{exc.message} (from the environment variable {var})", ctx=exc.ctx,
                                         param=param) from None
            raise
