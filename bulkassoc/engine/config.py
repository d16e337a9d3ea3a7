"""Run configuration: one frozen value, validated when it is made."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from ..hubspot.endpoints import MAX_BATCH, check_api, check_category
from ..hubspot.outcomes import RetryPolicy
from ..hubspot.urls import check_base_url
from ..pacing.inflight import workers_for
from ..pacing.rate import Rate
from ..rows.header import normalise_delimiter
from ..rows.reader import ReadOptions
from ..sync.mirror import parse_max_deletes

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TOKEN_ENV", "ConfigError", "RunConfig", "resolve_token"]

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
_PROPERTY = re.compile(r"[a-z][a-z0-9_]{0,99}")


class ConfigError(ValueError):
    """A setting the user must fix (exit 2). The message says what to do."""


def resolve_token(token: str | None, token_env: str, *, required: bool, hint: str = "") -> str:
    """The access token: the one given, else the environment variable `token_env`."""
    if token is None:
        token = os.environ.get(token_env, "")
    if required and not token.strip():
        raise ConfigError(f"no access token: pass token=... or set the environment variable {token_env} to your "
                          f"HubSpot private app / service key token{hint}")
    return token


@dataclass(frozen=True)
class RunConfig:
    """Everything one `bulkassoc run` needs. `token` never appears in repr()."""

    input: str | os.PathLike[str]
    from_type: str | None = None
    format: Literal["csv", "jsonl"] | None = None
    ledger: str | os.PathLike[str] | None = None  # default: INPUT.ledger.sqlite
    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False)  # None: read from $token_env
    token_env: str = DEFAULT_TOKEN_ENV  # only for messages: where the token came from
    rate: Rate | None = Rate(100, 10.0)  # None: `--rate auto`, learn the limit from HubSpot's headers
    concurrency: int | None = None  # None: `--concurrency auto`, in flight = pace × latency; a number is a cap
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()
    retry_failed: bool = True
    mode: Literal["single", "batch"] = "single"
    batch_size: int = 100  # rows per batch call in batch mode (HubSpot caps it at 2000)
    batch_linger: float = 0.5  # seconds a partial batch waits for more rows before it is sent anyway
    api: str = "v3"  # single-mode endpoint family: v3 (the seed endpoints), v4, or a date version (2026-09)
    category: str = "HUBSPOT_DEFINED"  # associationCategory for v4, date-versioned and batch writes
    resend: bool = False  # send rows the ledger records as succeeded again (suspected drift)
    daily_reserve: int | None = None  # daily quota to leave for other integrations (None: 1% of it)
    dry_run: bool = False
    preflight: bool = True
    progress: bool = False
    handle_signals: bool = False  # install SIGINT/SIGTERM handlers (the CLI does; a library caller may not)
    grace: float = 5.0  # seconds in-flight requests get to finish after an interrupt
    log_file: str | os.PathLike[str] | None = None  # --log-file: one line per event that matters (engine/events.py)
    log_format: Literal["text", "json"] = "text"
    progress_lines: float | None = None  # seconds between timestamped progress lines on stderr (None: none)
    timeline_interval: float | None = 10.0  # seconds per point of the ledger's timeline (None: keep none)
    stdin: BinaryIO | None = field(default=None, repr=False, compare=False)
    # read what exists before writing (None: on wherever a write could replace labels: batch mode, v4 and
    # date-versioned single writes, --mirror; off for v3 single PUTs, which only add)
    read_first: bool | None = None
    mirror: bool = False  # the file is the truth for its scope: remove what it no longer lists
    max_deletes: str = "5%"  # mirror guard: N deletes, or P% of the associations in scope
    deletes_out: str | os.PathLike[str] | None = None  # mirror: CSV of the deletes (planned or made)
    check: bool = False  # `bulkassoc check`: token, types and lookups only; nothing is written
    failed_out: str | os.PathLike[str] | None = None  # check / dry run: write the rows that would fail here
    delimiter: str | None = None  # CSV: None = detected among , ; tab
    columns: tuple[tuple[str, str], ...] = ()  # (our column, source header): `--column fromId=SRC`
    from_id_property: str | None = None  # fromId values are this unique property's (e.g. email)
    to_id_property: str | None = None
    refresh_ids: bool = False  # forget the ledger's cached lookups first
    stop_on_mass_failure: int | None = 50  # stop when a pair's first N answers all fail the same way; None: never

    def __post_init__(self) -> None:
        if str(self.input) == "-" and self.ledger is None:
            raise ConfigError("reading standard input needs --ledger PATH (there is no file name to derive it from)")
        if str(self.input) == "-" and self.format is None:
            raise ConfigError("reading standard input needs --format csv or --format jsonl")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if not self.timeout > 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if self.mode not in ("single", "batch"):
            raise ConfigError(f"--mode must be single or batch, got {self.mode!r}")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"--batch-size must be between 1 and {MAX_BATCH} (HubSpot's cap), got {self.batch_size}")
        try:
            check_api(self.api)
            check_category(self.category)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.daily_reserve is not None and self.daily_reserve < 0:
            raise ConfigError(f"--daily-reserve must be >= 0, got {self.daily_reserve}")
        if self.mirror:
            if self.from_id_property or self.to_id_property:
                raise ConfigError("--mirror takes record IDs only: its scope is read by the file's fromIds; resolve "
                                  "the keyed values first (bulkassoc report --lookups-out) or run without --mirror")
            if str(self.input) == "-":
                raise ConfigError("--mirror needs a file (it reads the input twice), not standard input")
            if self.read_first is False:
                raise ConfigError("--mirror reads what exists; it cannot be combined with --no-read-first")
            try:
                parse_max_deletes(self.max_deletes)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"--log-format must be text or json, got {self.log_format!r}")
        for name, value in (("--log-interval", self.progress_lines), ("timeline_interval", self.timeline_interval)):
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {value}")
        for name in ("from_id_property", "to_id_property"):
            prop = getattr(self, name)
            if prop is not None and not _PROPERTY.fullmatch(prop):
                raise ConfigError(f"--{name.replace('_', '-')} {prop!r} is not a property name (lower-case letters, "
                                  "digits and _, such as email or legacy_id)")
        if self.delimiter is not None:
            try:
                object.__setattr__(self, "delimiter", normalise_delimiter(self.delimiter))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.stop_on_mass_failure is not None and self.stop_on_mass_failure < 1:
            raise ConfigError(f"the mass-failure limit must be at least 1, got {self.stop_on_mass_failure}")
        if self.grace < 0:
            raise ConfigError(f"grace must be >= 0 seconds, got {self.grace}")
        try:
            object.__setattr__(self, "base_url", check_base_url(self.base_url))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        needs_token = not self.dry_run or self.mirror  # a mirror's dry run reads what the scope holds
        object.__setattr__(self, "token", resolve_token(self.token, self.token_env, required=needs_token,
                                                        hint="" if self.dry_run else " (or use --dry-run)"))

    @property
    def reads_first(self) -> bool:
        if self.read_first is not None:
            return self.read_first
        return self.mirror or self.mode == "batch" or self.api != "v3"

    @property
    def skip_settled(self) -> bool:
        """Chunks the ledger holds as settled are skipped whole (`ledger/settled.py`); not where admission sends
        or needs done rows (--resend, --mirror), nor for a pipe (a row per chunk, nothing to gain)."""
        return not (self.resend or self.mirror or str(self.input) == "-")

    @property
    def scratch(self) -> bool:
        """A dry run and a check work on a scratch copy of the ledger: the real one is never touched."""
        return self.dry_run or self.check

    @property
    def read_options(self) -> ReadOptions:
        return ReadOptions(self.delimiter, self.columns, self.from_id_property, self.to_id_property)

    @property
    def workers(self) -> int:
        """Tasks that send: more than the requests in flight, so that rows in backoff hold no slot."""
        return workers_for(self.concurrency)

    @property
    def access_token(self) -> str:
        return self.token or ""

    @property
    def ledger_path(self) -> Path:
        if self.ledger is not None:
            return Path(self.ledger)
        return Path(f"{os.fspath(self.input)}.ledger.sqlite")
