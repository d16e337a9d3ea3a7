"""`FakeConfig`: how the fake HubSpot behaves (limits, faults, latency, seeded portal contents)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..pacing.rate import Rate

__all__ = ["FakeConfig", "TypeDefinition"]

TypeDefinition = tuple[int, str, "str | None", str]
"""An association type as a portal defines it: (typeId, v3 name, label or None, category)."""

_DEFAULT_RATE = Rate(100, 10.0)  # HubSpot's Free/Starter burst limit


@dataclass(frozen=True)
class FakeConfig:
    rate: Rate | None = _DEFAULT_RATE  # rolling window on requests received; None = no limit
    daily: int | None = None  # daily budget; when set, the -Daily/-Daily-Remaining headers are sent
    token: str = "fake-token"
    scopes: frozenset[str] | None = None  # object types the token may write; None = all
    known_ids: Mapping[str, frozenset[str]] | None = None  # per object type; None = every numeric ID
    association_types: Mapping[tuple[str, str], frozenset[str]] | None = None  # None = any type
    fail_rate: float = 0.0  # fraction answered 502/503/504 or dropped, an equal mix
    lock_rate: float = 0.0  # fraction answered 423 Locked
    latency_ms: float = 0.0  # mean added latency; each request waits uniformly 0.5×–1.5× this
    read_latency_ms: float = 0.0  # added to every v4 batch read of associations (HubSpot's reads are slow)
    seed: int = 0  # faults and latency are a function of the seed and the request's arrival number
    rate_headers: bool = True  # send X-HubSpot-RateLimit-*
    retry_after: bool = False  # send Retry-After (whole seconds) on 429
    count_rejected: bool = False  # whether 429'd requests take a slot in the window / daily budget
    portal_id: int = 12345678
    drop_writes: frozenset[tuple[str, str, str, str]] = frozenset()  # answered 200 but not stored
    read_page_size: int = 100  # v4 batch read: toObjectIds per fromId per page
    # associations the portal holds before the first request: (fromType, fromId, toType, toId, typeId)
    existing: frozenset[tuple[str, str, str, str, str]] = frozenset()
    # user-defined labels per (fromType, toType): typeId → label (read back as USER_DEFINED)
    user_labels: Mapping[tuple[str, str], Mapping[int, str]] | None = None
    # HubSpot's trap: a labels archive of an unlabeled type (279, …) removes every type of the pair
    unlabeled_wipes: bool = False
    # per object type: record ID → properties; every property given is a unique one (email, legacy_id…)
    # that objects batch/read can look records up by; the records' IDs exist (known_ids grows by them)
    records: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
    # per (fromType, toType): the types the portal defines (ID, v3 name, label, category); listed by the
    # labels and v3 types endpoints, and writable by ID (or by name on the v3 PUT)
    type_definitions: Mapping[tuple[str, str], tuple[TypeDefinition, ...]] | None = None

    def __post_init__(self) -> None:
        for name in ("fail_rate", "lock_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.fail_rate + self.lock_rate > 1.0:
            raise ValueError("fail_rate + lock_rate must not exceed 1")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.daily is not None and self.daily < 1:
            raise ValueError(f"daily must be at least 1, got {self.daily}")
