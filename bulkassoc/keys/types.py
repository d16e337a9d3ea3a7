"""Association types by numeric ID, v3 name (`partner_service_to_contact`) or label text ("Billing
contact"), resolved once per (fromType, toType) pair from the portal's own definitions.

Two reads per pair, through the paced caller (HUBSPOT_API_2 §2): `GET /crm/v4/associations/{f}/{t}/labels`
gives typeId, label (null when unlabeled) and category; `GET /crm/v3/associations/{f}/{t}/types` gives
{id, name}. They are joined on the ID. v4, date-versioned and batch writes take numeric IDs only, so a
name or label is always resolved to its ID (and its category) before it is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import orjson

from ..hubspot.caller import Caller, pass_through
from ..hubspot.outcomes import Kind

__all__ = ["TypeBook", "TypeDef", "TypeDefs", "parse_label_list", "parse_type_list"]


@dataclass(frozen=True, slots=True)
class TypeDef:
    type_id: str
    name: str = ""
    label: str = ""
    category: str = ""

    def describe(self) -> str:
        parts = [self.type_id] + ([self.name] if self.name else []) + ([repr(self.label)] if self.label else [])
        return " ".join(parts) + (f" ({self.category})" if self.category else "")

    def to_dict(self) -> dict[str, object]:
        return {"id": int(self.type_id), "name": self.name or None, "label": self.label or None,
                "category": self.category or None}


@dataclass(frozen=True)
class TypeDefs:
    """The types a portal defines for one (fromType, toType) pair."""

    from_type: str
    to_type: str
    types: tuple[TypeDef, ...]
    has_names: bool = True  # the v3 types endpoint answered: a name it does not list is unknown

    def find(self, text: str) -> tuple[TypeDef | None, str]:
        """The one type `text` names (by ID, name or label), or None and why not."""
        text = text.strip()
        if text.isdigit():
            hits = [t for t in self.types if t.type_id == text.lstrip("0") or t.type_id == text]
        else:
            folded = " ".join(text.split()).casefold()
            hits = [t for t in self.types if t.name.casefold() == folded
                    or (t.label and " ".join(t.label.split()).casefold() == folded)]
        distinct = {t.type_id: t for t in hits}
        if len(distinct) == 1:
            return next(iter(distinct.values())), ""
        valid = "; ".join(t.describe() for t in self.types)
        if distinct:
            return None, (f"association type {text!r} is ambiguous for {self.from_type} → {self.to_type}: it names "
                          f"{', '.join(sorted(distinct))}; give the numeric ID instead (valid types: {valid})")
        return None, (f"association type {text!r} does not exist for {self.from_type} → {self.to_type}; "
                      f"valid types: {valid}")


def _results(body: bytes) -> list[dict[str, object]] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else None


def parse_label_list(body: bytes) -> dict[str, TypeDef] | None:
    """typeId → TypeDef from the v4 labels answer; None when it says nothing usable."""
    results = _results(body)
    if results is None:
        return None
    out: dict[str, TypeDef] = {}
    for item in results:
        type_id = item.get("typeId")
        if isinstance(type_id, bool) or not isinstance(type_id, (int, str)) or not str(type_id).isdigit():
            continue
        label = item.get("label")
        out[str(type_id)] = TypeDef(str(type_id), "", label if isinstance(label, str) else "",
                                    str(item.get("category") or ""))
    return out or None


def parse_type_list(body: bytes) -> dict[str, str] | None:
    """id → name from the v3 types answer; None when it says nothing usable."""
    results = _results(body)
    if results is None:
        return None
    out = {str(r["id"]): str(r["name"]) for r in results
           if isinstance(r.get("id"), (str, int)) and str(r.get("id")).isdigit() and isinstance(r.get("name"), str)}
    return out or None


class TypeBook:
    """Each pair's types, read once (per command) through the paced caller."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller
        self._pairs: dict[tuple[str, str], TypeDefs | None] = {}

    async def _get(self, path: str) -> bytes | None:
        answer = await self._caller.call("GET", path, None, judge=pass_through, purpose="check", forbidden_ok=True)
        response = answer.payload
        return response.body if answer.outcome.kind is Kind.SUCCESS and response is not None else None

    async def definitions(self, from_type: str, to_type: str) -> TypeDefs | None:
        """The pair's types; None when HubSpot told us nothing usable (then HubSpot judges each write)."""
        pair = (from_type, to_type)
        if pair not in self._pairs:
            # both at once: at a round trip of a second or more, a run's first write waits for them
            labels_body, names_body = await _both(self._get(f"/crm/v4/associations/{from_type}/{to_type}/labels"),
                                                  self._get(f"/crm/v3/associations/{from_type}/{to_type}/types"))
            labels = parse_label_list(labels_body) if labels_body is not None else None
            names = parse_type_list(names_body) if names_body is not None else None
            merged: dict[str, TypeDef] = dict(labels or {})
            for type_id, name in (names or {}).items():
                old = merged.get(type_id, TypeDef(type_id))
                merged[type_id] = TypeDef(type_id, name, old.label, old.category)
            ordered = tuple(sorted(merged.values(), key=lambda t: int(t.type_id)))
            self._pairs[pair] = TypeDefs(from_type, to_type, ordered, names is not None) if ordered else None
        return self._pairs[pair]


async def _both(first: Coroutine[Any, Any, bytes | None],
                second: Coroutine[Any, Any, bytes | None]) -> tuple[bytes | None, bytes | None]:
    """Two reads side by side; when one raises (a halt), the other is cancelled before it is raised."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        one, two = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return one, two
