"""The reader facade (bulkassoc.rows.reader): format detection, files and stdin, read_chunk, count_data_lines, and
memory while streaming."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bulkassoc import InputError
from bulkassoc.rows.reader import Format, Row, RowReader, count_data_lines, detect_format

from ._helpers import (
    HEADER,
    jl,
)

# ------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [
        ("a.csv", None, "csv"),
        ("dir.x/A.CSV", None, "csv"),
        ("a.jsonl", None, "jsonl"),
        ("a.JSONL", None, "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("a.NdJson", None, "jsonl"),
        ("a.txt", "csv", "csv"),
        ("a.csv", "jsonl", "jsonl"),
        ("-", "csv", "csv"),
        ("-", "jsonl", "jsonl"),
    ],
)
def test_detect_format(source: str, fmt: Format | None, expected: str) -> None:
    assert detect_format(source, fmt) == expected


@pytest.mark.parametrize(
    ("source", "fmt", "message"),
    [
        ("a.txt", None, "cannot tell the format of a.txt: pass --format csv or --format jsonl"),
        ("a", None, "cannot tell the format of a: pass --format csv or --format jsonl"),
        ("a.csv.gz", None, "cannot tell the format of a.csv.gz: pass --format csv or --format jsonl"),
        ("a.json", None, "cannot tell the format of a.json: pass --format csv or --format jsonl"),
        ("-", None, "--format"),
        ("a.csv", "xml", "--format"),
    ],
)
def test_detect_format_errors(source: str, fmt: Any, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        detect_format(source, fmt)


# ------------------------------------------------------------------------------------- files and stdin


def test_reading_a_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "in.CSV"
    path.write_bytes(HEADER + b"contacts,1,deals,2,3\n")
    with RowReader(path) as reader:
        assert reader.format == "csv"
        assert list(reader) == [Row("contacts", "1", "deals", "2", "3", 2)]
    with RowReader(str(path)) as reader:
        assert len(list(reader)) == 1
    jpath = tmp_path / "in.ndjson"
    jpath.write_bytes(jl(fromId=1, toType="deals", toId=2, type=3))
    with RowReader(jpath, default_from_type="contacts") as reader:
        assert list(reader) == [Row("contacts", "1", "deals", "2", "3", 1)]


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(f"cannot read {tmp_path / 'missing.csv'}: ")):
        RowReader(tmp_path / "missing.csv")
    with pytest.raises(InputError, match=r"cannot read .*missing\.txt: "):
        RowReader(tmp_path / "missing.txt")  # a missing file is reported as missing, not as of unknown format
    with pytest.raises(InputError, match="cannot read "):
        RowReader(tmp_path, "csv")
    (tmp_path / "data.txt").write_bytes(HEADER)
    with pytest.raises(InputError, match=r"cannot tell the format of .*data\.txt: pass --format csv or --format jsonl"):
        RowReader(tmp_path / "data.txt")
    with RowReader(tmp_path / "data.txt", "csv") as reader:
        assert list(reader) == []
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.csv is empty"):
        RowReader(tmp_path / "empty.csv")


def test_stdin_needs_a_format() -> None:
    with pytest.raises(InputError, match=r"standard input.*--format"):
        RowReader("-", stdin=io.BytesIO(HEADER))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_stdin_is_not_closed(fmt: Format) -> None:
    stream = io.BytesIO(HEADER + b"contacts,1,deals,2,3\n" if fmt == "csv" else jl(fromId=1))
    with RowReader("-", fmt, "contacts", stdin=stream) as reader:
        assert len(list(reader)) == 1
    assert not stream.closed
    stream.write(b"still usable")


def test_stdin_defaults_to_sys_stdin_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BytesIO(jl(fromType="contacts", fromId=1, toType="deals", toId=2, type=3))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
    with RowReader("-", "jsonl") as reader:
        assert list(reader) == [Row("contacts", "1", "deals", "2", "3", 1)]
    assert not stream.closed


def test_file_closed_on_exit_and_on_header_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER + b"contacts,1,deals,2,3\n")
    reader = RowReader(path)
    binary = reader._binary
    assert binary is not None
    with reader:
        next(reader)
    assert binary.closed
    reader.close()  # idempotent
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n")
    with pytest.raises(InputError):
        RowReader(bad)  # would leak a file (a ResourceWarning, an error here) if not closed


def test_iteration_after_close_stops() -> None:
    reader = RowReader("-", "csv", stdin=io.BytesIO(HEADER + b"contacts,1,deals,2,3\n" * 10))
    next(reader)
    reader.close()
    assert list(reader) == []


# ---------------------------------------------------------------------------------------- read_chunk


def test_read_chunk() -> None:
    data = HEADER + b"".join(b"contacts,%d,deals,2,3\n" % i for i in range(25))
    with RowReader("-", "csv", stdin=io.BytesIO(data)) as reader:
        sizes = []
        while chunk := reader.read_chunk(10):
            sizes.append(len(chunk))
        assert sizes == [10, 10, 5]
        assert reader.rows_read == 25
        assert reader.read_chunk(10) == []
        with pytest.raises(ValueError, match="n >= 1"):
            reader.read_chunk(0)


class FailingStream(io.RawIOBase):
    """Gives `data`, then fails like a broken disk."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        if not chunk:
            raise OSError(5, "Input/output error")
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_read_error_midway_keeps_rows_read_before_it(fmt: Format) -> None:
    line = b"contacts,1,deals,2,3\n" if fmt == "csv" else jl(fromType="contacts", fromId=1, toType="d", toId=2, type=3)
    data = (HEADER if fmt == "csv" else b"") + (line.rstrip(b"\n") + b"\n") * 3
    stream = io.BufferedReader(FailingStream(data))
    with RowReader("-", fmt, stdin=stream) as reader:
        assert len(reader.read_chunk(100)) == 3
        for _ in range(2):  # the error sticks
            with pytest.raises(InputError, match="cannot read standard input: Input/output error"):
                reader.read_chunk(100)


async def test_read_chunk_from_a_worker_thread() -> None:
    data = HEADER + b"contacts,1,deals,2,3\n" * 5000
    with RowReader("-", "csv", stdin=io.BytesIO(data)) as reader:
        total = 0
        while chunk := await asyncio.to_thread(reader.read_chunk, 1000):
            total += len(chunk)
    assert total == 5000


# ------------------------------------------------------------------------------------ count_data_lines


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.csv", HEADER + b"r\n" * 5, 5),
        ("a.csv", HEADER + b"r\n" * 4 + b"r", 5),
        ("a.csv", HEADER, 0),
        ("a.csv", HEADER.rstrip(), 0),
        ("a.csv", b"", 0),
        ("a.jsonl", b"{}\n" * 3, 3),
        ("a.jsonl", b"{}\n{}", 2),
        ("a.jsonl", b"", 0),
        ("a.csv", HEADER + b"x" * (3 << 20) + b"\n" + b"r\n" * 7, 8),  # spans several 1 MiB chunks
    ],
)
def test_count_data_lines(tmp_path: Path, name: str, data: bytes, expected: int) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert count_data_lines(path) == expected
    assert count_data_lines(str(path)) == expected


def test_count_data_lines_unknowable(tmp_path: Path) -> None:
    assert count_data_lines("-") is None
    assert count_data_lines(tmp_path / "missing.csv") is None
    (tmp_path / "x.txt").write_bytes(b"a\nb\n")
    assert count_data_lines(tmp_path / "x.txt") is None
    assert count_data_lines(tmp_path / "x.txt", "jsonl") == 2


# ------------------------------------------------------------------------------------------- memory


def test_memory_stays_flat_while_streaming() -> None:
    data = HEADER + b"".join(b"contacts,%d,deals,%d,279\n" % (i, i * 7) for i in range(30_000))
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        with RowReader("-", "csv", stdin=stream) as reader:
            while reader.read_chunk(1000):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.rows_read == 30_000
    assert peak < 2_000_000, peak  # the input is 1.1 MB; the rows held at once would be ~10 MB
