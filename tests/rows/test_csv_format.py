"""Reading CSV input (bulkassoc.rows.csv_format through RowReader): rows, line numbers, broken quoting, overlong
fields and lines, and the header."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

import bulkassoc.rows.reader as rows_mod
from bulkassoc import InputError
from bulkassoc.rows.reader import MAX_FIELD_CHARS, Format, InvalidRow, Row, RowReader

from ._helpers import (
    ASSOC_TYPE_RE,
    HEADER,
    ID_RE,
    OBJECT_TYPE_RE,
    one,
    read,
)

# ------------------------------------------------------------------------------------------------ CSV

CSV_CASES: list[tuple[str, bytes, list[tuple[str, str, str, str, str, int]]]] = [
    ("plain", HEADER + b"contacts,1,deals,2,3\n", [("contacts", "1", "deals", "2", "3", 2)]),
    (
        "bom and crlf",
        b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + b"contacts,1,deals,2,3\r\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    ("no final newline", HEADER + b"contacts,1,deals,2,3", [("contacts", "1", "deals", "2", "3", 2)]),
    (
        "column order free, extra columns ignored",
        b"note,type,toId,x,toType,fromId,fromType\nhello,279,22,,0-3,11,2-7\n",
        [("2-7", "11", "0-3", "22", "279", 2)],
    ),
    (
        "quoted fields",
        b'"fromType","fromId",toType,"toId","type"\n"contacts","1","de""als",2,"3"\n"contacts","1","deals",2,"3"\n',
        [("contacts", "1", 'de"als', "2", "3", 2), ("contacts", "1", "deals", "2", "3", 3)],
    ),
    (
        "whitespace stripped from names and values",
        b" fromType , fromId\t,toType,toId , type \n  contacts ,\t1 , deals,2 ,  3\t\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    (
        "quoted whitespace stripped too",
        HEADER + b'" contacts "," 1 ",deals,2,3\n',
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    (
        "case-insensitive header",
        b"FROMTYPE,FromId,totype,TOID,Type\ncontacts,1,deals,2,3\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    (
        "exact header name wins over another case",
        b"fromid,fromId,toType,toId,type,fromType\nx,1,deals,2,3,contacts\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    (
        "blank lines and blank rows skipped",
        HEADER + b'\n\r\ncontacts,1,deals,2,3\n,,,,\n , ,\t,,\n"","  "\ncontacts,4,deals,5,6\n\n',
        [("contacts", "1", "deals", "2", "3", 4), ("contacts", "4", "deals", "5", "6", 8)],
    ),
    (
        "leading blank lines before the header",
        b"\n\n" + HEADER + b"contacts,1,deals,2,3\n",
        [("contacts", "1", "deals", "2", "3", 4)],
    ),
    (
        "quoted newlines: the line is where the row starts",
        HEADER + b'contacts,"1\n",deals,2,3\n'
        b'contacts,7,deals,8,"9"\ncontacts,"a\r\nb",deals,1,2\ncontacts,10,deals,11,12\n',
        [
            ("contacts", "1", "deals", "2", "3", 2),
            ("contacts", "7", "deals", "8", "9", 4),
            ("contacts", "a\r\nb", "deals", "1", "2", 5),
            ("contacts", "10", "deals", "11", "12", 7),
        ],
    ),
    (
        "header spanning lines",
        b'fromType,"from\nId",fromId,toType,toId,type\ncontacts,x,1,deals,2,3\n',
        [("contacts", "1", "deals", "2", "3", 3)],
    ),
    (
        "CR-only line ends (old Mac Excel)",
        HEADER.replace(b"\n", b"\r") + b"contacts,1,deals,2,3\rcontacts,4,deals,5,6\r",
        [("contacts", "1", "deals", "2", "3", 2), ("contacts", "4", "deals", "5", "6", 3)],
    ),
    (
        "fewer fields than the header: missing values are empty",
        HEADER + b"contacts,1,deals\n",
        [("contacts", "1", "deals", "", "", 2)],
    ),
    (
        "more fields than the header",
        HEADER + b"contacts,1,deals,2,3,4,5\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    ("header only", HEADER, []),
    ("header only, no newline", HEADER.rstrip(), []),
    (
        "invalid UTF-8 in an ignored column",
        b"fromType,fromId,toType,toId,type,note\ncontacts,1,deals,2,3,\xff\xfe\n",
        [("contacts", "1", "deals", "2", "3", 2)],
    ),
    (
        "invalid UTF-8 in an ID",
        HEADER + b"contacts,1\xff,deals,2,3\ncontacts,1,deals,2,3\n",
        [("contacts", "1\ufffd", "deals", "2", "3", 2), ("contacts", "1", "deals", "2", "3", 3)],
    ),
    (
        "huge IDs",
        HEADER + b"contacts,123456789012345678901,deals,99999999999999999999,1\n",
        [("contacts", "123456789012345678901", "deals", "99999999999999999999", "1", 2)],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_csv_reading(data: bytes, expected: list[tuple[str, str, str, str, str, int]]) -> None:
    items = read(data)
    assert [(*i.key, i.line) for i in items] == expected
    for item in items:
        valid = all(
            rx.fullmatch(v)
            for rx, v in zip((OBJECT_TYPE_RE, ID_RE, OBJECT_TYPE_RE, ID_RE, ASSOC_TYPE_RE), item.key, strict=True)
        )
        assert isinstance(item, Row) is bool(valid), item


def test_csv_rows_read_counts_non_blank_rows() -> None:
    data = HEADER + b"contacts,1,deals,2,3\n\n,,,,\ncontacts,x,deals,2,3\n"
    with RowReader("-", "csv", stdin=io.BytesIO(data)) as reader:
        assert reader.rows_read == 0
        first = next(reader)
        assert isinstance(first, Row)
        assert reader.rows_read == 1
        rest = list(reader)
        assert [type(i) for i in rest] == [InvalidRow]
        assert rest[0].line == 5
        assert reader.rows_read == 2


def test_csv_nul_byte_makes_only_that_row_invalid() -> None:
    items = read(HEADER + b"contacts,1\x00,deals,2,3\ncontacts,\x00\x00\x00,deals,2,3\ncontacts,1,deals,2,3\n")
    assert [(type(i), i.line) for i in items] == [(InvalidRow, 2), (InvalidRow, 3), (Row, 4)]


def test_csv_huge_field_is_an_invalid_row_and_reading_goes_on() -> None:
    big = b"1" * (MAX_FIELD_CHARS + 10)
    items = read(b"fromId,toType,toId,type\n" + big + b",deals,2,3\n1,deals,2,3\n", "csv", "contacts")
    assert [(type(i), i.line) for i in items] == [(InvalidRow, 2), (Row, 3)]
    assert isinstance(items[0], InvalidRow)
    assert "not valid CSV" in items[0].reason
    assert items[0].key == ("",) * 5


def test_csv_unbalanced_quote_is_one_invalid_row_naming_its_lines() -> None:
    items = read(HEADER + b'contacts,"1,deals,2,3\n' + b"contacts,1,deals,2,3\n" * 3)
    assert [(type(i), i.line) for i in items] == [(InvalidRow, 2)]
    assert isinstance(items[0], InvalidRow)
    assert items[0].reason.endswith("(the row spans lines 2-5: an unbalanced quote?)")


def test_csv_long_field_is_invalid_with_a_short_reason() -> None:
    item = one(HEADER + b"contacts," + b"7" * 1_000_000 + b",deals,2,3\n")
    assert isinstance(item, InvalidRow)
    assert len(item.from_id) == 1_000_000
    assert len(item.reason) < 200
    assert "1000000 characters" in item.reason


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_overlong_lines_are_invalid_rows(monkeypatch: pytest.MonkeyPatch, fmt: Format) -> None:
    monkeypatch.setattr(rows_mod, "MAX_LINE_CHARS", 100)
    if fmt == "csv":
        good = b"contacts,1,deals,2,3\n"
        data = HEADER + good + b"contacts,1,deals,2," + b"3" * 200 + b"\n" + b"x" * 500 + b"\n" + good + b"y" * 150
        expected = [(Row, 2), (InvalidRow, 3), (InvalidRow, 4), (Row, 5), (InvalidRow, 6)]
    else:
        good = b'{"fromType":"contacts","fromId":1,"toType":"deals","toId":2,"type":3}\n'
        data = good + b"[" + b" " * 300 + b"]\n" + good + b"z" * 150
        expected = [(Row, 1), (InvalidRow, 2), (Row, 3), (InvalidRow, 4)]
    items = read(data, fmt)
    assert [(type(i), i.line) for i in items] == expected
    assert all("longer than 100" in i.reason for i in items if isinstance(i, InvalidRow))


def test_csv_overlong_line_before_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_mod, "MAX_LINE_CHARS", 64)
    with pytest.raises(InputError, match="line 1 is longer than 64"):
        read(b"x" * 100 + b"\n" + HEADER)


# ----------------------------------------------------------------------------------------- CSV header

HEADER_ERRORS = [
    ("empty file", b"", ["is empty", "fromId, toType, toId, type"]),
    ("only a BOM", b"\xef\xbb\xbf", ["is empty"]),
    ("only blank lines", b"\n\r\n , \n", ["is empty"]),
    (
        "one missing column",
        b"fromType,fromId,toType,toId\ncontacts,1,deals,2\n",
        ["lacks the required column type", "'toId'", "fromId, toType, toId, type"],
    ),
    ("several missing", b"fromId,note\n1,x\n", ["lacks the required columns toType, toId, type", "'note'"]),
    (
        "not CSV at all",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        ["lacks the required columns fromId, toType, toId, type"],
    ),
    (
        "JSONL given as CSV",
        b'{"fromId":"1","toType":"deals","toId":"2","type":"3"}\n',
        ["lacks the required column"],
    ),
    ("duplicate column", b"fromId,toType,toId,type,toId\n", ["column toId appears 2 times"]),
    (
        "duplicate case-insensitive matches",
        b"FROMID,fromid,toType,toId,type\n",
        ["column fromId appears 2 times"],
    ),
]


@pytest.mark.parametrize(("data", "fragments"), [c[1:] for c in HEADER_ERRORS], ids=[c[0] for c in HEADER_ERRORS])
def test_csv_header_errors(data: bytes, fragments: list[str]) -> None:
    stream = io.BytesIO(data)
    with pytest.raises(InputError) as info:
        RowReader("-", "csv", stdin=stream)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("standard input")
    for fragment in fragments:
        assert fragment in message
    assert not stream.closed


def test_csv_header_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"fromId,toType\n1,deals\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: the CSV header lacks the required columns toId, type")):
        RowReader(path)


def test_has_from_type_column() -> None:
    with RowReader("-", "csv", "contacts", stdin=io.BytesIO(b"fromId,toType,toId,type\n")) as reader:
        assert reader.has_from_type_column is False
    with RowReader("-", "csv", stdin=io.BytesIO(HEADER)) as reader:
        assert reader.has_from_type_column is True
    with RowReader("-", "jsonl", stdin=io.BytesIO(b"")) as reader:
        assert reader.has_from_type_column is None
