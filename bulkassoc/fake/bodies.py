"""HubSpot-shaped response bodies for the fake server (docs/hubspot-api.md §3, §4, §5).

Each builder returns the encoded JSON body. Where that page quotes a real body we copy it; where
HubSpot says nothing the comment says what we picked instead.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = [
    "DAILY_LIMIT_MESSAGE",
    "TEN_SECONDLY_MESSAGE",
    "auth_failure",
    "bad_request",
    "correlation_id",
    "daily_limit",
    "invalid_association",
    "labels",
    "locked",
    "missing_scope",
    "object_label",
    "object_not_found",
    "object_with_association",
    "server_error",
    "ten_secondly_limit",
    "write_scope",
]

TEN_SECONDLY_MESSAGE = "You have reached your ten_secondly_rolling limit."
DAILY_LIMIT_MESSAGE = "You have reached your daily limit."

_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about required "
    "scopes here: https://developers.hubspot.com/scopes."
)
_SCOPES_LINK = "https://developers.hubspot.com/scopes"
_CREATED_AT = "2024-01-15T09:30:00.000Z"  # the fake's objects all "exist" since then

# 5xx bodies: HubSpot's 502/503/504 bodies are not documented (not found). A 500 seen in the wild is
# {"status":"error","message":"internal error","correlationId":…}; we keep that shape and add a
# `category` because every error body of the fake carries one.
_SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: ("internal error", "INTERNAL_ERROR"),
    502: ("Bad Gateway: processing limits have been met, please retry.", "BAD_GATEWAY"),
    503: ("Service Unavailable, please retry in a few seconds.", "SERVICE_UNAVAILABLE"),
    504: ("Gateway Timeout: processing limits have been met, please retry.", "GATEWAY_TIMEOUT"),
}


# Correlation IDs are UUID-shaped and unique per process, but cheap: a random UUID4 prefix and a
# counter in the last group (a fresh uuid4 per response costs more than the rest of a PUT's body).
_CID_PREFIX = str(uuid.uuid4())[:24]
_cid_counter = itertools.count(1)


def correlation_id() -> str:
    return f"{_CID_PREFIX}{next(_cid_counter):012x}"


def _error(message: str, category: str, cid: str, **extra: Any) -> bytes:
    return orjson.dumps({"status": "error", "message": message, "correlationId": cid, **extra,
                         "category": category})


def write_scope(object_type: str) -> str:
    """The write scope HubSpot names for an object type, e.g. crm.objects.partner-services.write.

    Custom objects (`p_…` names, `2-…` type IDs) share HubSpot's single `crm.objects.custom.write` scope.
    Deliberately not shared with the client's `hubspot/outcomes.required_scope`: the fake models HubSpot on its
    own, so a mistake in one cannot hide in the other.
    """
    if object_type.startswith(("p_", "2-")):
        return "crm.objects.custom.write"
    return f"crm.objects.{object_type.replace('_', '-')}.write"


def object_label(object_type: str) -> str:
    """HubSpot's upper-case singular label used in INVALID_OBJECT_IDS: companies → COMPANY."""
    name = object_type.upper()
    if name.endswith("IES"):
        return name[:-3] + "Y"
    return name[:-1] if name.endswith("S") else name


def object_with_association(from_id: str, to_type: str, to_id: str, assoc_type: str) -> bytes:
    """200 body of the v3 PUT: a minimal SimplePublicObjectWithAssociations holding the new pair
    (HubSpot's may list the object's other associations too).

    `type` echoes the path segment: HubSpot reports a type name, which the fake cannot know for IDs.
    """
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({
        "id": from_id,
        "properties": {"hs_object_id": from_id, "hs_createdate": _CREATED_AT, "hs_lastmodifieddate": now},
        "createdAt": _CREATED_AT, "updatedAt": now, "archived": False,
        "associations": {to_type: {"results": [{"id": to_id, "type": assoc_type}]}},
    })


def labels(type_labels: Mapping[int, str | None]) -> bytes:
    """200 body of the v4 labels list, in typeId order."""
    return orjson.dumps({"results": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
                                     for type_id, label in sorted(type_labels.items())]})


def auth_failure(cid: str) -> bytes:
    """401, as observed for a wrong or missing token (the same body for both)."""
    return _error(_AUTH_MESSAGE, "INVALID_AUTHENTICATION", cid)


def missing_scope(object_type: str, cid: str) -> bytes:
    """403 MISSING_SCOPES; newer bodies name the scope under `requiredGranularScopes`."""
    scope = write_scope(object_type)
    return _error(
        _SCOPES_MESSAGE, "MISSING_SCOPES", cid,
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": [scope]}}],
        links={"scopes": _SCOPES_LINK},
    )


def object_not_found(object_type: str, object_id: str, cid: str) -> bytes:
    """404 OBJECT_NOT_FOUND.

    What the v3 association PUT answers for an unknown ID is not found in HubSpot's sources (it may be
    404 or 400); we pick 404 with the body shape of HubSpot's published OBJECT_NOT_FOUND example.
    """
    return _error(f"{object_label(object_type)}={object_id} does not exist", "OBJECT_NOT_FOUND", cid,
                  context={"objectId": [object_id], "objectType": [object_label(object_type)]})


def invalid_association(to_type: str, to_id: str, cid: str) -> bytes:
    """400 for an unknown or wrong-direction association type.

    Modelled on the observed v4 body, where a wrong-direction type ID made HubSpot report the target
    ID as INVALID_OBJECT_IDS; the v3 body for a bad type is not found.
    """
    label = object_label(to_type)
    return _error("One or more associations are invalid", "VALIDATION_ERROR", cid,
                  context={"INVALID_OBJECT_IDS": [f"{label}={to_id} is not valid"],
                           "objectId": [to_id], "objectType": [label]})


def ten_secondly_limit(cid: str, portal_id: int) -> bytes:
    """429 burst body as observed: no `category`, plus `groupName`."""
    return orjson.dumps({
        "status": "error", "message": TEN_SECONDLY_MESSAGE, "errorType": "RATE_LIMIT",
        "correlationId": cid, "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": f"publicapi:private-app-api-calls-ten-secondly:{portal_id}",
    })


def daily_limit(cid: str) -> bytes:
    """429 daily body, verbatim shape of HubSpot's documented example."""
    return orjson.dumps({
        "status": "error", "message": DAILY_LIMIT_MESSAGE, "errorType": "RATE_LIMIT",
        "correlationId": cid, "policyName": "DAILY", "requestId": correlation_id(),
    })


def bad_request(message: str, cid: str) -> bytes:
    """400 VALIDATION_ERROR for a malformed query (e.g. a non-numeric `limit`)."""
    return _error(message, "VALIDATION_ERROR", cid)


def locked(cid: str) -> bytes:
    """423 Locked. HubSpot documents the status and the 2 s lock, not the body (not found): ours is
    the standard error shape with category LOCKED."""
    return _error("The record is locked by another operation; retry after at least 2 seconds.",
                  "LOCKED", cid)


def server_error(status: int, cid: str) -> bytes:
    message, category = _SERVER_ERRORS[status]
    return _error(message, category, cid)
