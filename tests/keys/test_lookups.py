"""The lookup's parts at the HTTP boundary: the fake's objects batch read (as HUBSPOT_API_2 §1 describes it),
and the resolver matching answers by value (the fake answers out of order), misses by category."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import orjson
import pytest

from bulkassoc.fake.server import FakeHubSpot
from bulkassoc.hubspot.caller import Caller, CallerConfig
from bulkassoc.hubspot.halt import Halt
from bulkassoc.keys.ids import IdResolver, Miss
from bulkassoc.keys.vet import KeyVet
from bulkassoc.rows.types import Row
from tests._support import TOKEN, Reply, ScriptedServer

from ._portal import FAST, contact_id, email, legacy, portal, service_id

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _read(fake: FakeHubSpot, object_type: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{fake.url}/crm/v3/objects/{object_type}/batch/read", json=body, headers=AUTH) as r:
        return r.status, orjson.loads(await r.read())


async def test_fake_batch_read_by_unique_property() -> None:
    async with FakeHubSpot(portal(10)) as fake:
        status, body = await _read(fake, "contacts", {"idProperty": "email", "properties": ["email"],
                                                      "inputs": [{"id": "USER3@Example.com"}, {"id": email(4)}]})
        assert status == 200 and body["status"] == "COMPLETE"
        results = body["results"]
        assert isinstance(results, list)
        assert [(r["id"], r["properties"]["email"]) for r in results] == [
            (contact_id(4), email(4)), (contact_id(3), email(3))]  # not in input order; e-mail lower-cased
        status, body = await _read(fake, "partner_services", {"idProperty": "legacy_id", "properties": ["legacy_id"],
                                                              "inputs": [{"id": legacy(1)}, {"id": "LEG-none"}]})
        assert status == 207 and body["numErrors"] == 1
        assert body["errors"] == [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": (
            "Could not get some PARTNER_SERVICE objects, they may be deleted or not exist. Check that ids are valid."),
            "context": {"ids": ["LEG-none"]}}]
        status, body = await _read(fake, "contacts", {"idProperty": "email", "properties": [],
                                                      "inputs": [{"id": f"x{i}@y.z"} for i in range(101)]})
        assert status == 400 and body["category"] == "VALIDATION_ERROR"
        status, body = await _read(fake, "contacts", {"idProperty": "nickname", "inputs": [{"id": "a"}]})
        assert status == 400 and "nickname" in str(body["message"])
        status, body = await _read(fake, "contactz", {"idProperty": "email", "inputs": [{"id": "a"}]})
        assert status == 400 and "contactz" in str(body["message"])


@pytest.mark.parametrize("n", [1, 100, 101, 250])
async def test_resolver_matches_by_value_in_calls_of_a_hundred(n: int) -> None:
    async with FakeHubSpot(portal(300)) as fake:
        config = CallerConfig(base_url=fake.url, token=TOKEN, token_env="T", rate=None, concurrency=4, timeout=5,
                              retry=FAST, daily_reserve=None, user_agent="t")
        async with Caller(config, Halt(), rand=random.random) as caller:
            resolver = IdResolver(caller, None)
            wanted = {("contacts", "email", email(i)) for i in range(n)} | {("contacts", "email", "no@x.y")}
            got = await resolver.resolve(wanted)
            assert caller.count("lookup").requests == -(-(n + 1) // 100)
            assert all(got[("contacts", "email", email(i))] == contact_id(i) for i in range(n))
            miss = got[("contacts", "email", "no@x.y")]
            assert isinstance(miss, Miss) and "no@x.y" in miss.message
            again = await resolver.resolve({("contacts", "email", email(0))})
            assert again[("contacts", "email", email(0))] == contact_id(0)
            assert caller.count("lookup").requests == -(-(n + 1) // 100)  # known: no new call
            bad = await resolver.resolve({("partner_services", "colour", "red"), ("partner_services", "legacy_id",
                                                                                    legacy(2))})
            assert bad[("partner_services", "legacy_id", legacy(2))] == service_id(2)
            failure = bad[("partner_services", "colour", "red")]
            assert isinstance(failure, Miss) and "failed" in failure.message and "colour" in failure.message


@pytest.mark.parametrize(("reply", "expected"), [
    # every value missed: some portals answer 404, the category says it is a miss
    (Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "nope"}), "no contacts record"),
    # a 404 that is not a miss (a wrong object type, say): the lookup failed
    (Reply(404, {"status": "error", "category": "NOT_FOUND", "message": "Unknown object type"}), "failed"),
    # the misses listed with their values, results out of order, e-mail lower-cased
    (Reply(207, {"status": "COMPLETE", "numErrors": 1, "results": [
        {"id": "22", "properties": {"email": "b@x.io"}}, {"id": "11", "properties": {"email": "a@x.io"}}],
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ["no@x.io"]}}]}),
     "no contacts record"),
])
async def test_resolver_reads_misses_from_the_category(reply: Reply, expected: str) -> None:
    async with ScriptedServer(lambda n, req: reply) as server:
        config = CallerConfig(base_url=server.url, token=TOKEN, token_env="T", rate=None, concurrency=2, timeout=5,
                              retry=FAST, daily_reserve=None, user_agent="t")
        async with Caller(config, Halt(), rand=random.random) as caller:
            got = await IdResolver(caller, None).resolve(
                {("contacts", "email", "a@x.io"), ("contacts", "email", "b@x.io"), ("contacts", "email", "no@x.io")})
        sent = orjson.loads(server.seen[0].body)
    assert sent["idProperty"] == "email" and sent["properties"] == ["email"] and sent["propertiesWithHistory"] == []
    assert sorted(i["id"] for i in sent["inputs"]) == ["a@x.io", "b@x.io", "no@x.io"]
    miss = got[("contacts", "email", "no@x.io")]
    assert isinstance(miss, Miss) and expected in miss.message
    if reply.status == 207:
        assert (got[("contacts", "email", "a@x.io")], got[("contacts", "email", "b@x.io")]) == ("11", "22")


@pytest.mark.parametrize(("answers", "stop_after"), [
    ([(False, 404, "OBJECT_NOT_FOUND")] * 60, 50),  # the same failure: stop at the 50th
    ([(True, 200, "")] + [(False, 404, "OBJECT_NOT_FOUND")] * 60, None),  # a success first: never
    ([(False, 404, "OBJECT_NOT_FOUND")] * 10 + [(False, 400, "VALIDATION_ERROR")] * 60, None),  # two kinds
])
def test_mass_failure_watch(answers: list[tuple[bool, int, str]], stop_after: int | None) -> None:
    from bulkassoc.engine.mass_failure import MassFailureWatch
    from bulkassoc.hubspot.outcomes import Kind, Outcome

    watch = MassFailureWatch(50)
    stops = [n for n, (ok, status, category) in enumerate(answers, 1)
             if watch.observe("deals", "contacts", ok, Outcome(Kind.SUCCESS if ok else Kind.PERMANENT, status,
                                                                  category, "m")) is not None]
    assert stops == ([] if stop_after is None else [stop_after])
    assert watch.observe("tickets", "contacts", False, Outcome(Kind.PERMANENT, 404, "OBJECT_NOT_FOUND")) is None


async def test_overlapping_vets_each_return_their_own_rows() -> None:
    """verify's workers vet their chunks side by side: a call whose lookups are under way must not take the
    rows of a call that began meanwhile (two chunks of 1,000 fromIds became one read of 2,000, refused)."""
    async with FakeHubSpot(portal(200, latency_ms=20.0)) as fake:
        config = CallerConfig(base_url=fake.url, token=TOKEN, token_env="T", rate=None, concurrency=4, timeout=5,
                              retry=FAST, daily_reserve=None, user_agent="t")
        async with Caller(config, Halt(), rand=random.random) as caller:
            vet = KeyVet(caller, None, check_types=False, names_raw_ok=True, hold=False)
            keyed = [Row("partner_services", f"legacy_id={legacy(i)}", "contacts", f"email={email(i)}", "9101", i + 2)
                     for i in range(200)]
            plain = [Row("partner_services", service_id(i), "contacts", contact_id(i), "9101", i + 2)
                     for i in range(600)]  # more than a turn of the loop's rows
            first = asyncio.ensure_future(vet.vet(keyed))
            await asyncio.sleep(0.005)  # its lookups are on the wire
            a, b = await asyncio.gather(first, vet.vet(plain))
    assert sorted(r.key for r in a.ready) == sorted(r.key for r in keyed)
    assert [r.key for r in b.ready] == [r.key for r in plain]
