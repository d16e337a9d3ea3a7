"""`Portal`: the fake HubSpot's state, as the endpoint modules see it: what it stores, counts and
allows (scopes, known records, association types), and the checks every write shares."""

from __future__ import annotations

from . import bodies
from .config import FakeConfig, TypeDefinition
from .names import canonical_type, default_definitions, singular
from .reply import Call, Reply
from .state import AssociationKey, AssociationStore, FakeStats

__all__ = ["Portal"]


class Portal:
    """The public state object handed to the endpoint modules (they never see the server)."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.stats = FakeStats()
        self.store = AssociationStore()
        self.scopes = None if config.scopes is None else frozenset(canonical_type(t) for t in config.scopes)
        self.records = {canonical_type(t): {rid: dict(props) for rid, props in recs.items()}
                        for t, recs in (config.records or {}).items()}
        self.known = None if config.known_ids is None else {
            canonical_type(t): frozenset(ids) for t, ids in config.known_ids.items()}
        if self.known is not None:
            for object_type, recs in self.records.items():
                self.known[object_type] = self.known.get(object_type, frozenset()) | frozenset(recs)
        self.definitions: dict[tuple[str, str], tuple[TypeDefinition, ...]] = {
            (canonical_type(f), canonical_type(t)): tuple(defs)
            for (f, t), defs in (config.type_definitions or {}).items()}
        self.types = None if config.association_types is None and not self.definitions else {
            (canonical_type(f), canonical_type(t)): frozenset(ids)
            for (f, t), ids in (config.association_types or {}).items()}
        if self.types is not None:
            for pair, defs in self.definitions.items():
                self.types[pair] = self.types.get(pair, frozenset()) | {str(d[0]) for d in defs} | {d[1] for d in defs}
        self._unique: dict[tuple[str, str], dict[str, str]] = {}
        self.user_labels = {(canonical_type(f), canonical_type(t)): dict(labels)
                            for (f, t), labels in (config.user_labels or {}).items()}
        for f, fid, t, tid, a in config.existing:
            self.store.add((canonical_type(f), fid, canonical_type(t), tid, a))
        self.drop_writes = {(canonical_type(f), fid, canonical_type(t), tid) for f, fid, t, tid in config.drop_writes}

    def pair_definitions(self, from_type: str, to_type: str) -> tuple[TypeDefinition, ...]:
        """The pair's types: as seeded, else the seeded IDs unlabeled, else HubSpot's own for standard pairs."""
        pair = (from_type, to_type)
        if pair in self.definitions:
            return self.definitions[pair]
        if self.types is not None:  # seeded IDs only: unlabeled, named after the pair (the first plainly)
            ids = sorted((t for t in self.types.get(pair, ()) if t.isdigit()), key=lambda x: (len(x), x))
            base = f"{singular(from_type)}_to_{singular(to_type)}"
            return tuple((int(t), base if n == 0 else f"{base}_{t}", None, "HUBSPOT_DEFINED")
                         for n, t in enumerate(ids))
        return default_definitions(from_type, to_type)

    def unique_index(self, object_type: str, prop: str) -> dict[str, str] | None:
        """Normalised value → record ID for a unique property of `object_type`; None when no record has it."""
        key = (object_type, prop)
        if key not in self._unique:
            index = {self.normalise(prop, props[prop]): rid
                     for rid, props in self.records.get(object_type, {}).items() if prop in props}
            self._unique[key] = index
        return self._unique[key] or None

    @staticmethod
    def normalise(prop: str, value: str) -> str:
        """HubSpot matches e-mail without case (it stores it lower-cased)."""
        return value.strip().lower() if prop == "email" else value.strip()

    def exists(self, object_type: str, object_id: str) -> bool:
        """Non-numeric IDs never exist: HubSpot record IDs are decimal digit strings."""
        return object_id.isdigit() and (self.known is None or object_id in self.known.get(object_type, ()))

    def check_exists(self, object_type: str, object_id: str, call: Call) -> None:
        if not self.exists(object_type, object_id):
            raise Reply(404, bodies.object_not_found(object_type, object_id, call.cid))

    def check_scope(self, from_type: str, call: Call) -> None:
        if self.scopes is not None and from_type not in self.scopes:
            raise Reply(403, bodies.missing_scope(from_type, call.cid))

    def allows(self, from_type: str, to_type: str, assoc_type: str) -> bool:
        return self.types is None or assoc_type in self.types.get((from_type, to_type), ())

    def replace(self, from_type: str, from_id: str, to_type: str, to_id: str, types: list[str]) -> None:
        """A v4 create: the pair's types become exactly `types` (HubSpot: "to replace the existing label,
        only include the new label in the request; to append, include both"), counting each write."""
        if (from_type, from_id, to_type, to_id) not in self.drop_writes:
            for old in self.store.types_between(from_type, from_id, to_type, to_id):
                if old not in types and self.store.discard((from_type, from_id, to_type, to_id, old)):
                    self.stats.removed += 1
        for assoc_type in types:
            self.write((from_type, from_id, to_type, to_id, assoc_type))

    def remove(self, key: AssociationKey) -> None:
        """A delete of one type between a pair (absent: nothing to do, still a success)."""
        self.stats.delete_counts[key] += 1
        if self.store.discard(key):
            self.stats.removed += 1

    def write(self, key: AssociationKey) -> None:
        """Store one association (unless the config drops this pair's writes), counting the write."""
        from_type, from_id, to_type, to_id, _ = key
        self.stats.put_counts[key] += 1
        if (from_type, from_id, to_type, to_id) not in self.drop_writes and self.store.add(key):
            self.stats.associations_stored += 1
