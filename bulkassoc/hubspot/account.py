"""Checks made before (and, for new association types, during) the bulk writes.

Pure helpers: what a labels answer means, the message for an unknown type, and the portal
identity a ledger is bound to. The engine does the requests.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import orjson

__all__ = ["Labels", "PortalIdentity", "new_salt", "parse_account", "parse_labels", "unknown_type_message"]


@dataclass(frozen=True)
class Labels:
    """The association types HubSpot defines for one (fromType, toType) pair."""

    type_ids: frozenset[str]
    described: tuple[str, ...]  # "279 (HUBSPOT_DEFINED)", "30 (USER_DEFINED, Decision maker)"

    def knows(self, assoc_type: str) -> bool:
        # names (v3 style) cannot be checked against label IDs: let HubSpot judge them
        return not assoc_type.isdigit() or assoc_type in self.type_ids


def parse_labels(body: bytes) -> Labels | None:
    """Labels from `GET /crm/v4/associations/{from}/{to}/labels`; None when it tells us nothing."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return None
    ids: set[str] = set()
    described: list[str] = []
    for item in results:
        if not isinstance(item, dict):
            continue
        type_id = item.get("typeId")
        if isinstance(type_id, bool) or not isinstance(type_id, (int, str)) or not str(type_id).isdigit():
            continue
        ids.add(str(type_id))
        parts = [str(item.get("category") or "?")]
        if item.get("label"):
            parts.append(str(item["label"]))
        described.append(f"{type_id} ({', '.join(parts)})")
    if not ids:
        return None  # an empty list proves nothing (e.g. pairs whose types HubSpot does not list)
    return Labels(frozenset(ids), tuple(described))


def unknown_type_message(assoc_type: str, from_type: str, to_type: str, labels: Labels) -> str:
    return (f"association type {assoc_type} does not exist for {from_type} → {to_type}; "
            f"valid types: {', '.join(labels.described)}")


@dataclass(frozen=True)
class PortalIdentity:
    """Which HubSpot account a run writes to, without ever storing the token."""

    portal_id: str | None  # from GET /account-info/v3/details, when the token may call it
    fallback: str  # base URL + salted hash of the token

    @classmethod
    def of(cls, portal_id: str | None, base_url: str, token: str, salt: str) -> PortalIdentity:
        digest = hashlib.sha256(f"{salt}\0{base_url}\0{token}".encode()).hexdigest()[:20]
        return cls(portal_id, f"{base_url}#{digest}")

    def describe(self) -> str:
        return f"portal {self.portal_id}" if self.portal_id else f"the account behind that token at {self.base_url}"

    @property
    def base_url(self) -> str:
        return self.fallback.rsplit("#", 1)[0]

    def same_as(self, other: PortalIdentity) -> bool:
        if self.portal_id and other.portal_id:
            return self.portal_id == other.portal_id
        return self.fallback == other.fallback


def new_salt() -> str:
    return secrets.token_hex(16)


def parse_account(body: bytes) -> tuple[str | None, str | None]:
    """(portalId, timeZone) from `GET /account-info/v3/details`, tolerating any shape."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    portal = data.get("portalId")
    zone = data.get("timeZone")
    portal_text = str(portal) if isinstance(portal, (int, str)) and not isinstance(portal, bool) and portal else None
    return portal_text, zone if isinstance(zone, str) and zone else None
