"""What makes a row's fields valid, and the one-line reasons given when they are not.

The readers (`_csv_rows`, `_jsonl_rows`) check a whole row with one call of `ROW_MATCH` on the hot path,
and come back here only for the reasons of an invalid row.
"""

from __future__ import annotations

import re

__all__ = [
    "COLUMNS",
    "OBJECT_TYPE_HINT",
    "ROW_MATCH",
    "describe_problems",
    "find_problems",
    "show_value",
    "validate_association_type",
    "validate_object_type",
    "validate_record_id",
]

_OBJECT_TYPE = r"[A-Za-z][A-Za-z0-9_]{0,99}|[0-9]{1,20}-[0-9]{1,20}"
# a record ID, or a unique property's value written PROP=VALUE (rows/types.py `keyed`)
_RECORD_ID = r"[0-9]{1,20}|[a-z][a-z0-9_]{0,99}=[^,\x00-\x1f]{1,256}"
# a type ID, a v3 type name (partner_service_to_contact), or a label's text ("Billing contact")
_ASSOC_TYPE = r"[0-9]{1,10}|[a-z][a-z0-9_]{0,99}|[A-Za-z][A-Za-z0-9_ &/().'+-]{0,99}"
_MANGLED = re.compile(r"[0-9]+\.0+|[0-9](?:\.[0-9]+)?[eE]\+?[0-9]{1,3}")

_OBJECT_TYPE_RE = re.compile(_OBJECT_TYPE)
_RECORD_ID_RE = re.compile(_RECORD_ID)
_ASSOC_TYPE_RE = re.compile(_ASSOC_TYPE)
# All five checks in one call, on "fromType,fromId,toType,toId,type". No part can match a comma, so the
# whole matches exactly when every field matches on its own.
ROW_MATCH = re.compile(
    f"(?:{_OBJECT_TYPE}),(?:{_RECORD_ID}),(?:{_OBJECT_TYPE}),(?:{_RECORD_ID}),(?:{_ASSOC_TYPE})").fullmatch

OBJECT_TYPE_HINT = "an object name such as contacts or partner_services, or a type ID such as 0-1"


def validate_object_type(value: str) -> bool:
    """True for an object name (`contacts`, `partner_services`, `p_custom`) or a type ID (`0-1`, `2-123`)."""
    return _OBJECT_TYPE_RE.fullmatch(value) is not None


def validate_record_id(value: str) -> bool:
    """True for 1-20 ASCII decimal digits, or a keyed value `PROP=VALUE`."""
    return _RECORD_ID_RE.fullmatch(value) is not None


def validate_association_type(value: str) -> bool:
    """True for an association type ID (1-10 digits), a type name (`[a-z][a-z0-9_]*`, at most 100) or a
    label's text (a letter, then letters, digits, spaces and & / ( ) . ' + - _)."""
    return _ASSOC_TYPE_RE.fullmatch(value) is not None


# -------------------------------------------------------------------------------------------- reasons

COLUMNS = ("fromType", "fromId", "toType", "toId", "type")


def show_value(value: str, limit: int = 40) -> str:
    """`value` quoted for a message; a long one clipped, with its length."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


_OBJECT_TYPE_WHAT = "an object type (a name such as contacts or p_custom, or a type ID such as 0-1)"
_WHAT = {
    "fromType": _OBJECT_TYPE_WHAT,
    "fromId": "a record ID (1-20 digits) or a unique property's value (--from-id-property)",
    "toType": _OBJECT_TYPE_WHAT,
    "toId": "a record ID (1-20 digits) or a unique property's value (--to-id-property)",
    "type": "an association type (a type ID of 1-10 digits, a name matching [a-z][a-z0-9_]*, or a label's text)",
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
    if column in ("fromId", "toId", "type") and _MANGLED.fullmatch(value):
        return (f"{column} {show_value(value)} looks like a number a spreadsheet converted (scientific notation "
                "or a trailing .0): format the column as text in the spreadsheet and export again")
    return f"{column} {show_value(value)} is not {_WHAT[column]}"


def describe_problems(problems: list[tuple[str, str]]) -> str:
    """One sentence from [(column, message), ...]: the first message, then the other columns named."""
    first = problems[0][1]
    if len(problems) == 1:
        return first
    others = ", ".join(column for column, _ in problems[1:])
    return f"{first}; also invalid: {others}"


def find_problems(
    values: tuple[str, str, str, str, str], no_from_type: str | None, preset: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """Problems of a row in column order. `no_from_type` is the message when fromType is absent (None:
    it is present); `preset` holds messages decided earlier (JSON value types)."""
    out: list[tuple[str, str]] = []
    for column, value in zip(COLUMNS, values, strict=True):
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
