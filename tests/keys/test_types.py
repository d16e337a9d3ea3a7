"""Association types by numeric ID, v3 name or label text, resolved from the portal's definitions in every
mode; an unknown or ambiguous one fails its rows unsent with the valid types listed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from bulkassoc import run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.keys.types import TypeDef, TypeDefs
from tests._support import TOKEN, acli, write_csv

from ._portal import DEFINITIONS, PAIR, config, contact_id, portal, service_id

SPELLINGS = ["9101", "partner_service_to_contact", "Billing contact", "billing contact", "BILLING  Contact",
             "technical_contact", "Technical contact", "9150"]
EXPECTED_ID = ["9101", "9101", "9150", "9150", "9150", "9151", "9151", "9150"]


def _rows(n: int) -> list[list[str]]:
    return [[service_id(i), "contacts", contact_id(i), SPELLINGS[i % len(SPELLINGS)]] for i in range(n)]


@pytest.mark.parametrize(("mode", "api"), [("batch", "v3"), ("batch", "2026-09"), ("single", "v3"),
                                           ("single", "v4"), ("single", "2026-09")])
async def test_names_and_labels_fail_no_row_for_a_type_the_portal_defines(tmp_path: Path, mode: str,
                                                                          api: str) -> None:
    n = 160
    src = write_csv(tmp_path / "named.csv", _rows(n))
    async with FakeHubSpot(portal(n)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, mode=mode, api=api))
        assert (s.succeeded, s.failed, s.invalid, s.exit_code) == (n, 0, 0, 0), s.message
        assert fake.associations() == {
            ("partner_services", service_id(i), "contacts", contact_id(i), EXPECTED_ID[i % len(SPELLINGS)])
            for i in range(n)}
        assert s.checks == 3  # the token, and the pair's labels and v3 types: read once
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:  # recorded under the type as written
        types = {t for (t,) in conn.execute("SELECT DISTINCT type FROM assoc")}
    assert types == set(SPELLINGS)


async def test_unknown_and_ambiguous_types_fail_unsent_listing_the_valid_ones(tmp_path: Path) -> None:
    definitions = {PAIR: (*DEFINITIONS[PAIR], (9160, "billing_contact_2", "Billing contact", "USER_DEFINED"))}
    rows = [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(20)]
    rows += [[service_id(20), "contacts", contact_id(20), "Billing contact"],  # two types carry this label
             [service_id(21), "contacts", contact_id(21), "Sales contact"],
             [service_id(22), "contacts", contact_id(22), "77"]]
    src = write_csv(tmp_path / "named.csv", rows)
    async with FakeHubSpot(portal(30, type_definitions=definitions)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, mode="batch"))
        assert (s.succeeded, s.failed) == (20, 3)
        assert fake.stats.batch_inputs == 20
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        failed = dict(conn.execute("SELECT type, message FROM assoc WHERE status = 'failed'").fetchall())
    assert "ambiguous" in failed["Billing contact"] and "9150" in failed["Billing contact"]
    assert "9160" in failed["Billing contact"]
    for message in failed.values():
        assert "partner_service_to_contact" in message and "'Technical contact'" in message


def test_type_defs_find_by_id_name_and_label() -> None:
    defs = TypeDefs("contacts", "companies", (TypeDef("1", "contact_to_company", "Primary", "HUBSPOT_DEFINED"),
                                                TypeDef("279", "contact_to_company_unlabeled", "", "HUBSPOT_DEFINED"),
                                                TypeDef("30", "decision_maker", "Decision maker", "USER_DEFINED")))
    assert defs.find("contact_to_company")[0] == defs.types[0]  # the name of 1 (Primary), not unlabeled
    assert defs.find("primary")[0] == defs.types[0]
    assert defs.find(" Decision   Maker ")[0] == defs.types[2]
    assert defs.find("279")[0] == defs.types[1]
    missing, why = defs.find("31")
    assert missing is None and "does not exist" in why and "30 decision_maker 'Decision maker' (USER_DEFINED)" in why


async def test_types_command_prints_id_name_label_category() -> None:
    async with FakeHubSpot(portal(1)) as fake:
        r = await acli("types", "partner_services", "contacts", "--base-url", fake.url, "--json",
                       env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert r.returncode == 0, r.stderr
        assert orjson.loads(r.stdout)["types"] == [
            {"id": 9101, "name": "partner_service_to_contact", "label": None, "category": "HUBSPOT_DEFINED"},
            {"id": 9150, "name": "billing_contact", "label": "Billing contact", "category": "USER_DEFINED"},
            {"id": 9151, "name": "technical_contact", "label": "Technical contact", "category": "USER_DEFINED"}]
    async with FakeHubSpot(FakeConfig(token=TOKEN)) as fake:  # HubSpot's own types of a standard pair
        r = await acli("types", "contacts", "companies", "--base-url", fake.url, env={"HUBSPOT_ACCESS_TOKEN": TOKEN})
        assert r.returncode == 0, r.stderr
        assert "contact_to_company_unlabeled" in r.stdout and "Primary" in r.stdout
        r = await acli("types", "contacts", "companies", "--base-url", fake.url, env={"HUBSPOT_ACCESS_TOKEN": "bad"})
        assert r.returncode == 3 and "401" in r.stderr


async def test_a_pairs_labels_and_names_are_read_side_by_side(tmp_path: Path) -> None:
    """The labels and the v3 names of a pair are two reads that a run's first write waits for: at a
    round trip of a second they cost two seconds one after the other, one side by side."""
    src = write_csv(tmp_path / "named.csv", _rows(8))
    async with FakeHubSpot(portal(8, latency_ms=200.0)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, mode="batch"))
        assert (s.succeeded, s.exit_code, s.checks) == (8, 0, 3), s.message
        assert fake.stats.peak_in_flight >= 2
