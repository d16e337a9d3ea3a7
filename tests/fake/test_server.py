"""The fake HubSpot's own behaviour, through a real aiohttp client on 127.0.0.1.

Window tests drive an injected clock, so nothing here sleeps for the window's sake.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from typing import Any

import aiohttp
import pytest

from bulkassoc import Rate
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.fake.state import FakeStats

from .._support import Answer, Clock

TOKEN = "fake-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATH = "/crm/v3/objects/{}/{}/associations/{}/{}/{}"
PS_TO_CONTACT = PATH.format("partner_services", "{}", "contacts", "{}", "{}")


async def call(session: aiohttp.ClientSession, fake: FakeHubSpot, path: str, method: str = "PUT",
               headers: dict[str, str] | None = None) -> Answer:
    async with session.request(method, fake.url + path, headers=AUTH if headers is None else headers) as r:
        return Answer(r.status, r.headers, await r.read())


async def put(session: aiohttp.ClientSession, fake: FakeHubSpot, from_id: str = "11", to_id: str = "22",
              assoc_type: str = "1", headers: dict[str, str] | None = None) -> Answer:
    return await call(session, fake, PS_TO_CONTACT.format(from_id, to_id, assoc_type), headers=headers)


def assert_error_body(answer: Answer, status: int, category: str) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    assert answer.status == status
    assert (body["status"], body["category"]) == ("error", category)
    assert body["message"]
    uuid.UUID(body["correlationId"])
    assert answer.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    return body


# -- success, store, read-back --------------------------------------------------------------------


async def test_put_answers_the_object_and_a_re_put_stores_once(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        first = await put(session, fake, "21678228008", "38374264688", "279")
        again = await put(session, fake, "21678228008", "38374264688", "279")
        assert (first.status, again.status) == (200, 200)
        assert first.headers["Content-Type"] == "application/json;charset=utf-8"
        body = first.json()
        assert (body["id"], body["archived"]) == ("21678228008", False)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["updatedAt"])
        assert body["associations"] == {"contacts": {"results": [{"id": "38374264688", "type": "279"}]}}
        key = ("partner_services", "21678228008", "contacts", "38374264688", "279")
        assert fake.associations() == {key}
        assert (fake.stats.puts, fake.stats.associations_stored, fake.stats.put_counts[key]) == (2, 1, 2)


async def test_object_type_spellings_are_one_type(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        await call(session, fake, "/crm/v3/objects/0-1/5/associations/company/6/279")
        await call(session, fake, "/crm/v3/objects/Contacts/5/associations/companies/6/279")
        assert fake.associations() == {("contacts", "5", "companies", "6", "279")}


async def test_read_back_is_paged_in_insertion_order(session: aiohttp.ClientSession) -> None:
    config = FakeConfig(rate=None, drop_writes=frozenset({("partner_services", "1", "contacts", "99")}))
    async with FakeHubSpot(config) as fake:
        for to_id in ("50", "40", "30", "20", "10", "99"):
            await put(session, fake, "1", to_id)
        await put(session, fake, "1", "50", "2")  # a second type to the same contact is its own entry
        await call(session, fake, "/crm/v3/objects/partner_services/1/associations/companies/7/3")
        seen: list[dict[str, str]] = []
        path = "/crm/v3/objects/partner_services/1/associations/contacts?limit=2"
        pages = 0
        while True:
            page = (await call(session, fake, path, "GET")).json()
            pages += 1
            seen += page["results"]
            if "paging" not in page:
                break
            path = f"{path.split('&')[0]}&after={page['paging']['next']['after']}"
        assert pages == 3
        expected = [{"id": i, "type": "1"} for i in ("50", "40", "30", "20", "10")]
        assert seen == [*expected, {"id": "50", "type": "2"}]


async def test_read_back_errors(session: aiohttp.ClientSession) -> None:
    config = FakeConfig(rate=None, known_ids={"partner_services": frozenset({"1"})})
    async with FakeHubSpot(config) as fake:
        base = "/crm/v3/objects/partner_services/{}/associations/contacts"
        assert_error_body(await call(session, fake, base.format("2"), "GET"), 404, "OBJECT_NOT_FOUND")
        bad_limit = await call(session, fake, base.format("1") + "?limit=x", "GET")
        assert_error_body(bad_limit, 400, "VALIDATION_ERROR")
        assert (await call(session, fake, base.format("1"), "GET")).json() == {"results": []}


async def test_account_info_and_labels(session: aiohttp.ClientSession) -> None:
    seeded = {("partner_services", "contacts"): frozenset({"9101", "partner_to_contact"})}
    async with FakeHubSpot(FakeConfig(rate=Rate(10, 10.0), portal_id=777)) as fake:
        info = await call(session, fake, "/account-info/v3/details", "GET")
        assert info.json()["portalId"] == 777
        assert info.json()["timeZone"] == "US/Eastern"
        assert info.headers["X-HubSpot-RateLimit-Remaining"] == "9"  # counted in the window
        labels = (await call(session, fake, "/crm/v4/associations/contacts/companies/labels", "GET")).json()
        assert labels == {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
                                      {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]}
        unauthorized = await call(session, fake, "/account-info/v3/details", "GET", headers={})
        assert_error_body(unauthorized, 401, "INVALID_AUTHENTICATION")
    async with FakeHubSpot(FakeConfig(association_types=seeded)) as fake:
        path = "/crm/v4/associations/{}/{}/labels"
        labels = (await call(session, fake, path.format("partner_services", "contacts"), "GET")).json()
        assert labels == {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 9101, "label": None}]}
        empty = (await call(session, fake, path.format("contacts", "partner_services"), "GET")).json()
        assert empty == {"results": []}


# -- auth, scopes, unknown records and types ------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
async def test_bad_token_is_401_and_not_counted(session: aiohttp.ClientSession,
                                                headers: dict[str, str]) -> None:
    async with FakeHubSpot(FakeConfig(rate=Rate(5, 10.0))) as fake:
        answer = await put(session, fake, headers=headers)
        body = assert_error_body(answer, 401, "INVALID_AUTHENTICATION")
        assert "Authentication credentials not found" in body["message"]
        assert answer.headers["x-hubspot-auth-failure"] == "401 Unauthorized"
        assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "5"
        assert fake.associations() == set()
        assert fake.stats.requests == 1


async def test_missing_scope_is_403_naming_the_write_scope(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None, scopes=frozenset({"contacts", "partner_clients"}))) as fake:
        body = assert_error_body(await put(session, fake), 403, "MISSING_SCOPES")
        scope = "crm.objects.partner-services.write"
        assert body["errors"][0]["context"] == {"requiredGranularScopes": [scope]}
        allowed = await call(session, fake, "/crm/v3/objects/0-1/1/associations/companies/2/279")
        assert allowed.status == 200


async def test_unknown_ids_are_404_and_unknown_types_400(session: aiohttp.ClientSession) -> None:
    known = {"partner_services": frozenset({"1"}), "contacts": frozenset({"2"})}
    config = FakeConfig(rate=None, known_ids=known,
                        association_types={("partner_services", "contacts"): frozenset({"9101"}),
                                           ("contacts", "partner_services"): frozenset({"9102"})})
    async with FakeHubSpot(config) as fake:
        assert (await put(session, fake, "1", "2", "9101")).status == 200
        body = assert_error_body(await put(session, fake, "3", "2", "9101"), 404, "OBJECT_NOT_FOUND")
        assert body["context"] == {"objectId": ["3"], "objectType": ["PARTNER_SERVICE"]}
        body = assert_error_body(await put(session, fake, "1", "4", "9101"), 404, "OBJECT_NOT_FOUND")
        assert body["context"]["objectType"] == ["CONTACT"]
        body = assert_error_body(await put(session, fake, "1", "2", "9102"), 400, "VALIDATION_ERROR")
        assert body["message"] == "One or more associations are invalid"
        assert body["context"] == {"INVALID_OBJECT_IDS": ["CONTACT=2 is not valid"], "objectId": ["2"],
                                   "objectType": ["CONTACT"]}
        assert fake.associations() == {("partner_services", "1", "contacts", "2", "9101")}
        assert fake.stats.errors == Counter({404: 2, 400: 1})


async def test_non_numeric_ids_never_exist(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None)) as fake:
        assert_error_body(await put(session, fake, "abc", "22"), 404, "OBJECT_NOT_FOUND")


# -- rate limits ----------------------------------------------------------------------------------


async def test_rolling_window_on_a_fake_clock(session: aiohttp.ClientSession) -> None:
    clock = Clock()
    async with FakeHubSpot(FakeConfig(rate=Rate(3, 10.0)), clock=clock) as fake:
        remaining = []
        for i in range(3):
            clock.now = 1000.0 + i
            answer = await put(session, fake, "1", str(i))
            assert answer.headers["X-HubSpot-RateLimit-Max"] == "3"
            assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            remaining.append(answer.headers["X-HubSpot-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        clock.now = 1009.99
        throttled = await put(session, fake, "1", "9")
        assert throttled.status == 429
        assert "Retry-After" not in throttled.headers
        assert throttled.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        body = throttled.json()
        assert "category" not in body
        assert (body["status"], body["errorType"]) == ("error", "RATE_LIMIT")
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert body["groupName"].endswith(":12345678")
        uuid.UUID(body["correlationId"])
        clock.now = 1010.0  # the request at 1000.0 has left the window (t - 10, t]
        freed = await put(session, fake, "1", "9")
        assert (freed.status, freed.headers["X-HubSpot-RateLimit-Remaining"]) == (200, "0")
        assert fake.stats.throttled == 1
        assert fake.stats.errors[429] == 1
        assert fake.stats.max_in_window(10.0) == 4  # the 429'd request arrived too
        assert len(fake.associations()) == 4


async def test_count_rejected_keeps_the_window_full(session: aiohttp.ClientSession) -> None:
    for count_rejected, expected in ((False, 200), (True, 429)):
        clock = Clock()
        config = FakeConfig(rate=Rate(1, 10.0), count_rejected=count_rejected)
        async with FakeHubSpot(config, clock=clock) as fake:
            assert (await put(session, fake)).status == 200
            clock.now += 5
            assert (await put(session, fake)).status == 429
            clock.now += 5  # the first request has left; the rejected one is in it only if counted
            assert (await put(session, fake)).status == expected


async def test_retry_after_says_when_a_slot_frees(session: aiohttp.ClientSession) -> None:
    clock = Clock()
    async with FakeHubSpot(FakeConfig(rate=Rate(2, 10.0), retry_after=True), clock=clock) as fake:
        await put(session, fake)
        clock.now += 2.5
        await put(session, fake)
        clock.now += 0.5
        assert (await put(session, fake)).headers["Retry-After"] == "7"


async def test_daily_budget(session: aiohttp.ClientSession) -> None:
    clock = Clock()
    async with FakeHubSpot(FakeConfig(rate=None, daily=2, retry_after=True), clock=clock) as fake:
        answers = [await put(session, fake, "1", str(i)) for i in range(3)]
        assert [a.status for a in answers] == [200, 200, 429]
        assert [a.headers["X-HubSpot-RateLimit-Daily-Remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[0].headers["X-HubSpot-RateLimit-Daily"] == "2"
        assert "X-HubSpot-RateLimit-Max" not in answers[0].headers  # no window when the rate is off
        body = answers[2].json()
        assert (body["policyName"], body["errorType"]) == ("DAILY", "RATE_LIMIT")
        assert body["message"] == "You have reached your daily limit."
        uuid.UUID(body["requestId"])
        assert answers[2].headers["Retry-After"] == "86400"
        assert fake.stats.daily_throttled == 1
        assert fake.stats.throttled == 0
        clock.now += 86_400  # a new day
        assert (await put(session, fake, "1", "9")).status == 200


async def test_daily_limit_wins_over_the_window(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=Rate(1, 10.0), daily=1)) as fake:
        await put(session, fake)
        assert (await put(session, fake)).json()["policyName"] == "DAILY"


async def test_rate_headers_can_be_switched_off(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate_headers=False, daily=10)) as fake:
        answer = await put(session, fake)
        assert answer.status == 200
        assert not [h for h in answer.headers if h.lower().startswith("x-hubspot-ratelimit")]
        assert "X-HubSpot-Correlation-Id" in answer.headers


# -- faults -----------------------------------------------------------------------------------------


async def outcomes(config: FakeConfig, n: int) -> tuple[list[str], FakeStats]:
    """What a client sees for n sequential PUTs (aiohttp itself retries a PUT once on a disconnect)."""
    seen = []
    async with FakeHubSpot(config) as fake, aiohttp.ClientSession() as session:
        for i in range(n):
            try:
                seen.append(str((await put(session, fake, "1", str(i))).status))
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                seen.append("dropped")
        return seen, fake.stats


async def test_faults_are_deterministic_for_a_seed() -> None:
    config = FakeConfig(rate=None, fail_rate=0.5, lock_rate=0.2, seed=7)
    first, stats = await outcomes(config, 120)
    second, _ = await outcomes(config, 120)
    assert first == second
    assert {"200", "423", "502", "503", "504", "dropped"} <= set(first)
    assert stats.dropped >= first.count("dropped") * 2  # each visible drop was a retried drop
    assert all(stats.errors[int(s)] == first.count(s) for s in ("423", "502", "503", "504"))  # never retried
    other, _ = await outcomes(FakeConfig(rate=None, fail_rate=0.5, lock_rate=0.2, seed=8), 120)
    assert other != first


async def test_fault_bodies(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=None, lock_rate=1.0)) as fake:
        assert_error_body(await put(session, fake), 423, "LOCKED")
        assert fake.associations() == set()
    async with FakeHubSpot(FakeConfig(rate=None, fail_rate=1.0, seed=3)) as fake:
        categories = {"502": "BAD_GATEWAY", "503": "SERVICE_UNAVAILABLE", "504": "GATEWAY_TIMEOUT"}
        seen = set()
        for i in range(20):
            try:
                answer = await put(session, fake, "1", str(i))
            except aiohttp.ServerDisconnectedError:
                continue
            assert_error_body(answer, answer.status, categories[str(answer.status)])
            seen.add(answer.status)
        assert seen == {502, 503, 504}
        assert fake.associations() == set()


async def test_a_dropped_connection_gets_no_response_bytes() -> None:
    # A raw connection, because aiohttp's client would silently retry the PUT once.
    async with FakeHubSpot(FakeConfig(rate=None, fail_rate=1.0, seed=1)) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        replies = []
        for i in range(12):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"PUT {PS_TO_CONTACT.format(1, i, 1)} HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode())
            replies.append(await reader.read(12))
            writer.close()
            await writer.wait_closed()
        assert b"" in replies
        assert set(replies) <= {b"", b"HTTP/1.1 502", b"HTTP/1.1 503", b"HTTP/1.1 504"}
        assert fake.stats.dropped == replies.count(b"")


async def test_latency_is_added(session: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    async with FakeHubSpot(FakeConfig(rate=None, latency_ms=40)) as fake:
        started = loop.time()
        await put(session, fake)
        assert loop.time() - started >= 0.02  # at least half the mean


# -- stats ----------------------------------------------------------------------------------------------


def test_max_in_window_uses_half_open_windows() -> None:
    assert FakeStats(arrivals=[0.0, 1.0, 2.0, 10.0, 10.5]).max_in_window(10.0) == 4
    assert FakeStats(arrivals=[0.0, 10.0, 20.0]).max_in_window(10.0) == 1
    assert FakeStats().max_in_window(10.0) == 0


async def test_stats_endpoint_is_open_and_uncounted(session: aiohttp.ClientSession) -> None:
    async with FakeHubSpot(FakeConfig(rate=Rate(2, 10.0))) as fake:
        await put(session, fake)
        await put(session, fake)
        await put(session, fake)  # 429
        stats = (await call(session, fake, "/__fake__/stats", "GET", headers={})).json()
        detailed = (await call(session, fake, "/__fake__/stats?detail=1&window=5", "GET", headers={})).json()
        assert stats == {"requests": 3, "puts": 3, "associations_stored": 1, "throttled": 1,
                         "daily_throttled": 0, "errors": {"429": 1}, "dropped": 0,
                         "pairs_put_more_than_once": 1, "max_puts_per_pair": 2,
                         "window_s": 10.0, "max_requests_in_window": 3}
        assert detailed["window_s"] == 5.0
        assert detailed["put_counts"] == [{"fromType": "partner_services", "fromId": "11",
                                           "toType": "contacts", "toId": "22", "type": "1", "count": 2}]
        assert fake.stats.requests == 3


async def test_start_twice_is_refused_and_stop_is_idempotent() -> None:
    fake = FakeHubSpot()
    url = await fake.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert fake.url == url
    with pytest.raises(RuntimeError):
        await fake.start()
    await fake.stop()
    await fake.stop()


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        FakeConfig(fail_rate=1.5)
    with pytest.raises(ValueError, match="exceed"):
        FakeConfig(fail_rate=0.6, lock_rate=0.6)
    with pytest.raises(ValueError, match="daily"):
        FakeConfig(daily=0)
