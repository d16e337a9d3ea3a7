"""Reading JSONL input (bulkassoc.rows.jsonl_format through RowReader)."""

from __future__ import annotations

import pytest

from bulkassoc.rows.reader import (
    InvalidRow,
    Row,
)

from ._helpers import (
    assert_row_valid,
    jl,
    read,
)

# ---------------------------------------------------------------------------------------------- JSONL



JSONL_CASES: list[tuple[str, bytes, str | None, list[tuple[type, tuple[str, ...], int, str]]]] = [
    (
        "strings",
        jl(fromType="contacts", fromId="1", toType="deals", toId="2", type="3") + b"\n",
        None,
        [(Row, ("contacts", "1", "deals", "2", "3"), 1, "")],
    ),
    (
        "integers",
        jl(fromType="0-1", fromId=1, toType="deals", toId=99999999999, type=279),
        None,
        [(Row, ("0-1", "1", "deals", "99999999999", "279"), 1, "")],
    ),
    (
        "whitespace stripped, extra keys ignored",
        jl(fromType=" contacts ", fromId=" 1", toType="deals\t", toId="2", type="3", note=[1, 2], x=None),
        None,
        [(Row, ("contacts", "1", "deals", "2", "3"), 1, "")],
    ),
    (
        "extra keys without fromType",
        jl(fromId=1, toType="deals", toId=2, type=3, note="x"),
        "contacts",
        [(Row, ("contacts", "1", "deals", "2", "3"), 1, "")],
    ),
    (
        "case-insensitive keys",
        jl(FromType="deals", FROMID="1", totype="deals", ToId=2, Type=3),
        "contacts",
        [(Row, ("deals", "1", "deals", "2", "3"), 1, "")],
    ),
    (
        "ambiguous keys",
        jl(FROMID="1", fromid="2", toType="deals", toId=2, type=3),
        "contacts",
        [(InvalidRow, ("contacts", "", "deals", "2", "3"), 1, "fromId is ambiguous")],
    ),
    (
        "blank lines skipped, line numbers physical",
        b"\n  \r\n"
        + jl(fromId=1, toType="deals", toId=2, type=3)
        + b"\r\n\n"
        + jl(fromId=4, toType="deals", toId=5, type=6)
        + b"\n\n",
        "contacts",
        [
            (Row, ("contacts", "1", "deals", "2", "3"), 3, ""),
            (Row, ("contacts", "4", "deals", "5", "6"), 5, ""),
        ],
    ),
    (
        "BOM",
        b"\xef\xbb\xbf" + jl(fromId=1, toType="deals", toId=2, type=3),
        "contacts",
        [(Row, ("contacts", "1", "deals", "2", "3"), 1, "")],
    ),
    (
        "boolean",
        jl(fromId=True, toType="deals", toId=2, type=3),
        "contacts",
        [
            (
                InvalidRow,
                ("contacts", "true", "deals", "2", "3"),
                1,
                "fromId is a boolean (true): expected a string or an integer",
            )
        ],
    ),
    (
        "float",
        jl(fromId=1, toType="deals", toId=2.5, type=3),
        "contacts",
        [
            (
                InvalidRow,
                ("contacts", "1", "deals", "2.5", "3"),
                1,
                "toId is a number with a fraction or exponent (2.5)",
            )
        ],
    ),
    (
        "integer beyond 64 bits, 21 digits: invalid, kept exactly as written",
        b'{"fromId":123456789012345678901,"toType":"deals","toId":2,"type":3}',
        "contacts",
        [
            (
                InvalidRow,
                ("contacts", "123456789012345678901", "deals", "2", "3"),
                1,
                "not a record ID",
            )
        ],
    ),
    (
        "integer beyond 64 bits, 20 digits: a valid ID",
        b'{"fromId":99999999999999999999,"toType":"deals","toId":2,"type":3}',
        "contacts",
        [(Row, ("contacts", "99999999999999999999", "deals", "2", "3"), 1, "")],
    ),
    (
        "negative integer",
        jl(fromId=-1, toType="deals", toId=2, type=3),
        "contacts",
        [(InvalidRow, ("contacts", "-1", "deals", "2", "3"), 1, "fromId '-1' is not a record ID")],
    ),
    (
        "null",
        jl(fromId=1, toType=None, toId=2, type=3),
        "contacts",
        [(InvalidRow, ("contacts", "1", "", "2", "3"), 1, "toType is null: expected a string or an integer")],
    ),
    (
        "null fromType is invalid, not the default",
        jl(fromType=None, fromId=1, toType="deals", toId=2, type=3),
        "contacts",
        [(InvalidRow, ("", "1", "deals", "2", "3"), 1, "fromType is null")],
    ),
    (
        "array and object values",
        jl(fromId=[1], toType={"a": 1}, toId=2, type=3),
        "contacts",
        [(InvalidRow, ("contacts", "[1]", '{"a":1}', "2", "3"), 1, "fromId is an array")],
    ),
    (
        "missing keys",
        jl(fromId=1, toType="deals"),
        "contacts",
        [(InvalidRow, ("contacts", "1", "deals", "", ""), 1, "toId is empty")],
    ),
    (
        "not JSON",
        b"fromId,toType\n" + jl(fromId=1, toType="deals", toId=2, type=3),
        "contacts",
        [
            (InvalidRow, ("", "", "", "", ""), 1, "line is not valid JSON"),
            (Row, ("contacts", "1", "deals", "2", "3"), 2, ""),
        ],
    ),
    (
        "not an object",
        b'[1,2]\n"x"\n3\nnull\ntrue\n',
        None,
        [
            (InvalidRow, ("", "", "", "", ""), n, f"line is {k}, not a JSON object")
            for n, k in enumerate(["an array", "a string", "a number", "null", "a boolean"], 1)
        ],
    ),
    (
        "invalid UTF-8",
        b'{"fromId":"1\xff","toType":"deals","toId":2,"type":3}\n' + jl(fromId=1, toType="deals", toId=2, type=3),
        "contacts",
        [
            (InvalidRow, ("", "", "", "", ""), 1, "line is not valid JSON"),
            (Row, ("contacts", "1", "deals", "2", "3"), 2, ""),
        ],
    ),
    (
        "two objects on a line",
        jl(fromId=1) + jl(fromId=1),
        "contacts",
        [(InvalidRow, ("", "", "", "", ""), 1, "line is not valid JSON")],
    ),
]


@pytest.mark.parametrize(("data", "default", "expected"), [c[1:] for c in JSONL_CASES], ids=[c[0] for c in JSONL_CASES])
def test_jsonl_reading(
    data: bytes, default: str | None, expected: list[tuple[type, tuple[str, ...], int, str]]
) -> None:
    items = read(data, "jsonl", default)
    assert [(type(i), i.key, i.line) for i in items] == [e[:3] for e in expected]
    for item, (_, _, _, reason) in zip(items, expected, strict=True):
        if isinstance(item, InvalidRow):
            assert reason in item.reason
            assert "\n" not in item.reason
        else:
            assert_row_valid(item)


def test_lines_without_content_have_empty_keys_even_with_a_default() -> None:
    """The engine keys such rows by line number; a default fromType must not make them look alike."""
    items = read(b'nope\n[1]\n{"fromId": 1\n', "jsonl", "contacts")
    assert [(i.key, i.line) for i in items] == [(("",) * 5, 1), (("",) * 5, 2), (("",) * 5, 3)]


def test_jsonl_empty_input_yields_nothing() -> None:
    assert read(b"", "jsonl") == []
    assert read(b"\n\n", "jsonl") == []
