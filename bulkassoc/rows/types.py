"""The types the input readers hand out and share: `Row`, `InvalidRow`, `InputError`, `Key`, `Format`;
and what only the readers use: `ReadState` and `build_row` (the fast way to make a `Row`).

`bulkassoc.rows.reader` re-exports the public ones; the rest of the package imports them from there. This
module exists so that the CSV and JSONL readers (`_csv_rows`, `_jsonl_rows`) can use the types without
importing the `RowReader` facade that imports the readers.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Format",
    "InputError",
    "InvalidRow",
    "Items",
    "Key",
    "ReadOptions",
    "ReadState",
    "ResolvedRow",
    "Row",
    "build_row",
    "keyed",
    "only_input_errors",
]

Key = tuple[str, str, str, str, str]
"""(fromType, fromId, toType, toId, type): what makes two rows the same association."""

Format = Literal["csv", "jsonl"]


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
class ResolvedRow(Row):
    """A row whose keyed IDs (`PROP=VALUE`) or type name/label were resolved to what HubSpot's write
    endpoints take (record IDs, a numeric type ID). It is sent with the resolved values and recorded in
    the ledger under `given`, the key of the row as read; `category` is the type's associationCategory
    as the portal defines it ('' when unknown)."""

    given: Key
    category: str

    @property
    def key(self) -> Key:
        return self.given


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input beyond its format: the CSV delimiter (None: detected among , ; tab), source
    headers mapped onto our columns (`--column fromId=SRC`), and the unique property that fromId / toId
    values belong to (`--from-id-property email`): such a value is read as `PROP=VALUE` and resolved to a
    record ID before it is sent. Per-row columns fromIdProperty / toIdProperty override the defaults."""

    delimiter: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    from_id_property: str | None = None
    to_id_property: str | None = None


def keyed(prop: str, value: str) -> str:
    """A fromId / toId that names a record by a unique property's value: `PROP=VALUE` (a record ID is
    digits only, and a property name has no '=', so the two never mix). `hs_object_id` is the record ID."""
    if not prop or not value or prop == "hs_object_id":
        return value
    return f"{prop}={value}"


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


Items = Generator["Row | InvalidRow", None, None]
"""What a format's reader yields, in input order."""


class ReadState:
    """What a format's reader shares with the `RowReader` that drives it: the reader counts the rows it
    has yielded into `rows_read`; the `RowReader` sets `closed` when it closes the input underneath."""

    __slots__ = ("closed", "rows_read")

    def __init__(self) -> None:
        self.rows_read = 0  # non-blank data rows yielded so far (valid or not)
        self.closed = False


_new = object.__new__
_set_ft, _set_fid, _set_tt, _set_tid, _set_type, _set_line = (
    Row.__dict__[name].__set__ for name in ("from_type", "from_id", "to_type", "to_id", "type", "line")
)


def build_row(from_type: str, from_id: str, to_type: str, to_id: str, assoc_type: str, line: int) -> Row:
    """The same as `Row(from_type, from_id, to_type, to_id, assoc_type, line)`, about twice as fast: for the
    CSV and JSONL row loops, the hot path of a rerun.

    A frozen slots dataclass's generated __init__ costs six object.__setattr__ calls; this sets the slots
    through their member descriptors. Being one shared function costs the loops one Python call per row:
    about 2% of the reading time (CPython 3.11, 1M rows: ~2.5% more instructions per CSV row, ~2% per
    JSONL row than the seven calls written out in each loop; wall-time difference within noise).
    """
    row = _new(Row)
    _set_ft(row, from_type)
    _set_fid(row, from_id)
    _set_tt(row, to_type)
    _set_tid(row, to_id)
    _set_type(row, assoc_type)
    _set_line(row, line)
    return row


def only_input_errors(items: Items, name: str, state: ReadState) -> Items:
    """Pass a format reader's rows through, turning whatever else it raises into an InputError naming
    the input: a read error, or anything unexpected (only InputError ever leaves a reader). An error
    after the RowReader closed the input underneath just ends the rows."""
    try:
        yield from items
    except InputError:
        raise
    except OSError as e:
        raise InputError(f"cannot read {name}: {e.strerror or e}") from None
    except Exception as e:
        if state.closed:
            return
        raise InputError(f"cannot read {name}: {type(e).__name__}: {e}") from None
