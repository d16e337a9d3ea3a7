"""Reading JSONL input: one `Row` or `InvalidRow` per non-blank line (one JSON object per line).

Driven by `RowReader` (`_rows`), which opens the input and hands over its bytes, the line limit and a
`ReadState`. The line loop is on the hot path of a rerun, so it is written flat like the CSV one
(see `_csv_rows`): rows with five string values take the fast path; anything else (other value types,
keys in another case, invalid values) goes through `_jsonl_object`, which gives the reasons.
"""

from __future__ import annotations

import json
from typing import BinaryIO

import orjson

from .types import InvalidRow, Items, ReadState, Row, build_row, keyed, only_input_errors
from .validate import COLUMNS, ROW_MATCH, describe_problems, find_problems

__all__ = ["read_jsonl"]

_NO_FROM_TYPE = "no fromType: add a fromType key or pass --from-type"
_MISSING: object = object()


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


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


def _no_from_type_key(obj: dict[str, object]) -> bool:
    """True when no key of `obj` spells fromType in another case."""
    return not any(key.lower() == "fromtype" for key in obj)


def read_jsonl(binary: BinaryIO, name: str, default_from_type: str | None, limit: int, state: ReadState,
               props: tuple[str, str] = ("", "")) -> Items:
    """The rows of `binary` (a generator). `limit`: MAX_LINE_CHARS, in bytes here."""
    return only_input_errors(_read_jsonl_rows(binary, default_from_type, limit, state, props), name, state)


def _props(obj: dict[str, object], props: tuple[str, str]) -> tuple[str, str]:
    """The row's fromIdProperty / toIdProperty, else the defaults (`--from-id-property`, …)."""
    fp, tp = obj.get("fromIdProperty"), obj.get("toIdProperty")
    return ((fp.strip() if isinstance(fp, str) else "") or props[0],
            (tp.strip() if isinstance(tp, str) else "") or props[1])


def _read_jsonl_rows(binary: BinaryIO, default_from_type: str | None, limit: int, state: ReadState,
                     props: tuple[str, str]) -> Items:
    """The hot loop."""
    readline = binary.readline
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    missing = _MISSING
    default = default_from_type or ""
    keyed_ids = bool(props[0] or props[1])
    row_match = ROW_MATCH
    build = build_row  # one shared Python call per valid row, ~2% of the loop (see build_row)
    number = 0
    n = state.rows_read
    while raw := readline(limit):
        number += 1
        if len(raw) >= limit and not raw.endswith(b"\n"):
            while (rest := readline(limit)) and not rest.endswith(b"\n"):
                pass
            n += 1
            state.rows_read = n
            yield InvalidRow("", "", "", "", "", number, f"line is longer than {limit} bytes")
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            obj = loads(raw)
        except decode_error as e:
            if not raw.strip():
                continue
            n += 1
            state.rows_read = n
            yield InvalidRow("", "", "", "", "", number, f"line is not valid JSON ({e.msg} at column {e.colno})")
            continue
        if type(obj) is not dict:
            n += 1
            state.rows_read = n
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
            if keyed_ids or "fromIdProperty" in obj or "toIdProperty" in obj:
                fprop, tprop = _props(obj, props)
                fid, tid = keyed(fprop, fid), keyed(tprop, tid)
            if row_match(f"{ft},{fid},{tt},{tid},{typ}") is not None:
                row = build(ft, fid, tt, tid, typ, number)
                n += 1
                state.rows_read = n
                yield row
                continue
        if any(type(v) is float for v in obj.values()):
            # orjson reads an integer past 2**64-1 (a 20-digit ID) as a float; the standard library
            # keeps it exact (orjson accepted the line, so it is strict JSON). Only such top-level
            # values are taken from it: the rest stays as orjson read it (nested giant integers would
            # not survive being reported).
            exact = json.loads(raw)
            if type(exact) is dict:
                obj = {k: exact[k] if type(v) is float and type(exact.get(k)) is int else v for k, v in obj.items()}
        item = _jsonl_object(obj, number, default, props)
        n += 1
        state.rows_read = n
        yield item


def _jsonl_object(obj: dict[str, object], number: int, default: str, props: tuple[str, str] = ("", "")
                  ) -> Row | InvalidRow:
    """The general (slow) path for one JSON object: case-insensitive keys, value types, reasons."""
    raw: dict[str, object] = {}
    problems: list[tuple[str, str]] = []
    lowered: dict[str, list[str]] | None = None
    for column in COLUMNS:
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
    for column in COLUMNS:
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
    fprop, tprop = _props(obj, props)
    fid, tid = keyed(fprop, fid), keyed(tprop, tid)
    no_from_type: str | None = None
    if not ft and "fromType" not in preset:
        if default:
            ft = default
        else:
            no_from_type = _NO_FROM_TYPE
    all_problems = find_problems((ft, fid, tt, tid, typ), no_from_type, preset)
    if not all_problems:
        return Row(ft, fid, tt, tid, typ, number)
    return InvalidRow(ft, fid, tt, tid, typ, number, describe_problems(all_problems))
