"""Reading and validating input rows (CSV or JSONL), streamed, with physical line numbers.

See CONTRACT.md, "Input rows". A `RowReader` yields, in input order, one `Row` per valid data row and one
`InvalidRow` per row that must be recorded as failed (with its line number and a one-line reason).
Blank rows are skipped. The only exception that leaves a reader is `InputError` (the input as a whole is
unusable); everything row-level becomes an `InvalidRow`.

The CSV and JSONL loops are on the hot path of a rerun (skipping millions of done rows), so they are
written flat: one combined precompiled regex per row, no per-field helper calls on the valid path, and
`Row` objects built through their slot descriptors instead of the (slow) frozen-dataclass `__init__`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import BinaryIO, Literal

import orjson

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_LINE_CHARS",
    "Format",
    "InputError",
    "InvalidRow",
    "Key",
    "Row",
    "RowReader",
    "count_data_lines",
    "detect_format",
    "validate_association_type",
    "validate_object_type",
    "validate_record_id",
]

Key = tuple[str, str, str, str, str]
"""(fromType, fromId, toType, toId, type): what makes two rows the same association."""

Format = Literal["csv", "jsonl"]

MAX_FIELD_CHARS = 16 * 1024 * 1024
"""A CSV field longer than this makes its row invalid (csv.field_size_limit is raised to this)."""

MAX_LINE_CHARS = 32 * 1024 * 1024
"""A physical line longer than this (characters for CSV, bytes for JSONL) is an invalid row and is never
held in memory whole."""

# --------------------------------------------------------------------------------------------- validation

_OBJECT_TYPE = r"[A-Za-z][A-Za-z0-9_]{0,99}|[0-9]{1,20}-[0-9]{1,20}"
_RECORD_ID = r"[0-9]{1,20}"
_ASSOC_TYPE = r"[0-9]{1,10}|[a-z][a-z0-9_]{0,99}"

_OBJECT_TYPE_RE = re.compile(_OBJECT_TYPE)
_RECORD_ID_RE = re.compile(_RECORD_ID)
_ASSOC_TYPE_RE = re.compile(_ASSOC_TYPE)
# All five checks in one call, on "fromType,fromId,toType,toId,type". No part can match a comma, so the
# whole matches exactly when every field matches on its own.
_ROW_MATCH = re.compile(f"(?:{_OBJECT_TYPE}),{_RECORD_ID},(?:{_OBJECT_TYPE}),{_RECORD_ID},(?:{_ASSOC_TYPE})").fullmatch

_OBJECT_TYPE_HINT = "an object name such as contacts or partner_services, or a type ID such as 0-1"


def validate_object_type(value: str) -> bool:
    """True for an object name (`contacts`, `partner_services`, `p_custom`) or a type ID (`0-1`, `2-123`)."""
    return _OBJECT_TYPE_RE.fullmatch(value) is not None


def validate_record_id(value: str) -> bool:
    """True for 1-20 ASCII decimal digits."""
    return _RECORD_ID_RE.fullmatch(value) is not None


def validate_association_type(value: str) -> bool:
    """True for an association type ID (1-10 digits) or a type name (`[a-z][a-z0-9_]*`, at most 100)."""
    return _ASSOC_TYPE_RE.fullmatch(value) is not None


# ------------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Row:
    """A valid row: one association to create."""

    from_type: str
    from_id: str
    to_type: str
    to_id: str
    type: str
    line: int
    """1-based physical line where the row starts (CSV: the header is line 1)."""

    @property
    def key(self) -> Key:
        return (self.from_type, self.from_id, self.to_type, self.to_id, self.type)


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row that is recorded as failed and never sent.

    The values are as read (stripped; '' when missing or null; JSON integers as decimal strings; other
    JSON values as JSON text), except that `from_type` is the `default_from_type` when the row has none.
    A line without readable content (not JSON, not a JSON object, not CSV, too long) has all five ''.
    """

    from_type: str
    from_id: str
    to_type: str
    to_id: str
    type: str
    line: int
    reason: str
    """One short sentence: what is wrong and what is expected."""

    @property
    def key(self) -> Key:
        return (self.from_type, self.from_id, self.to_type, self.to_id, self.type)


class InputError(Exception):
    """The input as a whole is unusable (exit 2, nothing sent). str() is one line naming the file."""


# Building a frozen slots dataclass through its generated __init__ costs six object.__setattr__ calls;
# setting the slots through their member descriptors is about twice as fast. Only used on the hot path.
_new = object.__new__
_set_ft, _set_fid, _set_tt, _set_tid, _set_type, _set_line = (
    Row.__dict__[name].__set__ for name in ("from_type", "from_id", "to_type", "to_id", "type", "line")
)

# -------------------------------------------------------------------------------------------- reasons

_COLUMNS = ("fromType", "fromId", "toType", "toId", "type")
_REQUIRED = ("fromId", "toType", "toId", "type")
_NO_FROM_TYPE_CSV = "no fromType: add a fromType column or pass --from-type"
_NO_FROM_TYPE_JSONL = "no fromType: add a fromType key or pass --from-type"


def _show(value: str, limit: int = 40) -> str:
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


_OBJECT_TYPE_WHAT = "an object type (a name such as contacts or p_custom, or a type ID such as 0-1)"
_WHAT = {
    "fromType": _OBJECT_TYPE_WHAT,
    "fromId": "a record ID (1-20 digits)",
    "toType": _OBJECT_TYPE_WHAT,
    "toId": "a record ID (1-20 digits)",
    "type": "an association type (a type ID of 1-10 digits, or a name matching [a-z][a-z0-9_]*)",
}
_CHECK = {
    "fromType": _OBJECT_TYPE_RE.fullmatch,
    "fromId": _RECORD_ID_RE.fullmatch,
    "toType": _OBJECT_TYPE_RE.fullmatch,
    "toId": _RECORD_ID_RE.fullmatch,
    "type": _ASSOC_TYPE_RE.fullmatch,
}


def _field_problem(column: str, value: str) -> str | None:
    """Why `value` is not acceptable for `column`, or None when it is."""
    if _CHECK[column](value) is not None:
        return None
    if value == "":
        return f"{column} is empty: expected {_WHAT[column]}"
    return f"{column} {_show(value)} is not {_WHAT[column]}"


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _reason(problems: list[tuple[str, str]]) -> str:
    """One sentence from [(column, message), ...]: the first message, then the other columns named."""
    first = problems[0][1]
    if len(problems) == 1:
        return first
    others = ", ".join(column for column, _ in problems[1:])
    return f"{first}; also invalid: {others}"


def _problems(
    values: tuple[str, str, str, str, str], no_from_type: str | None, preset: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Problems of a row in column order. `no_from_type` is the message when fromType is absent (None:
    it is present); `preset` holds messages decided earlier (JSON value types)."""
    out: list[tuple[str, str]] = []
    for column, value in zip(_COLUMNS, values, strict=True):
        message: str | None
        if preset is not None and column in preset:
            message = preset[column]
        elif column == "fromType" and no_from_type is not None:
            message = no_from_type
        else:
            message = _field_problem(column, value)
        if message is not None:
            out.append((column, message))
    return out


# ---------------------------------------------------------------------------------------------- formats


def detect_format(source: str, fmt: Format | None) -> Format:
    """`fmt` when given; else by extension: .csv → csv, .jsonl/.ndjson → jsonl (any case)."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise InputError(f"unknown input format {fmt!r}: pass --format csv or --format jsonl")
        return fmt
    if source == "-":
        raise InputError("cannot tell the format of standard input: pass --format csv or --format jsonl")
    lowered = source.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise InputError(f"cannot tell the format of {source}: pass --format csv or --format jsonl")


def count_data_lines(path: str | os.PathLike[str], fmt: Format | None = None) -> int | None:
    """A fast estimate of the number of data rows (for an ETA): newlines counted in 1 MiB binary chunks,
    a last line without a newline included, minus the header for CSV. None for stdin or when the file
    cannot be read or its format cannot be told."""
    name = os.fspath(path)
    if name == "-":
        return None
    try:
        kind = detect_format(name, fmt)
    except InputError:
        return None
    lines = 0
    last = b""
    try:
        with open(name, "rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk
    except OSError:
        return None
    if last and not last.endswith(b"\n"):
        lines += 1
    if kind == "csv":
        lines -= 1
    return max(lines, 0)


# csv's own limit is 128 KiB; raise it (never lower it, another user may have raised it further).
if csv.field_size_limit() < MAX_FIELD_CHARS:
    csv.field_size_limit(MAX_FIELD_CHARS)


class _TooLong:
    """Physical lines longer than MAX_LINE_CHARS, skipped by the CSV line source and reported later."""

    __slots__ = ("lines", "total")

    def __init__(self) -> None:
        self.lines: list[int] = []  # physical line numbers not yet reported
        self.total = 0  # lines skipped so far (csv's line_num does not count them)


def _csv_lines(text: io.TextIOWrapper, too_long: _TooLong) -> Iterator[str]:
    """The physical lines of `text` (split at \\r\\n, \\r or \\n, as csv expects), never holding more than
    MAX_LINE_CHARS of one line: a longer line is skipped whole and recorded in `too_long`."""
    readline = text.readline
    limit = MAX_LINE_CHARS
    number = 0
    while line := readline(limit):
        number += 1
        if len(line) >= limit and line[-1] not in "\r\n":
            while (rest := readline(limit)) and rest[-1] not in "\r\n":
                pass
            too_long.lines.append(number)
            too_long.total += 1
            continue
        yield line


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return "a number"


_MISSING: object = object()
_Items = Generator["Row | InvalidRow", None, None]


def _no_from_type_key(obj: dict[str, object]) -> bool:
    """True when no key of `obj` spells fromType in another case."""
    return not any(key.lower() == "fromtype" for key in obj)


class RowReader:
    """Streams the rows of one input. Use as a context manager; iterate it, or call `read_chunk(n)`.

    Opening checks that the input is readable, its format, and (CSV) its header; failures raise
    `InputError`. An invalid `default_from_type` raises ValueError.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        fmt: Format | None = None,
        default_from_type: str | None = None,
        *,
        stdin: BinaryIO | None = None,
    ) -> None:
        name = os.fspath(source)
        self._is_stdin = name == "-"
        self.name = "standard input" if self._is_stdin else name
        if default_from_type is not None:
            default_from_type = default_from_type.strip()
            if not validate_object_type(default_from_type):
                raise ValueError(
                    f"--from-type {_show(default_from_type)} is not an object type: use {_OBJECT_TYPE_HINT}"
                )
        self.default_from_type = default_from_type
        self._rows_read = 0
        self._error: InputError | None = None
        self._text: io.TextIOWrapper | None = None
        self._binary: BinaryIO | None = None
        self._closed = False
        self._from_type_column: bool | None = None
        self._gen: _Items
        # A missing file is reported as such before its name is judged; stdin needs no I/O to be judged.
        if self._is_stdin or fmt is not None:
            self.format: Format = detect_format(name, fmt)
        if self._is_stdin:
            self._binary = stdin if stdin is not None else sys.stdin.buffer
        else:
            try:
                self._binary = open(name, "rb", buffering=1 << 16)  # noqa: SIM115 - closed by close()
            except OSError as e:
                raise InputError(f"cannot read {name}: {e.strerror or e}") from None
        try:
            if fmt is None and not self._is_stdin:
                self.format = detect_format(name, None)
            if self.format == "csv":
                self._gen = self._open_csv()
            else:
                self._gen = self._read_jsonl()
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------------------------------- public

    @property
    def rows_read(self) -> int:
        """Non-blank data rows yielded so far (valid or not)."""
        return self._rows_read

    @property
    def has_from_type_column(self) -> bool | None:
        """CSV: whether the header has a fromType column. JSONL: None (known per row only)."""
        return self._from_type_column

    def __enter__(self) -> RowReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (standard input is left open). Idempotent."""
        if self._closed:
            return
        self._closed = True
        gen = getattr(self, "_gen", None)
        if gen is not None:
            with contextlib.suppress(ValueError):  # running in another thread: it stops at its next read
                gen.close()
        text, binary = self._text, self._binary
        self._text = self._binary = None
        if self._is_stdin:
            if text is not None:
                with contextlib.suppress(ValueError):  # already detached or closed
                    text.detach()
        elif text is not None:
            text.close()
        elif binary is not None:
            binary.close()

    def __iter__(self) -> Iterator[Row | InvalidRow]:
        if self._error is not None:
            raise self._error
        return self._gen

    def __next__(self) -> Row | InvalidRow:
        if self._error is not None:
            raise self._error
        return next(self._gen)

    def read_chunk(self, n: int) -> list[Row | InvalidRow]:
        """Up to `n` items; [] at the end. When the input fails part-way, the items read before the failure
        are returned first and the InputError is raised by the next call (and every later one)."""
        if n < 1:
            raise ValueError(f"read_chunk needs n >= 1, got {n}")
        if self._error is not None:
            raise self._error
        out: list[Row | InvalidRow] = []
        try:
            for item in islice(self._gen, n):
                out.append(item)
        except InputError as e:
            self._error = e
            if not out:
                raise
        return out

    # ------------------------------------------------------------------------------------------ CSV

    def _open_csv(self) -> _Items:
        assert self._binary is not None
        name = self.name
        self._text = text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", errors="replace", newline="")
        # readline(limit) is much faster with bigger decode chunks than the default 8 KiB.
        with contextlib.suppress(AttributeError, ValueError):
            setattr(text, "_CHUNK_SIZE", 1 << 16)  # noqa: B010 - not in the type stubs
        too_long = _TooLong()
        reader = csv.reader(_csv_lines(text, too_long))
        header: list[str] | None = None
        try:
            for fields in reader:
                if too_long.lines:
                    break
                if any(f.strip() for f in fields):
                    header = [f.strip() for f in fields]
                    break
        except csv.Error as e:
            raise InputError(f"{name}: the CSV header cannot be read ({e}): is this a CSV file?") from None
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror or e}") from None
        except Exception as e:  # only InputError leaves a reader
            raise InputError(f"cannot read {name}: {type(e).__name__}: {e}") from None
        if too_long.lines:
            raise InputError(
                f"{name}: line {too_long.lines[0]} is longer than {MAX_LINE_CHARS} characters "
                "before any CSV header: is this a CSV file?"
            )
        if header is None:
            raise InputError(
                f"{name} is empty: expected a CSV header naming fromId, toType, toId, type (and optionally fromType)"
            )
        index: dict[str, int] = {}
        problems: list[str] = []
        for column in _COLUMNS:
            exact = [i for i, h in enumerate(header) if h == column]
            matches = exact or [i for i, h in enumerate(header) if h.lower() == column.lower()]
            if len(matches) == 1:
                index[column] = matches[0]
            elif len(matches) > 1:
                problems.append(f"column {column} appears {len(matches)} times")
        missing = [c for c in _REQUIRED if c not in index]
        if missing:
            found = ", ".join(_show(h, 30) for h in header[:8]) + (", …" if len(header) > 8 else "")
            problems.insert(
                0,
                f"the CSV header lacks the required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (found: {found})",
            )
        if problems:
            raise InputError(
                f"{name}: {'; '.join(problems)}; the header must name fromId, toType, toId, type "
                "and optionally fromType"
            )
        self._from_type_column = "fromType" in index
        return self._read_csv(reader, too_long, index, reader.line_num + too_long.total)

    def _read_csv(self, reader: Iterator[list[str]], too_long: _TooLong, index: dict[str, int], last: int) -> _Items:
        try:
            yield from self._read_csv_rows(reader, too_long, index, last)
        except InputError:
            raise
        except OSError as e:
            raise InputError(f"cannot read {self.name}: {e.strerror or e}") from None
        except Exception as e:  # closed underneath us, or a bug: still only InputError leaves the reader
            if self._closed:
                return
            raise InputError(f"cannot read {self.name}: {type(e).__name__}: {e}") from None

    def _read_csv_rows(
        self, reader: Iterator[list[str]], too_long: _TooLong, index: dict[str, int], last: int
    ) -> _Items:
        """The hot loop. `last` is the physical line where the previous record ended."""
        i_fid, i_tt, i_tid, i_typ = index["fromId"], index["toType"], index["toId"], index["type"]
        i_ft = index.get("fromType", -1)
        has_ft = i_ft >= 0
        width = max(index.values()) + 1
        default = self.default_from_type or ""
        no_from_type = None if default else _NO_FROM_TYPE_CSV
        pending = too_long.lines
        row_match = _ROW_MATCH
        new, Row_ = _new, Row
        set_ft, set_fid, set_tt, set_tid, set_type, set_line = (
            _set_ft,
            _set_fid,
            _set_tt,
            _set_tid,
            _set_type,
            _set_line,
        )
        csv_error = csv.Error
        n = self._rows_read
        while True:
            try:
                for fields in reader:
                    start = last + 1
                    if pending:
                        for item in self._too_long_rows(pending):
                            if item.line == start:
                                start += 1
                            n += 1
                            self._rows_read = n
                            yield item
                    last = reader.line_num + too_long.total  # type: ignore[attr-defined]
                    if len(fields) >= width:
                        fid = fields[i_fid].strip()
                        tt = fields[i_tt].strip()
                        tid = fields[i_tid].strip()
                        typ = fields[i_typ].strip()
                        ft = (fields[i_ft].strip() or default) if has_ft else default
                    elif not fields:  # an empty line
                        continue
                    else:
                        fields = fields + [""] * (width - len(fields))
                        fid = fields[i_fid].strip()
                        tt = fields[i_tt].strip()
                        tid = fields[i_tid].strip()
                        typ = fields[i_typ].strip()
                        ft = (fields[i_ft].strip() or default) if has_ft else default
                    if row_match(f"{ft},{fid},{tt},{tid},{typ}") is not None:
                        row = new(Row_)
                        set_ft(row, ft)
                        set_fid(row, fid)
                        set_tt(row, tt)
                        set_tid(row, tid)
                        set_type(row, typ)
                        set_line(row, start)
                        n += 1
                        self._rows_read = n
                        yield row
                        continue
                    # Slow path: blank, or invalid.
                    if not any(f.strip() for f in fields):
                        continue
                    reason = _reason(_problems((ft, fid, tt, tid, typ), None if ft else no_from_type))
                    if last > start:
                        reason += f" (the row spans lines {start}-{last}: an unbalanced quote?)"
                    n += 1
                    self._rows_read = n
                    yield InvalidRow(ft, fid, tt, tid, typ, start, reason)
                break
            except csv_error as e:
                start = last + 1
                for item in self._too_long_rows(pending):
                    if item.line == start:
                        start += 1
                    n += 1
                    self._rows_read = n
                    yield item
                new_last = reader.line_num + too_long.total  # type: ignore[attr-defined]
                if new_last <= last:  # nothing consumed: csv cannot go on
                    raise InputError(f"{self.name}: line {start} is not valid CSV ({e})") from None
                last = new_last
                n += 1
                self._rows_read = n
                reason = f"row is not valid CSV: {e}"
                if last > start:
                    reason += f" (lines {start}-{last} were read as one row: an unbalanced quote?)"
                yield InvalidRow("", "", "", "", "", start, reason)
        for item in self._too_long_rows(pending):
            n += 1
            self._rows_read = n
            yield item

    @staticmethod
    def _too_long_rows(pending: list[int]) -> list[InvalidRow]:
        out = [
            InvalidRow("", "", "", "", "", number, f"line is longer than {MAX_LINE_CHARS} characters")
            for number in pending
        ]
        pending.clear()
        return out

    # ---------------------------------------------------------------------------------------- JSONL

    def _read_jsonl(self) -> _Items:
        try:
            yield from self._read_jsonl_rows()
        except InputError:
            raise
        except OSError as e:
            raise InputError(f"cannot read {self.name}: {e.strerror or e}") from None
        except Exception as e:  # see _read_csv
            if self._closed:
                return
            raise InputError(f"cannot read {self.name}: {type(e).__name__}: {e}") from None

    def _read_jsonl_rows(self) -> _Items:
        assert self._binary is not None
        readline = self._binary.readline
        limit = MAX_LINE_CHARS
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        missing = _MISSING
        default = self.default_from_type or ""
        row_match = _ROW_MATCH
        new, Row_ = _new, Row
        set_ft, set_fid, set_tt, set_tid, set_type, set_line = (
            _set_ft,
            _set_fid,
            _set_tt,
            _set_tid,
            _set_type,
            _set_line,
        )
        number = 0
        n = self._rows_read
        while raw := readline(limit):
            number += 1
            if len(raw) >= limit and not raw.endswith(b"\n"):
                while (rest := readline(limit)) and not rest.endswith(b"\n"):
                    pass
                n += 1
                self._rows_read = n
                yield InvalidRow("", "", "", "", "", number, f"line is longer than {MAX_LINE_CHARS} bytes")
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                obj = loads(raw)
            except decode_error as e:
                if not raw.strip():
                    continue
                n += 1
                self._rows_read = n
                yield InvalidRow("", "", "", "", "", number, f"line is not valid JSON ({e.msg} at column {e.colno})")
                continue
            if type(obj) is not dict:
                n += 1
                self._rows_read = n
                yield InvalidRow("", "", "", "", "", number, f"line is {_json_kind(obj)}, not a JSON object")
                continue
            fid = obj.get("fromId", missing)
            tt = obj.get("toType", missing)
            tid = obj.get("toId", missing)
            typ = obj.get("type", missing)
            ft = obj.get("fromType", missing)
            if (
                type(fid) is str
                and type(tt) is str
                and type(tid) is str
                and type(typ) is str
                and (type(ft) is str or (ft is missing and (len(obj) == 4 or _no_from_type_key(obj))))
            ):
                fid = fid.strip()
                tt = tt.strip()
                tid = tid.strip()
                typ = typ.strip()
                ft = default if ft is missing else (ft.strip() or default)  # type: ignore[attr-defined]
                if row_match(f"{ft},{fid},{tt},{tid},{typ}") is not None:
                    row = new(Row_)
                    set_ft(row, ft)
                    set_fid(row, fid)
                    set_tt(row, tt)
                    set_tid(row, tid)
                    set_type(row, typ)
                    set_line(row, number)
                    n += 1
                    self._rows_read = n
                    yield row
                    continue
            if any(type(v) is float for v in obj.values()):
                # orjson reads an integer past 2**64-1 (a 20-digit ID) as a float; the standard
                # library keeps it exact (orjson accepted the line, so it is strict JSON)
                exact = json.loads(raw)
                obj = exact if type(exact) is dict else obj
            item = self._jsonl_object(obj, number, default)
            n += 1
            self._rows_read = n
            yield item

    @staticmethod
    def _jsonl_object(obj: dict[str, object], number: int, default: str) -> Row | InvalidRow:
        """The general (slow) path for one JSON object: case-insensitive keys, value types, reasons."""
        raw: dict[str, object] = {}
        problems: list[tuple[str, str]] = []
        lowered: dict[str, list[str]] | None = None
        for column in _COLUMNS:
            if column in obj:
                raw[column] = obj[column]
                continue
            if lowered is None:
                lowered = {}
                for key in obj:
                    lowered.setdefault(key.lower(), []).append(key)
            keys = lowered.get(column.lower(), [])
            if len(keys) == 1:
                raw[column] = obj[keys[0]]
            elif len(keys) > 1:
                problems.append((column, f"{column} is ambiguous: keys {', '.join(map(repr, keys))}"))
                raw[column] = None
        values: list[str] = []
        preset: dict[str, str] = {column: message for column, message in problems}
        for column in _COLUMNS:
            value = raw.get(column, _MISSING)
            if value is _MISSING:
                text = ""
            elif type(value) is str:
                text = value.strip()
            elif type(value) is int:
                text = str(value)
            else:
                text = "" if value is None else orjson.dumps(value).decode()
                if column not in preset:
                    hint = " (write IDs as JSON strings)" if isinstance(value, float) else ""
                    preset[column] = (
                        f"{column} is {_json_kind(value)}"
                        f"{'' if value is None else ' (' + _clip(text) + ')'}"
                        f": expected a string or an integer{hint}"
                    )
            values.append(text)
        ft, fid, tt, tid, typ = values
        no_from_type: str | None = None
        if not ft and "fromType" not in preset:
            if default:
                ft = default
            else:
                no_from_type = _NO_FROM_TYPE_JSONL
        all_problems = _problems((ft, fid, tt, tid, typ), no_from_type, preset)
        if not all_problems:
            return Row(ft, fid, tt, tid, typ, number)
        return InvalidRow(ft, fid, tt, tid, typ, number, _reason(all_problems))
