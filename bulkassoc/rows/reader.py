"""Reading and validating input rows (CSV or JSONL), streamed, with physical line numbers.

The input format is in the README ("Usage"), the field rules in `validate.py`. A `RowReader` yields, in
input order, one `Row` per valid data row and one `InvalidRow` per row that must be recorded as failed
(with its line number and a one-line reason).
Blank rows are skipped. The only exception that leaves a reader is `InputError` (the input as a whole is
unusable); everything row-level becomes an `InvalidRow`.

This module is the facade the rest of the package imports from. The parts: the types in `types.py`,
the field rules and reasons in `validate.py`, the format readers (written flat: they are on the hot path
of a rerun) in `csv_format.py` and `jsonl_format.py`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from itertools import islice
from types import TracebackType
from typing import BinaryIO

from .csv_format import MAX_FIELD_CHARS, csv_text, open_csv
from .jsonl_format import read_jsonl
from .types import Format, InputError, InvalidRow, Items, Key, ReadOptions, ReadState, ResolvedRow, Row
from .validate import (
    OBJECT_TYPE_HINT,
    show_value,
    validate_association_type,
    validate_object_type,
    validate_record_id,
)

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_LINE_CHARS",
    "Format",
    "InputError",
    "InvalidRow",
    "Key",
    "ReadOptions",
    "ResolvedRow",
    "Row",
    "RowReader",
    "count_data_lines",
    "detect_format",
    "validate_association_type",
    "validate_object_type",
    "validate_record_id",
]

MAX_LINE_CHARS = 32 * 1024 * 1024
"""A physical line longer than this (characters for CSV, bytes for JSONL) is an invalid row and is never
held in memory whole. Read when a `RowReader` opens its input."""


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
        options: ReadOptions | None = None,
    ) -> None:
        name = os.fspath(source)
        self._is_stdin = name == "-"
        self.name = "standard input" if self._is_stdin else name
        if default_from_type is not None:
            default_from_type = default_from_type.strip()
            if not validate_object_type(default_from_type):
                raise ValueError(
                    f"--from-type {show_value(default_from_type)} is not an object type: use {OBJECT_TYPE_HINT}"
                )
        self.default_from_type = default_from_type
        options = options or ReadOptions()
        props = (options.from_id_property or "", options.to_id_property or "")
        self._state = ReadState()
        self._error: InputError | None = None
        self._text: io.TextIOWrapper | None = None
        self._binary: BinaryIO | None = None
        self._from_type_column: bool | None = None
        self._gen: Items
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
            assert self._binary is not None
            if self.format == "csv":
                self._text = csv_text(self._binary)
                self._gen, self._from_type_column = open_csv(
                    self._text, self.name, default_from_type, MAX_LINE_CHARS, self._state, options
                )
            else:
                self._gen = read_jsonl(self._binary, self.name, default_from_type, MAX_LINE_CHARS, self._state,
                                       props)
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------------------------------- public

    @property
    def rows_read(self) -> int:
        """Non-blank data rows yielded so far (valid or not)."""
        return self._state.rows_read

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
        if self._state.closed:
            return
        self._state.closed = True
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
