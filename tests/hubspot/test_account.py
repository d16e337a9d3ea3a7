"""The account helpers (bulkassoc.hubspot.account), by table: what a labels answer means, the portal identity a
ledger is bound to, and what the account-info answer tells us."""

from __future__ import annotations

import pytest

from bulkassoc.hubspot.account import Labels, PortalIdentity, parse_account, parse_labels, unknown_type_message

# ---------------------------------------------------------------------------------------------- labels

CONTACT_TO_COMPANY = (b'{"results": [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": null},'
                      b' {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},'
                      b' {"category": "USER_DEFINED", "typeId": 30, "label": "Decision maker"}]}')


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(CONTACT_TO_COMPANY, Labels(frozenset({"279", "1", "30"}), (
            "279 (HUBSPOT_DEFINED)", "1 (HUBSPOT_DEFINED, Primary)", "30 (USER_DEFINED, Decision maker)")),
            id="the v4 labels answer"),
        pytest.param(b'{"results": [{"typeId": "7", "category": "USER_DEFINED"}]}',
                     Labels(frozenset({"7"}), ("7 (USER_DEFINED)",)), id="typeId as a string"),
        pytest.param(b'{"results": [{"typeId": 7}]}', Labels(frozenset({"7"}), ("7 (?)",)), id="no category"),
        pytest.param(b'{"results": [{"typeId": 7, "category": "", "label": ""}]}',
                     Labels(frozenset({"7"}), ("7 (?)",)), id="empty category and label"),
        pytest.param(b'{"results": [{"typeId": true}, {"typeId": -1}, {"typeId": 1.5}, {"typeId": "x"}, {},'
                     b' "279", null, {"typeId": 4, "category": "HUBSPOT_DEFINED"}]}',
                     Labels(frozenset({"4"}), ("4 (HUBSPOT_DEFINED)",)), id="unusable items are skipped"),
        pytest.param(b'{"results": [{"typeId": true}, {"typeId": -1}]}', None, id="no usable item"),
        pytest.param(b'{"results": []}', None, id="an empty list proves nothing"),
        pytest.param(b'{"results": {}}', None, id="results not a list"),
        pytest.param(b'{"status": "error", "category": "VALIDATION_ERROR"}', None, id="an error body"),
        pytest.param(b"[]", None, id="not an object"),
        pytest.param(b"", None, id="empty body"),
        pytest.param(b"<html>bad gateway</html>", None, id="not JSON"),
    ],
)
def test_parse_labels(body: bytes, expected: Labels | None) -> None:
    assert parse_labels(body) == expected


@pytest.mark.parametrize(
    ("assoc_type", "known"),
    [
        ("279", True),
        ("30", True),
        ("280", False),  # the reverse direction's type
        ("0", False),
        ("contact_to_company", True),  # a v3 name cannot be checked against label IDs: HubSpot judges it
    ],
)
def test_labels_knows(assoc_type: str, known: bool) -> None:
    labels = parse_labels(CONTACT_TO_COMPANY)
    assert labels is not None
    assert labels.knows(assoc_type) is known


def test_unknown_type_message_lists_the_valid_types() -> None:
    labels = parse_labels(CONTACT_TO_COMPANY)
    assert labels is not None
    assert unknown_type_message("280", "contacts", "companies", labels) == (
        "association type 280 does not exist for contacts → companies; valid types: 279 (HUBSPOT_DEFINED), "
        "1 (HUBSPOT_DEFINED, Primary), 30 (USER_DEFINED, Decision maker)")


# ------------------------------------------------------------------------------------- portal identity

BASE = "https://api.hubapi.com"
TOKEN = "pat-na1-abc"


def test_portal_identity_fallback_is_stable_and_never_holds_the_token() -> None:
    """Ledgers store the fallback: its recipe must not change, or every existing ledger stops resuming."""
    identity = PortalIdentity.of("12345", BASE, TOKEN, "00ff")
    assert identity == PortalIdentity("12345", "https://api.hubapi.com#0edce4e3da3532961d36")
    assert TOKEN not in identity.fallback
    assert PortalIdentity.of(None, BASE, "pat-na1-abd", "00ff").fallback == "https://api.hubapi.com#c0a73b6e941ae1d629c5"


@pytest.mark.parametrize(
    ("change", "same_fallback"),
    [
        ({}, True),
        ({"token": "pat-na1-abd"}, False),
        ({"salt": "00fe"}, False),
        ({"base_url": "http://127.0.0.1:8080"}, False),
    ],
)
def test_portal_identity_fallback_depends_on_base_token_and_salt(change: dict[str, str], same_fallback: bool) -> None:
    parts = {"base_url": BASE, "token": TOKEN, "salt": "00ff", **change}
    one = PortalIdentity.of(None, BASE, TOKEN, "00ff")
    other = PortalIdentity.of(None, parts["base_url"], parts["token"], parts["salt"])
    assert (one.fallback == other.fallback) is same_fallback
    assert other.base_url == parts["base_url"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(("123", "T1"), ("123", "T2"), True, id="same portal, new token"),
        pytest.param(("123", "T1"), ("456", "T1"), False, id="another portal, same token (ids win)"),
        pytest.param((None, "T1"), (None, "T1"), True, id="no portal ids: same fallback"),
        pytest.param((None, "T1"), (None, "T2"), False, id="no portal ids: another token"),
        pytest.param(("123", "T1"), (None, "T1"), True, id="one id unknown: the fallback decides (same)"),
        pytest.param(("123", "T1"), (None, "T2"), False, id="one id unknown: the fallback decides (differs)"),
        pytest.param(("", "T1"), ("123", "T2"), False, id="an empty id counts as unknown"),
    ],
)
def test_portal_identity_same_as(a: tuple[str | None, str], b: tuple[str | None, str], same: bool) -> None:
    first = PortalIdentity.of(a[0], BASE, a[1], "00ff")
    second = PortalIdentity.of(b[0], BASE, b[1], "00ff")
    assert first.same_as(second) is same
    assert second.same_as(first) is same


@pytest.mark.parametrize(
    ("portal_id", "base_url", "text"),
    [
        ("123", BASE, "portal 123"),
        (None, BASE, "the account behind that token at https://api.hubapi.com"),
        ("", "http://127.0.0.1:8080", "the account behind that token at http://127.0.0.1:8080"),
    ],
)
def test_portal_identity_describe(portal_id: str | None, base_url: str, text: str) -> None:
    assert PortalIdentity.of(portal_id, base_url, TOKEN, "00ff").describe() == text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"portalId": 12345, "timeZone": "Europe/Berlin", "uiDomain": "app.hubspot.com"}',
         ("12345", "Europe/Berlin")),
        (b'{"portalId": "12345"}', ("12345", None)),
        (b'{"portalId": true, "timeZone": ""}', (None, None)),
        (b'{"portalId": 0, "timeZone": 7}', (None, None)),
        (b'{"portalId": "", "timeZone": "US/Eastern"}', (None, "US/Eastern")),
        (b'{"portalId": [1]}', (None, None)),
        (b"[12345]", (None, None)),
        (b"", (None, None)),
        (b"not json", (None, None)),
    ],
)
def test_parse_account(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert parse_account(body) == expected
