"""bulkassoc: create HubSpot CRM associations in bulk, rate-limited and resumable.

    from bulkassoc import RunConfig, run
    summary = run(RunConfig("links.csv", from_type="partner_services", token=token))
"""

from __future__ import annotations

from ._api import run, run_async, verify, verify_async
from ._version import __version__
from .engine.config import ConfigError, RunConfig
from .engine.summary import RunSummary
from .hubspot.outcomes import RetryPolicy
from .ledger.report import LedgerReport, read_report, write_failed_csv
from .ledger.store import LedgerError
from .pacing.rate import Rate, parse_rate
from .rows.reader import InputError
from .verify.config import VerifyConfig
from .verify.summary import VerifySummary

__all__ = [
    "ConfigError",
    "InputError",
    "LedgerError",
    "LedgerReport",
    "Rate",
    "RetryPolicy",
    "RunConfig",
    "RunSummary",
    "VerifyConfig",
    "VerifySummary",
    "__version__",
    "parse_rate",
    "read_report",
    "run",
    "run_async",
    "verify",
    "verify_async",
    "write_failed_csv",
]
