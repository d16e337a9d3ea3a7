"""The sample input files (`sample_data/`) and the fake-HubSpot seed that matches them.

Everything is generated from a fixed seed, so the committed files, the files `bulkassoc demo` writes
into a temporary directory, and the IDs the fake knows always agree. Each file holds, besides the rows
that succeed: exact duplicate rows, malformed rows (never sent), rows whose fromId or toId HubSpot
does not know (404), and rows that use the reverse direction's association type (400).

HubSpot publishes no association type IDs for partner_services/partner_clients (docs/hubspot-api.md
§7), so the four IDs below are made up for the demo; a real portal's come from
`GET /crm/v4/associations/{fromType}/{toType}/labels`.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from bulkassoc.fake.server import FakeConfig

__all__ = [
    "CLIENTS_FILE",
    "KEYED_FILE",
    "SERVICES_FILE",
    "SampleFile",
    "SampleInfo",
    "sample_association_types",
    "sample_fake_config",
    "sample_known_ids",
    "sample_texts",
    "write_sample_data",
]

SERVICES_FILE = "partner_services_to_contacts.csv"
CLIENTS_FILE = "partner_clients_to_companies.jsonl"
KEYED_FILE = "partner_services_by_legacy_id_to_contacts_by_email.csv"
_SEED = 20260401
_KEYED_SEED = 20260402

# Made-up association type IDs (see the module docstring).
SERVICE_TO_CONTACT, CONTACT_TO_SERVICE = "9101", "9102"
CLIENT_TO_COMPANY, COMPANY_TO_CLIENT = "9201", "9202"


@dataclass(frozen=True)
class SampleFile:
    """One sample file and what a run of it against the seeded fake settles to."""

    name: str
    from_type: str | None  # the --from-type to pass (the CSV has no fromType column)
    rows: int  # non-blank data rows
    succeeded: int  # unique valid rows the fake accepts
    duplicates: int  # exact repeats of rows that succeed
    invalid: int  # malformed rows, never sent
    not_found: int  # rows with an ID the fake does not know → 404 OBJECT_NOT_FOUND
    wrong_type: int  # rows with the reverse direction's type → 400 VALIDATION_ERROR

    @property
    def failed(self) -> int:
        return self.not_found + self.wrong_type


@dataclass(frozen=True)
class KeyedSample:
    """The file keyed the way users' data is: partner services by `legacy_id`, contacts by e-mail (some in
    upper case), types by v3 name, label text or ID; `;`-separated with an export's header names."""

    name: str
    from_type: str
    from_id_property: str
    to_id_property: str
    rows: int
    succeeded: int
    duplicates: int
    unresolved: int  # values that match no record: UNRESOLVED_FROM / UNRESOLVED_TO, never sent
    unknown_type: int  # a label the portal does not define: UNKNOWN_ASSOCIATION_TYPE, never sent

    @property
    def failed(self) -> int:
        return self.unresolved + self.unknown_type


@dataclass(frozen=True)
class SampleInfo:
    directory: Path
    services: SampleFile
    clients: SampleFile
    keyed: KeyedSample

    @property
    def files(self) -> tuple[SampleFile, SampleFile]:
        return self.services, self.clients

    def path(self, sample: SampleFile) -> Path:
        return self.directory / sample.name


@dataclass(frozen=True)
class _Plan:
    """How many rows of each kind one file gets."""

    good: int
    duplicates: int
    unknown_to: int
    unknown_from: int
    wrong_type: int


_SERVICES_PLAN = _Plan(good=1954, duplicates=25, unknown_to=8, unknown_from=2, wrong_type=4)
_CLIENTS_PLAN = _Plan(good=1462, duplicates=20, unknown_to=6, unknown_from=2, wrong_type=3)


@dataclass(frozen=True)
class _Generated:
    texts: dict[str, str]
    known_ids: dict[str, frozenset[str]]
    services: SampleFile
    clients: SampleFile
    keyed: KeyedSample
    records: dict[str, dict[str, dict[str, str]]]


class _Ids:
    """Unique random record IDs: 11 digits like today's HubSpot IDs, some shorter like older records."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def one(self) -> str:
        while True:
            digits = 11 if self._rng.random() < 0.9 else self._rng.randint(5, 10)
            value = str(self._rng.randrange(10 ** (digits - 1), 10**digits))
            if value not in self._used:
                self._used.add(value)
                return value

    def many(self, n: int) -> list[str]:
        return [self.one() for _ in range(n)]


# A row is (fromId, toId, type); a line is its text in the file, built by the file's formatter.
_Row = tuple[str, str, str]


def _pairs(rng: random.Random, sources: list[str], targets: list[str], n: int) -> list[tuple[str, str]]:
    """n distinct (source, target) pairs; each source gets several targets, as in real exports."""
    seen: set[tuple[str, str]] = set()
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        pair = (rng.choice(sources), rng.choice(targets))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def _file_lines(rng: random.Random, ids: _Ids, plan: _Plan, sources: list[str], targets: list[str],
                types: tuple[str, str], fmt: Callable[[_Row], str], malformed: list[str]) -> list[str]:
    """All data lines of one file, in file order (header not included)."""
    forward, reverse = types
    pairs = _pairs(rng, sources, targets, plan.good + plan.wrong_type)
    good = [fmt((s, t, forward)) for s, t in pairs[:plan.good]]
    failing = [fmt((s, t, reverse)) for s, t in pairs[plan.good:]]
    failing += [fmt((rng.choice(sources), ids.one(), forward)) for _ in range(plan.unknown_to)]
    failing += [fmt((ids.one(), rng.choice(targets), forward)) for _ in range(plan.unknown_from)]
    lines = good + failing + malformed
    rng.shuffle(lines)
    # Each duplicate is an exact copy of a distinct succeeding row, placed somewhere after it.
    for original in rng.sample(good, plan.duplicates):
        position = lines.index(original)
        lines.insert(rng.randint(position + 1, len(lines)), original)
    return lines


def _csv_row(row: _Row) -> str:
    return f"{row[0]},contacts,{row[1]},{row[2]}"


def _jsonl_row(rng: random.Random) -> Callable[[_Row], str]:
    def fmt(row: _Row) -> str:
        # HubSpot exports give IDs as strings; hand-made files often have numbers. Both are valid.
        as_int = rng.random() < 0.3
        from_id, to_id = (int(row[0]), int(row[1])) if as_int else (row[0], row[1])
        return orjson.dumps({"fromType": "partner_clients", "fromId": from_id, "toType": "companies",
                             "toId": to_id, "type": int(row[2])}).decode()
    return fmt


def _csv_malformed(service: str, contact: str) -> list[str]:
    return [
        f"PS-2231,contacts,{contact},{SERVICE_TO_CONTACT}",  # non-numeric fromId
        f"{service},contacts,,{SERVICE_TO_CONTACT}",  # missing toId
        f"{service},contacts,184467440737095516160,{SERVICE_TO_CONTACT}",  # 21 digits, past int64
        f"{service},contacts,4.2E+10,{SERVICE_TO_CONTACT}",  # spreadsheet-mangled toId
        f"{service},contacts",  # a short row: toId and type missing
        f"{service},con tacts,{contact},{SERVICE_TO_CONTACT}",  # not an object type
        f"{service},contacts,{contact},contact→service",  # not a type ID, name or label
    ]


def _jsonl_malformed(client: str, company: str) -> list[str]:
    return [
        f'["partner_clients", "{client}", "companies", "{company}", {CLIENT_TO_COMPANY}]',  # not an object
        f'{{"fromType": "partner_clients", "fromId": "{client}", "toType": "compan',  # cut-off JSON
        f'{{"fromType": "partner_clients", "fromId": "{client}", "toType": "companies", '
        f'"type": {CLIENT_TO_COMPANY}}}',  # no toId
        f'{{"fromType": "partner_clients", "fromId": -4417, "toType": "companies", "toId": "{company}", '
        f'"type": {CLIENT_TO_COMPANY}}}',  # negative ID
        f'{{"fromType": "partner_clients", "fromId": {client}.0, "toType": "companies", '
        f'"toId": "{company}", "type": {CLIENT_TO_COMPANY}}}',  # a float, not an ID
        f'{{"fromType": "partner_clients", "fromId": "{client}", "toType": "companies", '
        f'"toId": "{company}", "type": null}}',  # no type
        f'{{"fromId": "{client}", "toType": "companies", "toId": "{company}", '
        f'"type": {CLIENT_TO_COMPANY}}}',  # no fromType (and the JSONL run passes no --from-type)
    ]


def _summary(name: str, from_type: str | None, plan: _Plan, lines: list[str], invalid: int) -> SampleFile:
    return SampleFile(name=name, from_type=from_type, rows=len(lines), succeeded=plan.good,
                      duplicates=plan.duplicates, invalid=invalid,
                      not_found=plan.unknown_to + plan.unknown_from, wrong_type=plan.wrong_type)


SERVICE_BILLING = "9103"  # made up, as the others: a USER_DEFINED label of partner_services → contacts
SAMPLE_TYPE_DEFINITIONS = {("partner_services", "contacts"): (
    (int(SERVICE_TO_CONTACT), "partner_service_to_contact", None, "HUBSPOT_DEFINED"),
    (int(SERVICE_BILLING), "billing_contact", "Billing contact", "USER_DEFINED"))}
_KEYED_PLAN = _Plan(good=300, duplicates=5, unknown_to=4, unknown_from=2, wrong_type=2)


def _keyed(services: list[str], contacts: list[str]) -> tuple[str, KeyedSample, dict[str, dict[str, dict[str, str]]]]:
    """The keyed file and the records' unique properties it names (legacy_id, email)."""
    rng = random.Random(_KEYED_SEED)
    legacy = {s: f"PS-{10_000 + i}" for i, s in enumerate(services)}
    emails = {c: f"contact{i}@example.org" for i, c in enumerate(contacts)}
    records = {"partner_services": {s: {"legacy_id": v} for s, v in legacy.items()},
               "contacts": {c: {"email": v} for c, v in emails.items()}}
    spellings = ["Billing contact", "partner_service_to_contact", SERVICE_TO_CONTACT, "billing_contact"]
    plan = _KEYED_PLAN
    pairs = _pairs(rng, services[:120], contacts[:600], plan.good)

    def line(service: str, contact: str, kind: str) -> str:
        return f"{service};contacts;{contact};{kind}"

    good = [line(legacy[s], emails[c].upper() if i % 9 == 0 else emails[c], spellings[i % len(spellings)])
            for i, (s, c) in enumerate(pairs)]
    failing = [line(legacy[rng.choice(services)], f"nobody{i}@example.org", "Billing contact")
               for i in range(plan.unknown_to)]
    failing += [line(f"PS-GONE-{i}", emails[rng.choice(contacts)], "Billing contact") for i in range(plan.unknown_from)]
    failing += [line(legacy[s], emails[c], "Sales contact") for s, c in pairs[:plan.wrong_type]]
    lines = good + failing
    rng.shuffle(lines)
    for original in rng.sample(good, plan.duplicates):
        lines.insert(rng.randint(lines.index(original) + 1, len(lines)), original)
    text = "legacy_id;to_object_type;contact_email;association_label\n" + "\n".join(lines) + "\n"
    info = KeyedSample(name=KEYED_FILE, from_type="partner_services", from_id_property="legacy_id",
                       to_id_property="email", rows=len(lines), succeeded=plan.good, duplicates=plan.duplicates,
                       unresolved=plan.unknown_to + plan.unknown_from, unknown_type=plan.wrong_type)
    return text, info, records


@functools.cache
def _generate() -> _Generated:
    rng = random.Random(_SEED)
    ids = _Ids(rng)
    services, contacts = ids.many(350), ids.many(1900)
    clients, companies = ids.many(280), ids.many(1400)

    csv_bad = _csv_malformed(services[0], contacts[0])
    csv_lines = _file_lines(rng, ids, _SERVICES_PLAN, services, contacts,
                            (SERVICE_TO_CONTACT, CONTACT_TO_SERVICE), _csv_row, csv_bad)
    jsonl_bad = _jsonl_malformed(clients[0], companies[0])
    jsonl_lines = _file_lines(rng, ids, _CLIENTS_PLAN, clients, companies,
                              (CLIENT_TO_COMPANY, COMPANY_TO_CLIENT), _jsonl_row(rng), jsonl_bad)
    # One blank line, as editors leave them: skipped by the reader, not a row.
    jsonl_text = "\n".join([*jsonl_lines[:700], "", *jsonl_lines[700:]]) + "\n"
    csv_text = "fromId,toType,toId,type\n" + "\n".join(csv_lines) + "\n"
    keyed_text, keyed, records = _keyed(services, contacts)
    return _Generated(
        texts={SERVICES_FILE: csv_text, CLIENTS_FILE: jsonl_text, KEYED_FILE: keyed_text}, keyed=keyed,
        records=records,
        known_ids={"partner_services": frozenset(services), "contacts": frozenset(contacts),
                   "partner_clients": frozenset(clients), "companies": frozenset(companies)},
        services=_summary(SERVICES_FILE, "partner_services", _SERVICES_PLAN, csv_lines, len(csv_bad)),
        clients=_summary(CLIENTS_FILE, None, _CLIENTS_PLAN, jsonl_lines, len(jsonl_bad)),
    )


def sample_texts() -> dict[str, str]:
    """File name → exact content of each sample file."""
    return dict(_generate().texts)


def write_sample_data(directory: Path) -> SampleInfo:
    """Write both sample files into `directory` (created if needed) and say what they contain."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = _generate()
    for name, text in generated.texts.items():
        (directory / name).write_text(text, encoding="utf-8", newline="\n")
    return SampleInfo(directory, generated.services, generated.clients, generated.keyed)


def sample_known_ids() -> dict[str, frozenset[str]]:
    """The record IDs that exist in the sample's portal, per object type."""
    return dict(_generate().known_ids)


def sample_association_types() -> dict[tuple[str, str], frozenset[str]]:
    """The (made-up) association type IDs valid per (fromType, toType) in the sample's portal."""
    return {
        ("partner_services", "contacts"): frozenset({SERVICE_TO_CONTACT}),
        ("contacts", "partner_services"): frozenset({CONTACT_TO_SERVICE}),
        ("partner_clients", "companies"): frozenset({CLIENT_TO_COMPANY}),
        ("companies", "partner_clients"): frozenset({COMPANY_TO_CLIENT}),
    }


def sample_fake_config(base: FakeConfig | None = None) -> FakeConfig:
    """`base` (default FakeConfig()) seeded with the sample's IDs and association types, so that a run
    of the sample files gets 404 exactly for its unknown IDs and 400 for its wrong-direction types."""
    return dataclasses.replace(base or FakeConfig(), known_ids=sample_known_ids(),
                               association_types=sample_association_types(), records=_generate().records,
                               type_definitions=SAMPLE_TYPE_DEFINITIONS)
