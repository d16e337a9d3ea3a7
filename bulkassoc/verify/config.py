"""`VerifyConfig`: everything one `bulkassoc verify` needs (see `_verify`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from ..engine.config import DEFAULT_BASE_URL, DEFAULT_TOKEN_ENV, ConfigError, resolve_token
from ..hubspot.outcomes import RetryPolicy
from ..hubspot.urls import check_base_url
from ..pacing.rate import Rate
from ..rows.header import normalise_delimiter
from ..rows.reader import ReadOptions, validate_object_type

__all__ = ["VerifyConfig"]


@dataclass(frozen=True)
class VerifyConfig:
    """Everything one `bulkassoc verify` needs; the fields mean what they mean in `RunConfig`.

    `missing_out`: write the missing rows there as a CSV that `bulkassoc run` accepts.
    """

    input: str | os.PathLike[str]
    from_type: str | None = None
    format: Literal["csv", "jsonl"] | None = None
    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False)  # None: read from $token_env
    token_env: str = DEFAULT_TOKEN_ENV
    rate: Rate | None = Rate(100, 10.0)  # None: `--rate auto`, pace from X-HubSpot-RateLimit-* headers
    concurrency: int | None = None  # None: `--concurrency auto`, in flight = pace × latency; a number is a cap
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()
    daily_reserve: int | None = None  # daily quota to leave for other integrations (None: 1% of it)
    missing_out: str | os.PathLike[str] | None = None
    handle_signals: bool = False
    progress: bool = False  # a live line on stderr (a terminal)
    progress_lines: float | None = None  # seconds between timestamped progress lines on stderr (None: none)
    stdin: BinaryIO | None = field(default=None, repr=False, compare=False)
    delimiter: str | None = None  # as in RunConfig: how to read the input, and what keyed IDs mean
    columns: tuple[tuple[str, str], ...] = ()
    from_id_property: str | None = None
    to_id_property: str | None = None

    def __post_init__(self) -> None:
        if str(self.input) == "-" and self.format is None:
            raise ConfigError("reading standard input needs --format csv or --format jsonl")
        if self.from_type is not None and not validate_object_type(self.from_type):
            raise ConfigError(f"--from-type {self.from_type!r} is not an object type (e.g. partner_services, 0-1)")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.daily_reserve is not None and self.daily_reserve < 0:
            raise ConfigError(f"--daily-reserve must be >= 0, got {self.daily_reserve}")
        if not self.timeout > 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout}")
        try:
            object.__setattr__(self, "base_url", check_base_url(self.base_url))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.delimiter is not None:
            try:
                object.__setattr__(self, "delimiter", normalise_delimiter(self.delimiter))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        object.__setattr__(self, "token", resolve_token(self.token, self.token_env, required=True))

    @property
    def read_options(self) -> ReadOptions:
        return ReadOptions(self.delimiter, self.columns, self.from_id_property, self.to_id_property)

    @property
    def access_token(self) -> str:
        return self.token or ""
