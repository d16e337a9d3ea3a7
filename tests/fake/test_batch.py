"""The fake HubSpot's batch create and labelled PUT (v4 and date paths), through a real aiohttp client,
and end to end with the request builders and settle_batch."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import orjson
import pytest

from bulkassoc import Rate
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.fake.state import FakeStats
from bulkassoc.hubspot.batch_answers import settle_batch
from bulkassoc.hubspot.endpoints import batch_request, single_request
from bulkassoc.hubspot.outcomes import Kind, classify_response
from bulkassoc.rows.reader import Row

from .._support import Answer, Clock

AUTH = {"Authorization": "Bearer fake-token"}
V4_BATCH = "/crm/v4/associations/contacts/companies/batch/create"




async def send(session: aiohttp.ClientSession, fake: FakeHubSpot, method: str, path: str,
               body: bytes | None = None) -> Answer:
    headers = {**AUTH, "Content-Type": "application/json"}
    async with session.request(method, fake.url + path, data=body, headers=headers) as r:
        return Answer(r.status, r.headers, await r.read())


def rows(n: int, *, start: int = 0, type_: str = "279") -> list[Row]:
    return [Row("contacts", str(1000 + i), "companies", str(5000 + i), type_, i + 2) for i in range(start, start + n)]


def inputs(*items: Any) -> bytes:
    return orjson.dumps({"inputs": list(items)})


def spec(type_id: Any = 279, category: Any = "HUBSPOT_DEFINED") -> dict[str, Any]:
    return {"associationCategory": category, "associationTypeId": type_id}


def assert_error(answer: Answer, status: int, category: str | None, fragment: str) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    assert answer.status == status
    assert body["status"] == "error"
    assert body.get("category") == category
    assert fragment in body["message"]
    uuid.UUID(body["correlationId"])
    return body


# ------------------------------------------------------------------------------------------ batch create


async def test_batch_create_201_stores_every_input_as_one_request(session: aiohttp.ClientSession) -> None:
    batch = rows(100)
    async with FakeHubSpot(FakeConfig(rate=Rate(190, 10.0))) as fake:
        method, path, body = batch_request("contacts", "companies", batch)
        answer = await send(session, fake, method, path, body)
        assert answer.status == 201
        data = answer.json()
        assert data["status"] == "COMPLETE" and "errors" not in data and "numErrors" not in data
        assert data["results"][0] == {"fromObjectTypeId": "0-1", "fromObjectId": "1000", "toObjectTypeId": "0-2",
                                      "toObjectId": "5000", "labels": []}
        assert len(data["results"]) == 100
        assert {"startedAt", "completedAt"} <= data.keys()
        assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "189"  # one request, not 100
        assert fake.associations() == {("contacts", r.from_id, "companies", r.to_id, "279") for r in batch}
        stats = fake.stats
        assert (stats.requests, stats.puts, stats.batch_requests, stats.batch_inputs) == (1, 0, 1, 100)
        assert stats.associations_stored == 100 and set(stats.put_counts.values()) == {1}
        verdict = settle_batch(answer.status, answer.body, answer.headers, batch)
        assert [o.kind for _, o in verdict.per_row] == [Kind.SUCCESS] * 100


async def test_three_bad_among_100_end_to_end(session: aiohttp.ClientSession) -> None:
    """The issue's 'must show', against the fake: exactly the 3 bad rows fail, 97 succeed."""
    batch = rows(100)
    batch[97] = Row("contacts", batch[97].from_id, "companies", batch[97].to_id, "1", batch[97].line)
    bad = [batch[3], batch[50], batch[97]]  # unknown fromId, unknown toId, a type the pair does not allow
    known = {"contacts": frozenset(r.from_id for r in batch) - {"1003"},
             "companies": frozenset(r.to_id for r in batch) - {"5050"}}
    types = {("contacts", "companies"): frozenset({"279"})}
    async with FakeHubSpot(FakeConfig(rate=None, known_ids=known, association_types=types)) as fake:
        answer = await send(session, fake, *batch_request("contacts", "companies", batch))
        assert answer.status == 207
        data = answer.json()
        assert (data["numErrors"], len(data["errors"]), len(data["results"])) == (3, 3, 97)
        first = data["errors"][0]
        assert first == {"status": "error", "category": "VALIDATION_ERROR", "message": "CONTACT=1003 is not valid",
                         "context": {"INVALID_OBJECT_IDS": ["CONTACT=1003 is not valid"], "objectId": ["1003"],
                                     "objectType": ["CONTACT"]}, "errors": [], "links": {}}
        assert [e["context"]["objectId"] for e in data["errors"]] == [["1003"], ["5050"], ["5097"]]
        verdict = settle_batch(answer.status, answer.body, answer.headers, batch)
        assert [r for r, o in verdict.per_row if o.kind is Kind.PERMANENT] == bad
        assert sum(o.kind is Kind.SUCCESS for _, o in verdict.per_row) == 97
        assert len(fake.associations()) == 97


async def test_batch_cap_and_rate_accounting(session: aiohttp.ClientSession) -> None:
    clock = Clock()
    async with FakeHubSpot(FakeConfig(rate=Rate(2, 10.0), daily=5), clock=clock) as fake:
        item = {"from": {"id": "1"}, "to": {"id": "2"}, "types": [spec()]}
        over = await send(session, fake, "POST", V4_BATCH, inputs(*[item] * 2001))
        assert_error(over, 400, "VALIDATION_ERROR", "exceeds the limit of 2000")
        assert fake.associations() == set() and fake.stats.batch_inputs == 0
        full = await send(session, fake, "POST", V4_BATCH, inputs(*[item] * 2000))
        assert full.status == 201 and len(full.json()["results"]) == 2000
        throttled = await send(session, fake, "POST", V4_BATCH, inputs(item))
        assert throttled.status == 429 and throttled.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert full.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "3"  # 2 requests, 2,001 inputs
        assert (fake.stats.requests, fake.stats.batch_requests, fake.stats.batch_inputs) == (3, 2, 2000)
        assert fake.stats.put_counts[("contacts", "1", "companies", "2", "279")] == 2000
        clock.now += 10.0
        assert (await send(session, fake, "POST", V4_BATCH, inputs(item))).status == 201


@pytest.mark.parametrize(("payload", "status", "category", "fragment"), [
    (b"", 400, "VALIDATION_ERROR", "a request body was expected"),
    (b"{nope", 400, "VALIDATION_ERROR", "Invalid input JSON on line 1"),
    (b'{"input": []}', 400, "VALIDATION_ERROR", "not set: [inputs]"),
    (b"[1]", 400, "VALIDATION_ERROR", "not set: [inputs]"),
    (inputs({"from": {"id": "1"}, "types": [spec()]}), 400, "VALIDATION_ERROR", "not set: [to]"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}}), 400, "VALIDATION_ERROR", "not set: [types]"),
    (inputs(7), 400, "VALIDATION_ERROR", "not set: [from, to, types]"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}, "types": [spec("279")]}), 400, "VALIDATION_ERROR",
     "associationTypeId \"279\" is not a valid int32"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}, "types": [spec(category="NOPE")]}), 400,
     "VALIDATION_ERROR", "not one of the values accepted"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}, "types": [{"associationTypeId": 1}]}), 400,
     "VALIDATION_ERROR", "not set: [associationCategory]"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}, "types": "279"}), 400, None, "Cannot deserialize"),
    (inputs({"from": {"id": "1"}, "to": {"id": "2"}, "types": []}), 400, "VALIDATION_ERROR", "at least one"),
])
async def test_malformed_batch_bodies_are_whole_400s(session: aiohttp.ClientSession, payload: bytes, status: int,
                                                     category: str | None, fragment: str) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        assert_error(await send(session, fake, "POST", V4_BATCH, payload), status, category, fragment)
        assert fake.associations() == set()


async def test_batch_scope_ids_and_drop_writes(session: aiohttp.ClientSession) -> None:
    config = FakeConfig(rate=None, scopes=frozenset({"contacts"}),
                        drop_writes=frozenset({("contacts", "1", "companies", "2")}))
    async with FakeHubSpot(config) as fake:
        denied = await send(session, fake, "POST", "/crm/v4/associations/companies/contacts/batch/create",
                            inputs({"from": {"id": "2"}, "to": {"id": "1"}, "types": [spec(280)]}))
        assert_error(denied, 403, "MISSING_SCOPES", "required scopes")
        both = await send(session, fake, "POST", V4_BATCH, inputs(
            {"from": {"id": 1}, "to": {"id": "2"}, "types": [spec(1), spec(279)]},  # integer IDs accepted
            {"from": {"id": "x1"}, "to": {"id": "3"}, "types": [spec()]}))  # non-numeric IDs never exist
        assert both.status == 207
        data = both.json()
        assert data["results"] == [{"fromObjectTypeId": "0-1", "fromObjectId": "1", "toObjectTypeId": "0-2",
                                    "toObjectId": "2", "labels": ["Primary"]}]
        assert data["errors"][0]["context"]["objectId"] == ["x1"]
        assert fake.associations() == set()  # dropped: answered, not stored
        assert fake.stats.put_counts[("contacts", "1", "companies", "2", "1")] == 1


async def test_date_versioned_batch_create(session: aiohttp.ClientSession) -> None:
    config = FakeConfig(rate=None, known_ids={"contacts": frozenset({"1000", "1001"}),
                                              "companies": frozenset({"5000", "5001"})})
    async with FakeHubSpot(config) as fake:
        batch = rows(3)  # the third row's IDs are unknown
        for version, status in (("2026-03", 207), ("2026-09", 200), ("2027-03", 200)):
            method, path, body = batch_request("contacts", "companies", batch, api=version)
            answer = await send(session, fake, method, path, body)
            assert answer.status == status, version
            assert answer.json()["numErrors"] == 1
            verdict = settle_batch(answer.status, answer.body, answer.headers, batch)
            assert [o.kind for _, o in verdict.per_row] == [Kind.SUCCESS, Kind.SUCCESS, Kind.PERMANENT]
        clean = await send(session, fake, *batch_request("contacts", "companies", batch[:2], api="2026-09"))
        assert clean.status == 200 and "errors" not in clean.json()
        for version in ("2025-09", "2026-13", "v4"):
            missing = await send(session, fake, "POST", f"/crm/associations/{version}/contacts/companies/batch/create",
                                 inputs())
            assert_error(missing, 404, "OBJECT_NOT_FOUND", "Unknown API version")
        assert fake.stats.batch_requests == 4


async def test_empty_inputs_is_an_empty_success(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        answer = await send(session, fake, "POST", V4_BATCH, inputs())
        assert answer.status == 201 and answer.json()["results"] == []


async def test_faults_store_nothing(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None, lock_rate=1.0)) as fake:
        answer = await send(session, fake, *batch_request("contacts", "companies", rows(5)))
        assert answer.status == 423
        assert settle_batch(answer.status, answer.body, answer.headers, rows(5)).whole is not None
        assert fake.associations() == set() and fake.stats.batch_requests == 0


async def test_stats_endpoint_reports_batch_counters(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        await send(session, fake, *batch_request("contacts", "companies", rows(4)))
        async with session.get(fake.url + "/__fake__/stats") as r:
            stats = await r.json()
        assert (stats["requests"], stats["batch_requests"], stats["batch_inputs"]) == (1, 1, 4)
        assert "batch_requests" not in FakeStats().as_json(window=10.0, detail=False)  # v3-only runs: as before
        assert stats["associations_stored"] == 4


# ------------------------------------------------------------------------------------------ labelled PUT


@pytest.mark.parametrize("api", ["v4", "2026-03", "2026-09"])
async def test_labelled_put_201(session: aiohttp.ClientSession, api: str) -> None:
    row = Row("contacts", "38374264688", "companies", "21678228008", "1", 2)
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        method, path, body = single_request(api, row)
        answer = await send(session, fake, method, path, body)
        assert answer.status == 201
        assert answer.json() == {"fromObjectTypeId": "0-1", "fromObjectId": "38374264688", "toObjectTypeId": "0-2",
                                 "toObjectId": "21678228008", "labels": ["Primary"]}
        assert classify_response(answer.status, answer.body, answer.headers).kind is Kind.SUCCESS
        assert fake.associations() == {("contacts", "38374264688", "companies", "21678228008", "1")}
        assert (fake.stats.puts, fake.stats.associations_stored, fake.stats.batch_requests) == (1, 1, 0)


async def test_labelled_put_with_several_specs_and_custom_types(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        answer = await send(session, fake, "PUT", "/crm/v4/objects/p_widgets/7/associations/deals/8",
                            orjson.dumps([spec(12, "USER_DEFINED"), spec(13, "USER_DEFINED")]))
        assert answer.status == 201
        assert answer.json() == {"fromObjectTypeId": "p_widgets", "fromObjectId": "7", "toObjectTypeId": "0-3",
                                 "toObjectId": "8", "labels": []}
        assert fake.associations() == {("p_widgets", "7", "deals", "8", "12"), ("p_widgets", "7", "deals", "8", "13")}


@pytest.mark.parametrize(("payload", "category", "fragment"), [
    (None, "VALIDATION_ERROR", "Invalid JSON input: a request body was expected, but none found"),
    (b"[{", "VALIDATION_ERROR", "Invalid input JSON on line 1"),
    (b'"279"', None, "Cannot deserialize value of type `java.util.HashSet<"),
    (b'{"associationTypeId": 1}', None, "Cannot deserialize"),
    (b"[{}]", "VALIDATION_ERROR", "Some required fields were not set: [associationCategory, associationTypeId]"),
    (b"[]", "VALIDATION_ERROR", "at least one"),
    (b'[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1.5}]', "VALIDATION_ERROR", "int32"),
    (b'[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 2147483648}]', "VALIDATION_ERROR", "int32"),
])
async def test_labelled_put_bad_bodies(session: aiohttp.ClientSession, payload: bytes | None, category: str | None,
                                       fragment: str) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        answer = await send(session, fake, "PUT", "/crm/v4/objects/contacts/1/associations/companies/2", payload)
        assert_error(answer, 400, category, fragment)
        assert classify_response(answer.status, answer.body, answer.headers).kind is Kind.PERMANENT
        assert fake.associations() == set()


async def test_labelled_put_unknown_ids_and_types(session: aiohttp.ClientSession) -> None:
    config = FakeConfig(rate=None, known_ids={"contacts": frozenset({"1"}), "companies": frozenset({"2"})},
                        association_types={("contacts", "companies"): frozenset({"279"})},
                        scopes=frozenset({"contacts"}))
    async with FakeHubSpot(config) as fake:
        body = orjson.dumps([spec()])
        unknown = await send(session, fake, "PUT", "/crm/v4/objects/contacts/9/associations/companies/2", body)
        data = assert_error(unknown, 400, "VALIDATION_ERROR", "One or more associations are invalid")
        assert data["context"] == {"INVALID_OBJECT_IDS": ["CONTACT=9 is not valid"], "objectId": ["9"],
                                   "objectType": ["CONTACT"]}
        wrong_type = await send(session, fake, "PUT", "/crm/objects/2026-09/contacts/1/associations/companies/2",
                                orjson.dumps([spec(1)]))
        assert assert_error(wrong_type, 400, "VALIDATION_ERROR", "invalid")["context"]["objectId"] == ["2"]
        denied = await send(session, fake, "PUT", "/crm/v4/objects/companies/2/associations/contacts/1", body)
        assert_error(denied, 403, "MISSING_SCOPES", "scopes")
        old = await send(session, fake, "PUT", "/crm/objects/2025-09/contacts/1/associations/companies/2", body)
        assert_error(old, 404, "OBJECT_NOT_FOUND", "Unknown API version")
        assert fake.associations() == set()
        ok = await send(session, fake, "PUT", "/crm/objects/2026-09/contacts/1/associations/companies/2", body)
        assert ok.status == 201
        assert fake.associations() == {("contacts", "1", "companies", "2", "279")}


async def test_v3_and_v4_defaults_are_unaffected(session: aiohttp.ClientSession) -> None:
    """The new routes do not shadow the seed v3 PUT."""
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        answer = await send(session, fake, *single_request("v3", rows(1)[0]))
        assert answer.status == 200 and answer.json()["id"] == "1000"
