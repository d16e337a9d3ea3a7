"""Request builders: paths, bodies and refusals for the v3, v4 and date-versioned endpoints."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkassoc.hubspot.endpoints import (
    CATEGORIES,
    MAX_BATCH,
    batch_request,
    check_api,
    check_category,
    path_for_row,
    single_request,
    type_id,
)
from bulkassoc.rows.reader import Row

ROW = Row("contacts", "38374264688", "companies", "21678228008", "279", 7)


def row(from_id: str = "1", to_id: str = "2", type_: str = "279", *, from_type: str = "contacts",
        to_type: str = "companies", line: int = 2) -> Row:
    return Row(from_type, from_id, to_type, to_id, type_, line)


# ------------------------------------------------------------------------------------------ check_api


@pytest.mark.parametrize("api", ["v3", "v4", "2026-03", "2026-09", "2027-03", "2030-12"])
def test_check_api_accepts(api: str) -> None:
    assert check_api(api) == api


@pytest.mark.parametrize(("api", "fragment"), [
    ("v5", "unknown API 'v5'"),
    ("V4", "unknown API 'V4'"),
    ("", "unknown API ''"),
    ("2026-9", "unknown API"),
    ("2026-13", "unknown API"),
    ("2026-09-beta", "unknown API"),
    ("2025-09", "older than 2026-03"),
    ("2026-01", "older than 2026-03"),
])
def test_check_api_refuses_with_a_clear_message(api: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"expected v3, v4|use 2026-03 or later") as info:
        check_api(api)
    assert fragment in str(info.value)


def test_check_category() -> None:
    for category in CATEGORIES:
        assert check_category(category) == category
    with pytest.raises(ValueError, match="unknown association category 'hubspot_defined': expected one of"):
        check_category("hubspot_defined")


# ------------------------------------------------------------------------------------- single_request


def test_v3_is_the_seed_put_without_a_body() -> None:
    method, path, body = single_request("v3", ROW)
    assert (method, body) == ("PUT", None)
    assert path == "/crm/v3/objects/contacts/38374264688/associations/companies/21678228008/279"
    assert path == path_for_row(*ROW.key)


def test_v3_accepts_a_type_name_and_ignores_the_category() -> None:
    named = row(type_="contact_to_company")
    assert single_request("v3", named, "USER_DEFINED")[1].endswith("/associations/companies/2/contact_to_company")


def test_v4_labelled_put() -> None:
    method, path, body = single_request("v4", ROW)
    assert (method, path) == ("PUT", "/crm/v4/objects/contacts/38374264688/associations/companies/21678228008")
    assert body is not None
    assert orjson.loads(body) == [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]


@pytest.mark.parametrize("version", ["2026-03", "2026-09"])
def test_date_versioned_put(version: str) -> None:
    method, path, body = single_request(version, ROW, "USER_DEFINED")
    assert method == "PUT"
    assert path == f"/crm/objects/{version}/contacts/38374264688/associations/companies/21678228008"
    assert body is not None
    assert orjson.loads(body) == [{"associationCategory": "USER_DEFINED", "associationTypeId": 279}]


@pytest.mark.parametrize("api", ["v4", "2026-09"])
def test_a_type_name_needs_an_id_outside_v3(api: str) -> None:
    with pytest.raises(ValueError, match=r"line 9: association type 'contact_to_company' is a name.*numeric type ID"):
        single_request(api, row(type_="contact_to_company", line=9))


def test_type_ids_must_fit_int32() -> None:
    assert type_id(row(type_="2147483647")) == 2**31 - 1
    with pytest.raises(ValueError, match="larger than HubSpot's int32"):
        type_id(row(type_="2147483648"))


def test_bad_api_and_category_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown API"):
        single_request("v9", ROW)
    with pytest.raises(ValueError, match="unknown association category"):
        single_request("v4", ROW, "FOO")


def test_path_segments_are_quoted() -> None:
    odd = Row("p/x", "1", "a b", "2", "3", 1)  # never valid input, but must never break out of its segment
    assert single_request("v4", odd)[1] == "/crm/v4/objects/p%2Fx/1/associations/a%20b/2"
    assert single_request("2026-09", odd)[1] == "/crm/objects/2026-09/p%2Fx/1/associations/a%20b/2"
    assert batch_request("p/x", "a b", [odd])[1] == "/crm/v4/associations/p%2Fx/a%20b/batch/create"


# -------------------------------------------------------------------------------------- batch_request


def test_batch_create_v4() -> None:
    rows = [row("1", "2", "279"), row("3", "4", "1")]
    method, path, body = batch_request("contacts", "companies", rows)
    assert (method, path) == ("POST", "/crm/v4/associations/contacts/companies/batch/create")
    assert orjson.loads(body) == {"inputs": [
        {"from": {"id": "1"}, "to": {"id": "2"},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]},
        {"from": {"id": "3"}, "to": {"id": "4"},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]},
    ]}


def test_batch_ids_stay_strings() -> None:
    body = batch_request("contacts", "companies", [row("00012", "99999999999999999999")])[2]
    assert orjson.loads(body)["inputs"][0]["from"] == {"id": "00012"}
    assert orjson.loads(body)["inputs"][0]["to"] == {"id": "99999999999999999999"}


@pytest.mark.parametrize(("api", "path"), [
    ("v4", "/crm/v4/associations/contacts/companies/batch/create"),
    ("v3", "/crm/v4/associations/contacts/companies/batch/create"),
    ("2026-03", "/crm/associations/2026-03/contacts/companies/batch/create"),
    ("2026-09", "/crm/associations/2026-09/contacts/companies/batch/create"),
])
def test_batch_paths_per_api(api: str, path: str) -> None:
    assert batch_request("contacts", "companies", [row()], "USER_DEFINED", api)[1] == path


def test_batch_category() -> None:
    body = batch_request("contacts", "companies", [row()], "USER_DEFINED")[2]
    assert orjson.loads(body)["inputs"][0]["types"] == [{"associationCategory": "USER_DEFINED",
                                                          "associationTypeId": 279}]


def test_batch_limits() -> None:
    assert len(orjson.loads(batch_request("contacts", "companies", [row()] * MAX_BATCH)[2])["inputs"]) == 2000
    with pytest.raises(ValueError, match="at most 2000 rows"):
        batch_request("contacts", "companies", [row()] * (MAX_BATCH + 1))
    with pytest.raises(ValueError, match="at least one row"):
        batch_request("contacts", "companies", [])


def test_batch_refusals() -> None:
    with pytest.raises(ValueError, match=r"line 5: association type 'contact_to_company' is a name"):
        batch_request("contacts", "companies", [row(), row(type_="contact_to_company", line=5)])
    with pytest.raises(ValueError, match=r"line 4: a contacts → deals row cannot go into a contacts → companies"):
        batch_request("contacts", "companies", [row(), row(to_type="deals", line=4)])
    with pytest.raises(ValueError, match="unknown API"):
        batch_request("contacts", "companies", [row()], api="v1")
    with pytest.raises(ValueError, match="unknown association category"):
        batch_request("contacts", "companies", [row()], "NOPE")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[0-9]{1,20}", fullmatch=True), st.from_regex(r"[0-9]{1,20}", fullmatch=True),
                          st.integers(0, 2**31 - 1)), min_size=1, max_size=30))
def test_batch_body_round_trips(items: list[tuple[str, str, int]]) -> None:
    rows = [row(f, t, str(n)) for f, t, n in items]
    inputs = orjson.loads(batch_request("contacts", "companies", rows)[2])["inputs"]
    assert [(i["from"]["id"], i["to"]["id"], i["types"][0]["associationTypeId"]) for i in inputs] == items


@given(st.lists(st.text(alphabet="ab0-_.~/ %é?", max_size=6), min_size=5, max_size=5))
def test_the_v3_path_quotes_each_segment_whatever_it_holds(values: list[str]) -> None:
    from urllib.parse import quote

    seg = [quote(v, safe="") for v in values]
    expected = f"/crm/v3/objects/{seg[0]}/{seg[1]}/associations/{seg[2]}/{seg[3]}/{seg[4]}"
    assert path_for_row(*values) == expected
