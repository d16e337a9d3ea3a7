"""Property tests of the row reader: any bytes or lines read without an exception, and written rows read back as the
rules say."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkassoc import InputError
from bulkassoc.rows.reader import InvalidRow, Row, RowReader

from ._helpers import (
    ASSOC_TYPE_RE,
    HEADER,
    ID_RE,
    OBJECT_TYPE_RE,
    Item,
    assert_row_valid,
    physical_lines,
    read,
)

# ------------------------------------------------------------------------------------------ properties

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOWER = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

csv_junk = st.lists(
    st.one_of(
        st.binary(max_size=20),
        st.sampled_from([b",", b'"', b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b" ", b"1", b"a"]),
        st.sampled_from([b"contacts", b"0-1", b"279", b"12345678901234567890", b"fromId", b"fromType", b"type"]),
    ),
    max_size=40,
).map(b"".join)


def check_items(data: bytes, items: list[Item], reader: RowReader, newline_count: int) -> None:
    assert reader.rows_read == len(items)
    last = 0
    for item in items:
        assert type(item) in (Row, InvalidRow)
        assert all(type(v) is str for v in item.key)
        assert type(item.line) is int
        assert last < item.line <= max(newline_count, 1), (item, newline_count)
        last = item.line
        if isinstance(item, Row):
            assert_row_valid(item)
        else:
            assert item.reason
            assert "\n" not in item.reason


@FAST
@given(body=csv_junk, with_header=st.booleans(), default=st.sampled_from([None, "contacts"]))
def test_property_any_bytes_as_csv(body: bytes, with_header: bool, default: str | None) -> None:
    data = (HEADER if with_header else b"") + body
    try:
        reader = RowReader("-", "csv", default, stdin=io.BytesIO(data))
    except InputError:
        return
    with reader:
        items = list(reader)  # never raises for in-memory input
    check_items(data, items, reader, physical_lines(data))


@FAST
@given(data=st.binary(max_size=200))
def test_property_raw_bytes_as_csv(data: bytes) -> None:
    try:
        reader = RowReader("-", "csv", "contacts", stdin=io.BytesIO(data))
    except InputError:
        return
    with reader:
        items = list(reader)
    check_items(data, items, reader, physical_lines(data))


jsonl_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.from_regex(ID_RE, fullmatch=True),
    st.sampled_from(["contacts", "0-1", "279", "a_b", " 12 "]),
    st.lists(st.integers(), max_size=2),
)
jsonl_lines = st.one_of(
    st.dictionaries(
        st.sampled_from(["fromType", "fromId", "toType", "toId", "type", "FromId", "TYPE", "x"]), jsonl_values
    ).map(lambda d: json.dumps(d).encode()),  # orjson cannot write integers beyond 64 bits
    st.binary(max_size=30),
    st.sampled_from([b"", b"  ", b"\r", b"[]", b"null", b"{", b"\xef\xbb\xbf{}", b"\x00"]),
)


@FAST
@given(lines=st.lists(jsonl_lines, max_size=12), default=st.sampled_from([None, "contacts"]))
def test_property_any_lines_as_jsonl(lines: list[bytes], default: str | None) -> None:
    data = b"\n".join(lines)
    with RowReader("-", "jsonl", default, stdin=io.BytesIO(data)) as reader:
        items = list(reader)
    check_items(data, items, reader, data.count(b"\n") + 1)


def valid_values(with_from_type: bool) -> st.SearchStrategy[dict[str, str]]:
    object_type = st.one_of(
        st.sampled_from(["contacts", "partner_services", "partner_clients", "0-1", "2-123456"]),
        st.from_regex(OBJECT_TYPE_RE, fullmatch=True),
    )
    record_id = st.from_regex(ID_RE, fullmatch=True)
    assoc_type = st.one_of(
        st.sampled_from(["279", "1", "partner_to_contact"]), st.from_regex(ASSOC_TYPE_RE, fullmatch=True)
    )
    fields: dict[str, st.SearchStrategy[str]] = {
        "fromId": record_id,
        "toType": object_type,
        "toId": record_id,
        "type": assoc_type,
    }
    if with_from_type:
        fields["fromType"] = object_type
    return st.fixed_dictionaries(fields)


@st.composite
def csv_documents(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str, str, str, str, int]], str | None]:
    with_from_type = draw(st.booleans())
    default = None if with_from_type else draw(st.sampled_from(["contacts", "0-1"]))
    extras = draw(st.lists(st.sampled_from(["note", "x", "id"]), unique=True, max_size=2))
    columns = draw(
        st.permutations([*(["fromType"] if with_from_type else []), "fromId", "toType", "toId", "type", *extras])
    )
    quoting = draw(st.sampled_from(["minimal", "all", "nonnumeric"]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    pad = draw(st.sampled_from(["", " ", "\t "]))
    records = draw(st.lists(valid_values(with_from_type), max_size=15))
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        quoting=(
            csv.QUOTE_ALL
            if quoting == "all"
            else csv.QUOTE_NONNUMERIC
            if quoting == "nonnumeric"
            else csv.QUOTE_MINIMAL
        ),
        lineterminator=terminator,
    )
    writer.writerow([pad + c + pad for c in columns])
    line = 2
    expected = []
    for record in records:
        if draw(st.integers(0, 5)) == 0:
            buf.write(terminator)  # a blank line
            line += 1
        extra_value = draw(st.sampled_from(["", "hello, world", "multi\nline", 'quote "q"']))
        writer.writerow([pad + record[c] + pad if c in record else extra_value for c in columns])
        expected.append(
            (
                record.get("fromType", default or ""),
                record["fromId"],
                record["toType"],
                record["toId"],
                record["type"],
                line,
            )
        )
        line += 1 + extra_value.count("\n") * len(extras)
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + buf.getvalue().encode(), expected, default


@SLOWER
@given(doc=csv_documents())
def test_property_csv_round_trip(
    doc: tuple[bytes, list[tuple[str, str, str, str, str, int]], str | None],
) -> None:
    data, expected, default = doc
    items = read(data, "csv", default)
    assert all(isinstance(i, Row) for i in items), items
    assert [(*i.key, i.line) for i in items] == expected


@SLOWER
@given(
    records=st.lists(st.tuples(valid_values(True), st.booleans(), st.integers(0, 2)), max_size=8),
    crlf=st.booleans(),
)
def test_property_jsonl_round_trip(records: list[tuple[dict[str, str], bool, int]], crlf: bool) -> None:
    lines: list[bytes] = []
    expected = []
    for values, as_ints, blanks in records:
        lines.extend([b""] * blanks)
        obj: dict[str, str | int] = dict(values)
        if as_ints:
            for key in ("fromId", "toId", "type"):
                if values[key].isdigit() and int(values[key]) < 2**63:
                    obj[key] = int(values[key])
        lines.append(orjson.dumps(obj))
        expected.append(
            (
                *(
                    str(int(v)) if isinstance(v, int) else v
                    for v in (obj[k] for k in ("fromType", "fromId", "toType", "toId", "type"))
                ),
                len(lines),
            )
        )
    data = (b"\r\n" if crlf else b"\n").join(lines)
    items = read(data, "jsonl")
    assert all(isinstance(i, Row) for i in items), items
    assert [(*i.key, i.line) for i in items] == expected


def reference(fields: list[str], index: dict[str, int]) -> tuple[str, ...] | None:
    """What a written row should read back as: None when blank, else the stripped key."""
    if all(not f.strip() for f in fields):
        return None
    return tuple(
        fields[index[c]].strip() if index[c] < len(fields) else ""
        for c in ("fromType", "fromId", "toType", "toId", "type")
    )


text_field = st.one_of(
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8),
    st.sampled_from(["1", " 22 ", "contacts", "0-1", "279", "a_b", "", "\n", " \r\n ", "\u00a0", "١"]),
)


@FAST
@given(rows=st.lists(st.lists(text_field, max_size=7), max_size=12))
def test_property_arbitrary_text_rows_match_the_rules(rows: list[list[str]]) -> None:
    columns = ["fromType", "fromId", "toType", "toId", "type", "note"]
    index = {c: i for i, c in enumerate(columns)}
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    expected = []
    line = 2
    for fields in rows:
        start = buf.tell()
        writer.writerow(fields)
        written = buf.getvalue()[start:]
        key = reference(fields, index)
        if key is not None:
            expected.append((key, line))
        line += len(re.findall(r"\r\n|\r|\n", written))
    items = read(buf.getvalue().encode(), "csv")
    assert [(i.key, i.line) for i in items] == expected
    for item in items:
        valid = all(
            rx.fullmatch(v)
            for rx, v in zip((OBJECT_TYPE_RE, ID_RE, OBJECT_TYPE_RE, ID_RE, ASSOC_TYPE_RE), item.key, strict=True)
        )
        assert isinstance(item, Row) is bool(valid), item


def test_chunked_reading_equals_iteration() -> None:
    data = HEADER + b"".join(b"contacts,%d,deals,x%d,3\n\n" % (i, i % 3) for i in range(100))

    def chunks() -> Iterator[Item]:
        with RowReader("-", "csv", stdin=io.BytesIO(data)) as reader:
            while chunk := reader.read_chunk(7):
                yield from chunk

    assert list(chunks()) == read(data)


def test_giant_integers_nested_or_negative_do_not_break_the_reader() -> None:
    """Found by hypothesis in CI: a float beside a nested integer past 64 bits."""
    items = read(b'{"fromType": 0.0, "fromId": [-9223372036854775809]}\n'
                 b'{"fromId": -99999999999999999999, "toType": "deals", "toId": 1, "type": 1}\n', "jsonl", "contacts")
    assert [type(i) for i in items] == [InvalidRow, InvalidRow]
    assert items[1].from_id == "-99999999999999999999"
