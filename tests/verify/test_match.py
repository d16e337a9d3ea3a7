"""Matching batch-read answers to rows (bulkassoc.verify.match), by table: what one page proves present, which
fromIds need another page, and what is missing at the end. Answers have the shape of HubSpot's v4 batch read
(docs/hubspot-api.md §6)."""

from __future__ import annotations

from typing import Any

import pytest

from bulkassoc.rows.types import Row
from bulkassoc.verify.match import Wanted, norm_id, settle, take_page, wanted_of


def row(from_id: str, to_id: str, assoc_type: str = "279", line: int = 2) -> Row:
    return Row("contacts", from_id, "companies", to_id, assoc_type, line)


def result(from_id: object, *targets: tuple[object, list[object]], after: object = None) -> dict[str, Any]:
    """One `results[]` entry: from, to[] (toObjectId, typeIds), and paging when `after` is given."""
    entry: dict[str, Any] = {"from": {"id": from_id}, "to": [
        {"toObjectId": to_id, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": None}
                                                   for t in types]} for to_id, types in targets]}
    if after is not None:
        entry["paging"] = {"next": {"after": after, "link": "deprecated"}}
    return entry


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], {}),
        ([row("1", "2")], {"1": {"2": {"279"}}}),
        ([row("007", "0020", "0279")], {"7": {"20": {"279"}}}),  # IDs and numeric types compare as numbers
        ([row("0", "000")], {"0": {"0": {"279"}}}),
        ([row("1", "2", "1"), row("1", "2", "279"), row("1", "3", "contact_to_company")],
         {"1": {"2": {"1", "279"}, "3": {"contact_to_company"}}}),
    ],
)
def test_wanted_of(rows: list[Row], expected: Wanted) -> None:
    assert wanted_of(rows) == expected


@pytest.mark.parametrize(("digits", "normal"), [("7", "7"), ("007", "7"), ("0", "0"), ("000", "0"), ("10", "10")])
def test_norm_id(digits: str, normal: str) -> None:
    assert norm_id(digits) == normal


ROWS = [row("1", "2", "279"), row("1", "2", "1"), row("1", "3", "279"), row("4", "5", "contact_to_company")]
START: dict[str, str | None] = {"1": None, "4": None}


@pytest.mark.parametrize(
    ("answer", "cursors", "following", "left"),
    [
        pytest.param({}, START, {}, wanted_of(ROWS), id="empty answer"),
        pytest.param({"results": []}, START, {}, wanted_of(ROWS), id="empty page"),
        pytest.param({"results": "x"}, START, {}, wanted_of(ROWS), id="results not a list"),
        pytest.param({"results": [None, 7, {"from": "1"}, {"from": {}}, {"to": []}]}, START, {}, wanted_of(ROWS),
                     id="garbage entries"),
        pytest.param({"results": [result("1", ("2", [279, 1]), ("3", [279]))]}, START, {},
                     {"1": {}, "4": {"5": {"contact_to_company"}}}, id="everything of one fromId"),
        pytest.param({"results": [result(1, (2, [279]))]}, START, {},
                     {"1": {"2": {"1"}, "3": {"279"}}, "4": {"5": {"contact_to_company"}}},
                     id="IDs as JSON numbers; one type of two"),
        pytest.param({"results": [result("0001", ("002", [1, 279]))]}, START, {},
                     {"1": {"3": {"279"}}, "4": {"5": {"contact_to_company"}}}, id="IDs with leading zeros"),
        pytest.param({"results": [result("1", ("2", [280, 2]), ("9", [279]))]}, START, {}, wanted_of(ROWS),
                     id="other types and other records prove nothing"),
        pytest.param({"results": [result("1", ("2", ["279", "1"]))]}, START, {}, wanted_of(ROWS),
                     id="typeIds that are not integers prove nothing"),
        pytest.param({"results": [{"from": {"id": "1"}, "to": [{"toObjectId": "2"}, {"toObjectId": "3",
                                                                 "associationTypes": "x"}, "2"]}]},
                     START, {}, wanted_of(ROWS), id="targets without types"),
        pytest.param({"results": [{"from": {"id": "4"}, "to": [{"toObjectId": "5"}]}]}, START, {},
                     {"1": {"2": {"279", "1"}, "3": {"279"}}, "4": {}}, id="a type name: any association will do"),
        pytest.param({"results": [result(True, ("2", [279])), result(-1, ("2", [279])), result("1a", ("2", [279]))]},
                     START, {}, wanted_of(ROWS), id="fromIds that are no IDs"),
        pytest.param({"results": [result("1", (True, [279]), (-2, [279]), (None, [279]))]}, START, {},
                     wanted_of(ROWS), id="toIds that are no IDs"),
        pytest.param({"results": [result("1", ("2", [279, 1]), ("3", [279]))]}, {"4": None}, {}, wanted_of(ROWS),
                     id="a fromId this request did not ask for"),
        pytest.param({"results": [result("99", ("2", [279]), after="c1")]}, START, {}, wanted_of(ROWS),
                     id="a fromId no row wants"),
        pytest.param({"results": [result("1", ("2", [279]), after="c1")]}, START, {"1": "c1"},
                     {"1": {"2": {"1"}, "3": {"279"}}, "4": {"5": {"contact_to_company"}}},
                     id="more pages and rows still open: follow"),
        pytest.param({"results": [result("1", ("2", [279, 1]), ("3", [279]), after="c1")]}, START, {},
                     {"1": {}, "4": {"5": {"contact_to_company"}}}, id="more pages but nothing open: stop"),
        pytest.param({"results": [result("1", ("2", [279]), after="c1")]}, {"1": "c1", "4": None}, {},
                     {"1": {"2": {"1"}, "3": {"279"}}, "4": {"5": {"contact_to_company"}}},
                     id="the same cursor again: stop (no endless loop)"),
        pytest.param({"results": [result("1", after="c2")]}, {"1": "c1"}, {"1": "c2"}, wanted_of(ROWS),
                     id="a page without targets, then a new cursor"),
        pytest.param({"results": [result("1", after="")]}, START, {}, wanted_of(ROWS), id="an empty cursor"),
        pytest.param({"results": [result("1", after=7)]}, START, {}, wanted_of(ROWS), id="a cursor not a string"),
        pytest.param({"results": [{**result("1"), "paging": {"next": "c1"}}]}, START, {}, wanted_of(ROWS),
                     id="paging.next not an object"),
        pytest.param({"results": [{**result("1"), "paging": "c1"}]}, START, {}, wanted_of(ROWS),
                     id="paging not an object"),
        pytest.param({"results": [result("1", ("2", [279]), after="a"), result("4", after="b")]}, START,
                     {"1": "a", "4": "b"}, {"1": {"2": {"1"}, "3": {"279"}}, "4": {"5": {"contact_to_company"}}},
                     id="each fromId pages on its own"),
    ],
)
def test_take_page(answer: dict[str, Any], cursors: dict[str, str | None], following: dict[str, str | None],
                   left: Wanted) -> None:
    wanted = wanted_of(ROWS)
    assert take_page(answer, cursors, wanted) == following
    assert wanted == left


def test_pages_add_up() -> None:
    """Two pages of one fromId strike what each proves; the last page has no paging."""
    wanted = wanted_of(ROWS)
    cursors: dict[str, str | None] = {"1": None, "4": None}
    following = take_page({"results": [result("1", ("2", [279]), after="p2"), result("4", ("5", [4]))]},
                          cursors, wanted)
    assert following == {"1": "p2"}
    assert take_page({"results": [result("1", ("2", [1]), ("3", [279]))]}, following, wanted) == {}
    assert wanted == {"1": {}, "4": {}}


@pytest.mark.parametrize(
    ("left", "unread", "missing", "unchecked"),
    [
        pytest.param(wanted_of(ROWS), {}, [0, 1, 2, 3], 0, id="nothing seen: all missing"),
        pytest.param({"1": {}, "4": {}}, {}, [], 0, id="everything seen"),
        pytest.param({"1": {"2": {"1"}}, "4": {}}, {}, [1], 0, id="one type of a pair missing"),
        pytest.param({"1": {"2": {"1"}}, "4": {"5": {"contact_to_company"}}}, {"1": "c"}, [3], 3,
                     id="a fromId whose reading failed stays unchecked, not missing"),
        pytest.param(wanted_of(ROWS), {"1": None, "4": None}, [], 4, id="nothing read"),
    ],
)
def test_settle(left: Wanted, unread: dict[str, str | None], missing: list[int], unchecked: int) -> None:
    assert settle(ROWS, unread, left) == ([ROWS[i] for i in missing], unchecked)
