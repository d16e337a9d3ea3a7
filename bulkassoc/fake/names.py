"""Object-type spellings and HubSpot-defined association types, as the fake HubSpot knows them."""

from __future__ import annotations

__all__ = ["HUBSPOT_DEFINED_LABELS", "canonical_type", "default_definitions", "singular"]

# HubSpot accepts an object's type ID, and for the standard objects its name in several spellings
# (`contacts`, `contact`, `Contacts`, `0-1`); the fake maps them all onto one key so that seeds and
# scopes written as `contacts` also match requests that say `0-1`.
_ALIASES = {
    "0-1": "contacts", "contact": "contacts",
    "0-2": "companies", "company": "companies",
    "0-3": "deals", "deal": "deals",
    "0-5": "tickets", "ticket": "tickets",
    "partner_client": "partner_clients",
    "partner_service": "partner_services",
}


def canonical_type(name: str) -> str:
    low = name.lower()
    return _ALIASES.get(low, low)


# docs/hubspot-api.md §7 (the v4 guide's table): typeId → label (None = unlabeled) per (from, to). Used by
# the labels endpoint when the fake is not seeded with association types. The partner objects' IDs
# are not published (not found), so they are absent here.
HUBSPOT_DEFINED_LABELS: dict[tuple[str, str], dict[int, str | None]] = {
    ("contacts", "companies"): {1: "Primary", 279: None},
    ("companies", "contacts"): {2: "Primary", 280: None},
    ("deals", "contacts"): {3: None},
    ("contacts", "deals"): {4: None},
    ("deals", "companies"): {5: "Primary", 341: None},
    ("companies", "deals"): {6: "Primary", 342: None},
    ("contacts", "tickets"): {15: None},
    ("tickets", "contacts"): {16: None},
    ("tickets", "companies"): {26: "Primary", 339: None},
    ("companies", "tickets"): {25: "Primary", 340: None},
    ("deals", "tickets"): {27: None},
    ("tickets", "deals"): {28: None},
    ("contacts", "contacts"): {449: None},
    ("companies", "companies"): {13: "Parent Company", 14: "Child Company", 450: None},
    ("deals", "deals"): {451: None},
    ("tickets", "tickets"): {452: None},
}


def singular(object_type: str) -> str:
    return object_type[:-3] + "y" if object_type.endswith("ies") else object_type.rstrip("s")


def default_definitions(from_type: str, to_type: str) -> tuple[tuple[int, str, str | None, str], ...]:
    """HubSpot's own types of a standard pair with their v3 names: `contact_to_company` is typeId 1 (Primary),
    `contact_to_company_unlabeled` 279 (docs/hubspot-api.md; HUBSPOT_API_2 §2)."""
    labels = HUBSPOT_DEFINED_LABELS.get((from_type, to_type), {})
    base = f"{singular(from_type)}_to_{singular(to_type)}"
    has_primary = "Primary" in labels.values()
    out = []
    for type_id, label in sorted(labels.items()):
        if label == "Primary":
            name = base
        elif label is None:
            name = f"{base}_unlabeled" if has_primary else base
        else:
            name = label.lower().replace(" ", "_")
        out.append((type_id, name, label, "HUBSPOT_DEFINED"))
    return tuple(out)
