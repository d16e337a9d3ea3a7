"""Shared pieces of the row reader tests: independent restatements of the input rules (README, "Usage"; the
rules themselves live in bulkassoc/rows/validate.py), and small readers of in-memory input."""

from __future__ import annotations

import io
import re
from typing import Any

import orjson

from bulkassoc.rows.reader import (
    Format,
    InvalidRow,
    Row,
    RowReader,
)

Item = Row | InvalidRow

# Independent restatements of the input rules, to check the modules against.
ID_RE = re.compile(r"[0-9]{1,20}")
OBJECT_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}|[0-9]{1,20}-[0-9]{1,20}")
ASSOC_TYPE_RE = re.compile(r"[0-9]{1,10}|[a-z][a-z0-9_]{0,99}")
HEADER = b"fromType,fromId,toType,toId,type\n"


def read(data: bytes, fmt: Format = "csv", default_from_type: str | None = None) -> list[Item]:
    with RowReader("-", fmt, default_from_type, stdin=io.BytesIO(data)) as reader:
        return list(reader)


def one(data: bytes, fmt: Format = "csv", default_from_type: str | None = None) -> Item:
    items = read(data, fmt, default_from_type)
    assert len(items) == 1, items
    return items[0]


def physical_lines(data: bytes) -> int:
    """Lines as the CSV reader counts them (\\r\\n, \\r or \\n end a line)."""
    ends = len(re.findall(rb"\r\n|\r|\n", data))
    return ends + (1 if data and not data.endswith((b"\r", b"\n")) else 0)


def assert_row_valid(row: Row) -> None:
    assert OBJECT_TYPE_RE.fullmatch(row.from_type), row
    assert ID_RE.fullmatch(row.from_id), row
    assert OBJECT_TYPE_RE.fullmatch(row.to_type), row
    assert ID_RE.fullmatch(row.to_id), row
    assert ASSOC_TYPE_RE.fullmatch(row.type), row


def jl(**values: Any) -> bytes:
    return orjson.dumps(values)
