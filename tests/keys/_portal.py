"""A seeded portal for the keyed-input tests: contacts with e-mails, partner services with a custom unique
`legacy_id`, and the association types of the pair by ID, v3 name and label."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bulkassoc import RetryPolicy
from bulkassoc.engine.config import RunConfig
from bulkassoc.fake.server import FakeConfig
from bulkassoc.pacing.rate import Rate
from tests._support import TOKEN

FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05)
PAIR = ("partner_services", "contacts")
DEFINITIONS = {
    PAIR: ((9101, "partner_service_to_contact", None, "HUBSPOT_DEFINED"),
           (9150, "billing_contact", "Billing contact", "USER_DEFINED"),
           (9151, "technical_contact", "Technical contact", "USER_DEFINED")),
    ("contacts", "partner_services"): ((9102, "contact_to_partner_service", None, "HUBSPOT_DEFINED"),),
}


def service_id(i: int) -> str:
    return str(70_000_000_000 + i)


def contact_id(i: int) -> str:
    return str(50_000_000_000 + i * 7)


def email(i: int) -> str:
    return f"user{i}@example.com"


def legacy(i: int) -> str:
    return f"LEG-{i:06d}"


def portal(n: int, **kw: object) -> FakeConfig:
    """n contacts and n partner services, keyed by e-mail and legacy_id; unlimited rate by default."""
    records = {
        "contacts": {contact_id(i): {"email": email(i)} for i in range(n)},
        "partner_services": {service_id(i): {"legacy_id": legacy(i)} for i in range(n)},
    }
    base = FakeConfig(rate=None, token=TOKEN, known_ids={"contacts": frozenset(), "partner_services": frozenset()},
                      records=records, type_definitions=DEFINITIONS)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def config(tmp_path: Path, url: str, src: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {"input": src, "from_type": "partner_services", "base_url": url, "token": TOKEN,
                               "retry": FAST, "ledger": tmp_path / "ledger.sqlite", "rate": Rate(100_000, 1.0),
                               "concurrency": 8}
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]
