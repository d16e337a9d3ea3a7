"""Records by a unique property: `email=a@x.com` → the contact's record ID, 100 values per request.

`POST /crm/v3/objects/{objectType}/batch/read` with `idProperty` (docs/hubspot-api.md; HUBSPOT_API_2 §1),
through the paced caller. Answers are matched to inputs by the returned property value, never by
position (HubSpot does not keep input order); a miss is read from the error category
(`OBJECT_NOT_FOUND`), not the HTTP status, since a wrong object type can answer 404 too. E-mail is
matched without case (HubSpot lower-cases it). Resolutions are cached in the ledger with their time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from ..hubspot.caller import Caller, Judge
from ..hubspot.client import Response
from ..hubspot.outcomes import Kind, Outcome
from ..ledger.lookups import LookupStore, normalise

__all__ = ["BATCH", "IdResolver", "Lookup", "Miss", "Triple", "normalise"]

BATCH = 100  # "Object API batch endpoints are limited to 100 inputs per request"


@dataclass(frozen=True, slots=True)
class Miss:
    """Why a value resolved to nothing: it matched no record, or the lookup itself failed."""

    message: str


Lookup = str | Miss
"""A record ID, or why there is none."""


@dataclass(frozen=True, slots=True)
class _Read:
    found: dict[str, str]  # normalised value → record ID
    not_found: frozenset[str]  # values HubSpot reported under OBJECT_NOT_FOUND
    failure: str  # the lookup failed as a whole (bad object type, bad property): why


def _parse(prop: str, response: Response) -> _Read:
    try:
        data = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return _Read({}, frozenset(), f"HubSpot answered {response.status} without a readable body")
    found: dict[str, str] = {}
    for item in data.get("results") or ():
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            continue
        value, record_id = item["properties"].get(prop), item.get("id")
        if isinstance(value, str) and isinstance(record_id, (str, int)) and not isinstance(record_id, bool):
            found[normalise(prop, value)] = str(record_id)
    errors = data.get("errors")
    errors = errors if isinstance(errors, list) else ([data] if data.get("category") else [])
    missing: set[str] = set()
    failure = ""
    for error in errors:
        if not isinstance(error, dict):
            continue
        context = error.get("context") if isinstance(error.get("context"), dict) else {}
        ids = context.get("ids") if isinstance(context, dict) else None
        if error.get("category") == "OBJECT_NOT_FOUND":
            missing.update(normalise(prop, str(v)) for v in (ids or ()) if isinstance(v, (str, int)))
        else:
            failure = f"{error.get('category') or response.status}: {error.get('message') or ''}".strip()
    if not found and not missing and not failure and response.status >= 400:
        failure = f"HubSpot answered {response.status}"
    if response.status >= 400 and not missing and not found and data.get("category") == "OBJECT_NOT_FOUND":
        failure = ""  # every value missed (some portals answer 404 for that)
    return _Read(found, frozenset(missing), failure)


def _read_judge(prop: str) -> Judge[_Read | None]:
    def judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, _Read | None]:
        if response is None:
            return outcome, None
        if outcome.kind is Kind.SUCCESS or outcome.kind is Kind.PERMANENT:
            read = _parse(prop, response)
            return Outcome(Kind.SUCCESS, response.status), read
        return outcome, None

    return judge


def _read_scope(object_type: str) -> str:
    """The read scope HubSpot names for an object type (for a 403 message)."""
    if object_type.startswith(("p_", "2-")):
        return "crm.objects.custom.read"
    return f"crm.objects.{object_type.replace('_', '-')}.read"


Triple = tuple[str, str, str]
"""(objectType, property, normalised value)."""


class IdResolver:
    """Resolves (objectType, property, value) to record IDs: memory, then the ledger, then HubSpot."""

    def __init__(self, caller: Caller, store: LookupStore | None) -> None:
        self._caller = caller
        self._store = store
        self._known: dict[Triple, Lookup] = {}
        self._store_checked: set[Triple] = set()
        self._working: set[tuple[str, str]] = set()  # (objectType, property) that resolved a value
        self.broken: dict[tuple[str, str], str] = {}  # … whose lookups fail as a whole, and why

    def get(self, triple: Triple) -> Lookup | None:
        return self._known.get(triple)

    def unknown(self, wanted: Iterable[Triple]) -> set[Triple]:
        """The triples neither resolved in this run nor cached in the ledger (those cached are loaded)."""
        todo = {t for t in wanted if t not in self._known}
        unchecked = todo - self._store_checked
        if unchecked and self._store is not None:
            groups: dict[tuple[str, str], list[str]] = {}
            for object_type, prop, value in unchecked:
                groups.setdefault((object_type, prop), []).append(value)
            for (object_type, prop), values in groups.items():
                for value, record_id in self._store.get(object_type, prop, values).items():
                    self._known[(object_type, prop, value)] = record_id
                    todo.discard((object_type, prop, value))
            self._store_checked |= unchecked
        return todo

    async def fetch(self, triples: Iterable[Triple]) -> None:
        """Look the triples up at HubSpot, 100 values per request, the requests side by side."""
        groups: dict[tuple[str, str], list[str]] = {}
        for object_type, prop, value in triples:
            groups.setdefault((object_type, prop), []).append(value)
        jobs = []
        for (object_type, prop), values in groups.items():
            values.sort()
            for start in range(0, len(values), BATCH):
                jobs.append(self._lookup(object_type, prop, values[start:start + BATCH]))
        found = await asyncio.gather(*jobs)
        if self._store is not None:  # one ledger transaction per property, not one per request
            merged: dict[tuple[str, str], dict[str, str]] = {}
            for group, resolved in found:
                merged.setdefault(group, {}).update(resolved)
            for (object_type, prop), resolved in merged.items():
                if resolved:
                    self._store.put(object_type, prop, resolved)

    async def resolve(self, wanted: Iterable[Triple]) -> dict[Triple, Lookup]:
        """{triple: record ID or Miss} for every wanted triple, looking up what is not known yet."""
        wanted = set(wanted)
        await self.fetch(self.unknown(wanted))
        return {t: self._known[t] for t in wanted}

    async def _lookup(self, object_type: str, prop: str, values: list[str]
                      ) -> tuple[tuple[str, str], dict[str, str]]:
        """One request; notes every value's answer; returns the values that resolved."""
        body = orjson.dumps({"idProperty": prop, "properties": [prop], "propertiesWithHistory": [],
                             "inputs": [{"id": v} for v in values]})
        answer = await self._caller.call("POST", f"/crm/v3/objects/{object_type}/batch/read", body,
                                         judge=_read_judge(prop), purpose="lookup", scope=_read_scope(object_type))
        known = self._known
        read = answer.payload
        if read is None:
            why = answer.outcome.message or f"HTTP {answer.outcome.status}"
            for value in values:  # retries ran out: not cached, the next run looks again
                known[(object_type, prop, value)] = Miss(f"the lookup of {object_type} by {prop} failed ({why})")
            return (object_type, prop), {}
        resolved: dict[str, str] = {}
        for value in values:
            record_id = read.found.get(value)
            triple = (object_type, prop, value)
            if record_id is not None:
                resolved[value] = record_id
                known[triple] = record_id
            elif read.failure and value not in read.not_found:
                known[triple] = Miss(f"the lookup of {object_type} by {prop} failed ({read.failure})")
            else:
                known[triple] = Miss(f"no {object_type} record has {prop} = {value!r}")
        if resolved or read.not_found:
            self._working.add((object_type, prop))
        elif read.failure and (object_type, prop) not in self._working:
            self.broken[(object_type, prop)] = read.failure
        return (object_type, prop), resolved
