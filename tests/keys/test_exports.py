"""Real exports: semicolon and tab files and aliased headers run like the comma file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bulkassoc import run_async
from bulkassoc.fake.server import FakeHubSpot
from bulkassoc.rows.header import detect_delimiter, parse_column_map
from bulkassoc.rows.reader import InvalidRow, ReadOptions, Row, RowReader

from ._portal import config, contact_id, email, portal, service_id

ROWS = [[service_id(i), "contacts", email(i) if i % 3 else contact_id(i), "Billing contact" if i % 2 else "9101",
         "email" if i % 3 else ""] for i in range(300)]


def _write(path: Path, header: list[str], delimiter: str, crlf: bool = False) -> Path:
    end = "\r\n" if crlf else "\n"
    path.write_text(end.join(delimiter.join(r) for r in [header, *ROWS]) + end, encoding="utf-8")
    return path


VARIANTS = {
    "comma": (["fromId", "toType", "toId", "type", "toIdProperty"], ",", ()),
    "semicolon": (["fromId", "toType", "toId", "type", "toIdProperty"], ";", ()),
    "tab": (["fromId", "toType", "toId", "type", "toIdProperty"], "\t", ()),
    "aliases": (["fromObjectId", "to_type", "toObjectId", "associationTypeId", "to_id_property"], ";", ()),
    "snake": (["from_id", "TO TYPE", "to_id", "Association Label", "toIdProperty"], "\t", ()),
    "mapped": (["Service", "Object", "Contact", "Kind", "How"], ",",
               ("fromId=Service", "toType=Object", "toId=Contact", "type=Kind", "toIdProperty=How")),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
async def test_exports_run_like_the_comma_file(tmp_path: Path, name: str) -> None:
    header, delimiter, mapping = VARIANTS[name]
    src = _write(tmp_path / f"{name}.csv", header, delimiter, crlf=name == "tab")
    async with FakeHubSpot(portal(300)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, columns=parse_column_map(list(mapping))))
        assert (s.rows, s.succeeded, s.failed, s.invalid) == (300, 300, 0, 0), s.message
        assert fake.associations() == {
            ("partner_services", service_id(i), "contacts", contact_id(i), "9150" if i % 2 else "9101")
            for i in range(300)}
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM assoc WHERE status = 'succeeded'").fetchone() == (300,)


def test_an_explicit_delimiter_wins(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("fromId;toType;toId;type\n1;contacts;2;3\n", encoding="utf-8")
    with RowReader(src, default_from_type="deals", options=ReadOptions(delimiter=";")) as reader:
        assert [r for r in reader if isinstance(r, Row)] == [Row("deals", "1", "contacts", "2", "3", 2)]


@pytest.mark.parametrize(("line", "expected"), [
    ("fromId,toType,toId,type", ","), ("fromId;toType;toId;type", ";"), ("fromId\ttoType\ttoId\ttype", "\t"),
    ('"from id";"to;type";toId;type', ";"), ("\t fromId\t ,\t toType\t ,\t toId\t ,\t type\t ", ","),
    ("a", ","),
])
def test_detect_delimiter(line: str, expected: str) -> None:
    assert detect_delimiter(line) == expected


def test_spreadsheet_mangled_ids_say_so(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("fromId;toType;toId;type\n1.2E+10;contacts;2;3\n123.0;contacts;2;3\n", encoding="utf-8")
    with RowReader(src, default_from_type="deals") as reader:
        items = list(reader)
    assert all(isinstance(i, InvalidRow) and "spreadsheet converted" in i.reason for i in items)


def test_bad_column_mapping_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="NAME=SOURCE"):
        parse_column_map(["fromid"])
    with pytest.raises(ValueError, match="one of"):
        parse_column_map(["color=Colour"])
