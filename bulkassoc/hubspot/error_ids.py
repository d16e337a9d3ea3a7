"""Which rows of a batch an error of HubSpot's batch answer names: ID tokens in its `context`, its
`message` and its `errors[]` details, by the side they may mean (the rules are in `batch_answers`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..rows.reader import Row

__all__ = ["ErrorIds", "RowIds", "matches", "norm_id", "strip_zeros"]

# A digit run that is not part of a word ("b12"), a type ID ("0-1", "2-123") or a decimal ("1.5").
_ID_TOKEN = re.compile(r"(?<![\w-])(?<!\d\.)\d+(?![\w-])(?!\.\d)")
_INPUT_INDEX = re.compile(r"inputs\[(\d+)\]")
_LABELLED_ID = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9_]*=(\d+)(?![\w-])(?!\.\d)")  # CONTACT=38374264688
_SKIP_KEY_PARTS = ("type", "trace", "correlation", "request", "scope", "link", "category")



class RowIds:
    """Normalised IDs of a batch's rows, and which rows hold each ID on each side."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.count = len(rows)
        self.pairs: list[tuple[str, str]] = []
        self.by_from: dict[str, list[int]] = {}
        self.by_to: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            f, t = strip_zeros(row.from_id), strip_zeros(row.to_id)
            self.pairs.append((f, t))
            self.by_from.setdefault(f, []).append(i)
            self.by_to.setdefault(t, []).append(i)


@dataclass(slots=True)
class ErrorIds:
    """The ID tokens one error names, by the side they may mean, and input indexes it names."""

    from_ids: set[str] = field(default_factory=set)
    to_ids: set[str] = field(default_factory=set)
    either: set[str] = field(default_factory=set)
    indexes: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, error: Mapping[str, object], *, strict: bool = False) -> ErrorIds:
        """`strict`: from messages take only `LABEL=ID` tokens (for whole-request errors, whose messages
        carry line numbers and limits more often than IDs)."""
        ids = cls()
        ids._add_error(error, strict)
        details = error.get("errors")
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict):
                ids._add_error(detail, strict)
                where = detail.get("in")
                if isinstance(where, str):
                    ids.indexes.update(int(n) for n in _INPUT_INDEX.findall(where))
        return ids

    def _add_error(self, error: Mapping[str, object], strict: bool) -> None:
        message = error.get("message")
        if isinstance(message, str):
            if strict:
                self.either.update(strip_zeros(token) for token in _LABELLED_ID.findall(message))
            else:
                self.either.update(_tokens([message]))
        context = error.get("context")
        if not isinstance(context, dict):
            return
        for key, values in context.items():
            low = str(key).lower()
            if any(part in low for part in _SKIP_KEY_PARTS):
                continue
            texts = [v for v in (values if isinstance(values, list) else [values]) if isinstance(v, (str, int))]
            found = _tokens(texts)
            target = self.from_ids if low.startswith("from") else self.to_ids if low.startswith("to") else self.either
            target.update(found)


def matches(error: ErrorIds, ids: RowIds) -> set[int]:
    hits = {i for i in error.indexes if i < ids.count}
    for token in error.from_ids | error.either:
        hits.update(ids.by_from.get(token, ()))
    for token in error.to_ids | error.either:
        hits.update(ids.by_to.get(token, ()))
    return hits


def _tokens(values: Iterable[str | int]) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            found.add(str(value))
            continue
        found.update(strip_zeros(token) for token in _ID_TOKEN.findall(value))
    return found


def strip_zeros(value: str) -> str:
    return value.lstrip("0") or "0"


def norm_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return strip_zeros(value.strip())
    return None
