"""Reading CSV input: the header, then one `Row` or `InvalidRow` per data row, with physical line numbers.

Driven by `RowReader` (`_rows`), which opens the input and hands over its text, the line limit and a
`ReadState`. The row loop is on the hot path of a rerun (skipping millions of done rows), so it is
written flat: one combined precompiled regex per row, no per-field helper calls on the valid path, and
`Row` objects made by `build_row` (through their slot descriptors) instead of the (slow) frozen-dataclass
`__init__`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Iterator
from typing import BinaryIO

from .header import OPTIONAL, detect_delimiter, resolve_columns
from .types import InputError, InvalidRow, Items, ReadOptions, ReadState, build_row, keyed, only_input_errors
from .validate import COLUMNS, ROW_MATCH, describe_problems, find_problems, show_value

__all__ = ["MAX_FIELD_CHARS", "csv_text", "open_csv"]

MAX_FIELD_CHARS = 16 * 1024 * 1024
"""A CSV field longer than this makes its row invalid (csv.field_size_limit is raised to this)."""

# csv's own limit is 128 KiB; raise it (never lower it, another user may have raised it further).
if csv.field_size_limit() < MAX_FIELD_CHARS:
    csv.field_size_limit(MAX_FIELD_CHARS)

_REQUIRED = ("fromId", "toType", "toId", "type")
_NO_FROM_TYPE = "no fromType: add a fromType column or pass --from-type"


class _TooLong:
    """Physical lines longer than the line limit, skipped by the CSV line source and reported later."""

    __slots__ = ("lines", "total")

    def __init__(self) -> None:
        self.lines: list[int] = []  # physical line numbers not yet reported
        self.total = 0  # lines skipped so far (csv's line_num does not count them)


def _csv_lines(text: io.TextIOWrapper, too_long: _TooLong, limit: int) -> Iterator[str]:
    """The physical lines of `text` (split at \\r\\n, \\r or \\n, as csv expects), never holding more than
    `limit` characters of one line: a longer line is skipped whole and recorded in `too_long`."""
    readline = text.readline
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


def csv_text(binary: BinaryIO) -> io.TextIOWrapper:
    """The text of a CSV input, as csv wants it (the RowReader closes or detaches it)."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    # readline(limit) is much faster with bigger decode chunks than the default 8 KiB.
    with contextlib.suppress(AttributeError, ValueError):
        setattr(text, "_CHUNK_SIZE", 1 << 16)  # noqa: B010 - not in the type stubs
    return text


def open_csv(
    text: io.TextIOWrapper, name: str, default_from_type: str | None, limit: int, state: ReadState,
    options: ReadOptions | None = None,
) -> tuple[Items, bool]:
    """Read and check the header of `text`; return the rows that follow (a generator) and whether the
    header has a fromType column. An unusable header raises InputError. `limit`: MAX_LINE_CHARS."""
    options = options or ReadOptions()
    too_long = _TooLong()
    lines = _csv_lines(text, too_long, limit)
    head: list[str] = []
    header: list[str] | None = None
    try:
        delimiter = options.delimiter
        if delimiter is None:  # detected from the first non-blank line, the header
            for line in lines:
                head.append(line)
                if line.strip():
                    break
            delimiter = detect_delimiter(head[-1]) if head else ","
        reader = csv.reader(itertools.chain(head, lines), delimiter=delimiter)
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
            f"{name}: line {too_long.lines[0]} is longer than {limit} characters "
            "before any CSV header: is this a CSV file?"
        )
    if header is None:
        raise InputError(
            f"{name} is empty: expected a CSV header naming fromId, toType, toId, type (and optionally fromType)"
        )
    index, problems = resolve_columns(header, (*COLUMNS, *OPTIONAL[1:]), options.columns)
    missing = [c for c in _REQUIRED if c not in index]
    if missing:
        found = ", ".join(show_value(h, 30) for h in header[:8]) + (", …" if len(header) > 8 else "")
        problems.insert(
            0,
            f"the CSV header lacks the required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (found: {found})",
        )
    if problems:
        raise InputError(
            f"{name}: {'; '.join(problems)}; the header must name fromId, toType, toId, type "
            "and optionally fromType (or map a source column with --column fromId=NAME)"
        )
    props = (options.from_id_property or "", options.to_id_property or "")
    rows = _read_csv(reader, too_long, index, reader.line_num + too_long.total, name, default_from_type, limit, state,
                     props)
    return rows, "fromType" in index


def _read_csv(
    reader: Iterator[list[str]],
    too_long: _TooLong,
    index: dict[str, int],
    last: int,
    name: str,
    default_from_type: str | None,
    limit: int,
    state: ReadState,
    props: tuple[str, str] = ("", ""),
) -> Items:
    return only_input_errors(_read_csv_rows(reader, too_long, index, last, name, default_from_type, limit, state,
                                            props), name, state)


def _read_csv_rows(
    reader: Iterator[list[str]],
    too_long: _TooLong,
    index: dict[str, int],
    last: int,
    name: str,
    default_from_type: str | None,
    limit: int,
    state: ReadState,
    props: tuple[str, str] = ("", ""),
) -> Items:
    """The hot loop. `last` is the physical line where the previous record ended."""
    i_fid, i_tt, i_tid, i_typ = index["fromId"], index["toType"], index["toId"], index["type"]
    i_ft = index.get("fromType", -1)
    has_ft = i_ft >= 0
    i_fp, i_tp = index.get("fromIdProperty", -1), index.get("toIdProperty", -1)
    from_prop, to_prop = props
    keyed_ids = bool(from_prop or to_prop) or i_fp >= 0 or i_tp >= 0
    width = max(index.values()) + 1
    default = default_from_type or ""
    no_from_type = None if default else _NO_FROM_TYPE
    pending = too_long.lines
    row_match = ROW_MATCH
    build = build_row  # one shared Python call per valid row, ~2% of the loop (see build_row)
    csv_error = csv.Error
    n = state.rows_read
    while True:
        try:
            for fields in reader:
                start = last + 1
                if pending:
                    for item in _too_long_rows(pending, limit):
                        if item.line == start:
                            start += 1
                        n += 1
                        state.rows_read = n
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
                if keyed_ids:  # values of a unique property: PROP=VALUE, resolved before sending
                    fid = keyed((fields[i_fp].strip() if i_fp >= 0 else "") or from_prop, fid)
                    tid = keyed((fields[i_tp].strip() if i_tp >= 0 else "") or to_prop, tid)
                if row_match(f"{ft},{fid},{tt},{tid},{typ}") is not None:
                    row = build(ft, fid, tt, tid, typ, start)
                    n += 1
                    state.rows_read = n
                    yield row
                    continue
                # Slow path: blank, or invalid.
                if not any(f.strip() for f in fields):
                    continue
                reason = describe_problems(find_problems((ft, fid, tt, tid, typ), None if ft else no_from_type))
                if last > start:
                    reason += f" (the row spans lines {start}-{last}: an unbalanced quote?)"
                n += 1
                state.rows_read = n
                yield InvalidRow(ft, fid, tt, tid, typ, start, reason)
            break
        except csv_error as e:
            start = last + 1
            for item in _too_long_rows(pending, limit):
                if item.line == start:
                    start += 1
                n += 1
                state.rows_read = n
                yield item
            new_last = reader.line_num + too_long.total  # type: ignore[attr-defined]
            if new_last <= last:  # nothing consumed: csv cannot go on
                raise InputError(f"{name}: line {start} is not valid CSV ({e})") from None
            last = new_last
            n += 1
            state.rows_read = n
            reason = f"row is not valid CSV: {e}"
            if last > start:
                reason += f" (lines {start}-{last} were read as one row: an unbalanced quote?)"
            yield InvalidRow("", "", "", "", "", start, reason)
    for item in _too_long_rows(pending, limit):
        n += 1
        state.rows_read = n
        yield item


def _too_long_rows(pending: list[int], limit: int) -> list[InvalidRow]:
    out = [InvalidRow("", "", "", "", "", number, f"line is longer than {limit} characters") for number in pending]
    pending.clear()
    return out
