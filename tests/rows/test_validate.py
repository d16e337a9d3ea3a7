"""The row rules of bulkassoc.rows.validate, alone and through the reader: object types, record IDs, association
types, fromType defaults and the reasons an invalid row gives."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from bulkassoc.rows.reader import (
    Format,
    InvalidRow,
    Row,
    RowReader,
    validate_association_type,
    validate_object_type,
    validate_record_id,
)

from ._helpers import (
    HEADER,
    one,
)

# ------------------------------------------------------------------------------------------ validators

OBJECT_TYPES = [
    ("contacts", True),
    ("partner_services", True),
    ("partner_clients", True),
    ("p_custom_thing", True),
    ("P_Custom", True),
    ("a", True),
    ("a" * 100, True),
    ("0-1", True),
    ("2-123456", True),
    ("", False),
    ("a" * 101, False),
    ("1abc", False),
    ("_x", False),
    ("a-b", False),
    ("a b", False),
    ("contacts\n", False),
    ("0-", False),
    ("-1", False),
    ("0-1-2", False),
    ("0--1", False),
    ("é", False),
    ("\u0663-1", False),  # ARABIC-INDIC DIGIT THREE
    ("1" * 21 + "-1", False),
]


@pytest.mark.parametrize(("value", "ok"), OBJECT_TYPES)
def test_validate_object_type(value: str, ok: bool) -> None:
    assert validate_object_type(value) is ok


RECORD_IDS = [
    ("0", True),
    ("1", True),
    ("123456789012", True),
    ("1" * 20, True),
    ("99999999999999999999", True),
    ("", False),
    ("1" * 21, False),
    ("-1", False),
    ("+1", False),
    ("1.0", False),
    ("1e3", False),
    ("0x1f", False),
    ("1 2", False),
    ("\u0661\u0662", False),  # Arabic-Indic digits: \d would accept them
    ("\uff11", False),  # FULLWIDTH DIGIT ONE
    ("1\n", False),
    ("abc", False),
]


@pytest.mark.parametrize(("value", "ok"), RECORD_IDS)
def test_validate_record_id(value: str, ok: bool) -> None:
    assert validate_record_id(value) is ok


ASSOC_TYPES = [
    ("1", True),
    ("279", True),
    ("1" * 10, True),
    ("partner_to_contact", True),
    ("a", True),
    ("a1_", True),
    ("a" * 100, True),
    ("", False),
    ("1" * 11, False),
    ("a" * 101, False),
    ("Foo", True),  # a label's text
    ("Billing contact", True),
    ("Foo!", False),
    ("_x", False),
    ("1a", False),
    ("a-b", True),
    ("-ab", False),
    ("9101.0", False),
    ("\u0662\u0667\u0669", False),
]


@pytest.mark.parametrize(("value", "ok"), ASSOC_TYPES)
def test_validate_association_type(value: str, ok: bool) -> None:
    assert validate_association_type(value) is ok


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("column", "value", "ok"),
    [
        *[("fromId", v, ok) for v, ok in RECORD_IDS if "\n" not in v],
        *[("toId", v, ok) for v, ok in RECORD_IDS if "\n" not in v],
        *[("fromType", v, ok) for v, ok in OBJECT_TYPES if "\n" not in v and v.strip() == v and v],
        *[("toType", v, ok) for v, ok in OBJECT_TYPES if "\n" not in v and v.strip() == v],
        *[("type", v, ok) for v, ok in ASSOC_TYPES],
    ],
)
def test_reader_applies_each_rule(fmt: Format, column: str, value: str, ok: bool) -> None:
    values = {
        "fromType": "contacts",
        "fromId": "1",
        "toType": "deals",
        "toId": "2",
        "type": "3",
        column: value,
    }
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows([list(values), list(values.values())])
        data = buf.getvalue().encode()
    else:
        data = orjson.dumps(values) + b"\n"
    item = one(data, fmt)
    assert isinstance(item, Row) is ok, item
    assert item.line == (2 if fmt == "csv" else 1)
    assert item.key == tuple(values[c] for c in ("fromType", "fromId", "toType", "toId", "type"))
    if not ok:
        assert isinstance(item, InvalidRow)
        assert item.reason.startswith(column), item.reason
        assert "\n" not in item.reason
        assert len(item.reason) < 250


# ---------------------------------------------------------------------------------------- fromType


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("row_from_type", "default", "expected"),
    [
        (None, "contacts", "contacts"),
        (None, "  0-1 ", "0-1"),
        ("deals", "contacts", "deals"),
        ("deals", None, "deals"),
        ("", "contacts", "contacts"),
        ("  ", "contacts", "contacts"),
        (None, None, None),
        ("", None, None),
    ],
)
def test_from_type_default_and_override(
    fmt: Format, row_from_type: str | None, default: str | None, expected: str | None
) -> None:
    values = {"fromId": "1", "toType": "deals", "toId": "2", "type": "3"}
    if row_from_type is not None:
        values["fromType"] = row_from_type
    if fmt == "csv":
        data = (",".join(values) + "\n" + ",".join(values.values()) + "\n").encode()
    else:
        data = orjson.dumps(values)
    item = one(data, fmt, default)
    if expected is None:
        assert isinstance(item, InvalidRow)
        assert item.reason.startswith("no fromType: add a fromType ")
        assert item.reason.endswith(" or pass --from-type")
        assert item.from_type == ""
    else:
        assert isinstance(item, Row)
        assert item.from_type == expected


@pytest.mark.parametrize("default", ["", "  ", "bad type", "1abc", "a" * 101, "contacts\x00"])
def test_invalid_default_from_type_is_a_value_error(default: str) -> None:
    stream = io.BytesIO(HEADER)
    with pytest.raises(ValueError, match=r"--from-type .* is not an object type"):
        RowReader("-", "csv", default, stdin=stream)
    assert not stream.closed


def test_invalid_row_reports_every_bad_column_and_keeps_raw_values() -> None:
    item = one(HEADER + b" 1x ,abc,,-5,Foo!\n")
    assert isinstance(item, InvalidRow)
    assert item.key == ("1x", "abc", "", "-5", "Foo!")
    assert item.reason == (
        "fromType '1x' is not an object type (a name such as contacts or p_custom, "
        "or a type ID such as 0-1); also invalid: fromId, toType, toId, type"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"contacts,abc,deals,2,3", "fromId 'abc' is not a record ID (1-20 digits)"),
        (b"contacts,,deals,2,3", "fromId is empty: expected a record ID (1-20 digits)"),
        (b"contacts,1,deals,2,Foo!", "type 'Foo!' is not an association type"),
        (b"contacts,1.2E+10,deals,2,3", "fromId '1.2E+10' looks like a number a spreadsheet converted"),
        (b"contacts,1,deals,123.0,3", "toId '123.0' looks like a number a spreadsheet converted"),
        (b"contacts,1,,2,3", "toType is empty: expected an object type"),
    ],
)
def test_reasons(line: bytes, reason: str) -> None:
    item = one(HEADER + line + b"\n")
    assert isinstance(item, InvalidRow)
    assert item.reason.startswith(reason)
