"""The paced caller against a scripted server on 127.0.0.1: what each kind of answer does to one call."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable

import orjson
import pytest
from aiohttp import web

from bulkassoc import Rate, RetryPolicy
from bulkassoc.hubspot.caller import Answer, Caller, CallerConfig, pass_through
from bulkassoc.hubspot.client import Response
from bulkassoc.hubspot.halt import Halt, Halted
from bulkassoc.hubspot.outcomes import Kind, Outcome

from .._support import TOKEN, Reply, ScriptedServer, wait_for_requests

QUICK = RetryPolicy(max_attempts=3, backoff_base=0.0, backoff_cap=0.0, max_throttles=3)


def caller_for(url: str, *, retry: RetryPolicy = QUICK, reserve: int | None = None) -> Caller:
    config = CallerConfig(base_url=url, token=TOKEN, token_env="HUBSPOT_ACCESS_TOKEN", rate=Rate(1000, 1.0),
                          concurrency=4, timeout=5.0, retry=retry, daily_reserve=reserve, user_agent="test")
    return Caller(config, Halt(), rand=lambda: 0.0)


def answers(*replies: Reply) -> Callable[[int, web.Request], Reply]:
    def script(n: int, request: web.Request) -> Reply:
        return replies[min(n, len(replies) - 1)]

    return script


async def one_call(script: Callable[[int, web.Request], Reply], **kw: object) -> tuple[Answer[Response | None],
                                                                                        Caller, int]:
    async with ScriptedServer(script) as server:
        async with caller_for(server.url, **kw) as caller:  # type: ignore[arg-type]
            answer = await caller.call("PUT", "/x", None, judge=pass_through)
        return answer, caller, len(server.seen)


@pytest.mark.parametrize(("replies", "kind", "sent", "retries"), [
    ((Reply(200),), Kind.SUCCESS, 1, 0),
    ((Reply(404, {"message": "gone", "category": "OBJECT_NOT_FOUND"}),), Kind.PERMANENT, 1, 0),
    ((Reply(503), Reply(502), Reply(200)), Kind.SUCCESS, 3, 2),
    ((Reply(503),), Kind.RETRY, 3, 2),  # max_attempts
    ((Reply(423), Reply(201)), Kind.SUCCESS, 2, 1),
    ((Reply(429, {"policyName": "TEN_SECONDLY_ROLLING"}, headers={"Retry-After": "0"}),), Kind.THROTTLED, 3, 2),
], ids=["ok", "permanent", "retried-then-ok", "retries-run-out", "locked", "throttles-run-out"])
async def test_what_an_answer_does_to_a_call(replies: tuple[Reply, ...], kind: Kind, sent: int, retries: int) -> None:
    answer, caller, seen = await one_call(answers(*replies))
    assert answer.outcome.kind is kind
    assert (answer.sent, seen) == (sent, sent)
    counts = caller.count("write")
    assert (counts.requests, counts.retries) == (sent, retries)
    assert (answer.payload is not None) == (kind in (Kind.SUCCESS, Kind.PERMANENT))
    assert caller.halt.reason is None


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply(401, {"category": "INVALID_AUTHENTICATION"}), "auth"),
    (Reply(403, {"category": "MISSING_SCOPES"}), "auth"),
    (Reply(429, {"policyName": "DAILY"}), "daily_limit"),
])
async def test_answers_that_stop_the_command(reply: Reply, reason: str) -> None:
    with pytest.raises(Halted):
        await one_call(answers(reply))


async def test_a_forbidden_read_may_be_optional() -> None:
    forbidden = answers(Reply(403, {"category": "MISSING_SCOPES"}))
    async with ScriptedServer(forbidden) as server, caller_for(server.url) as caller:
        answer = await caller.call("GET", "/x", None, judge=pass_through, forbidden_ok=True)
    assert (answer.outcome.status, answer.payload, caller.halt.reason) == (403, None, None)


async def test_the_halt_names_the_stop_and_the_scope() -> None:
    forbidden = answers(Reply(403, {"category": "MISSING_SCOPES"}))
    async with ScriptedServer(forbidden) as server, caller_for(server.url) as caller:
        with pytest.raises(Halted):
            await caller.call("PUT", "/x", None, judge=pass_through, scope="crm.objects.contacts.write")
    assert caller.halt.reason == "auth"
    assert "crm.objects.contacts.write" in caller.halt.message


async def test_the_judge_decides_what_an_answer_means() -> None:
    def judge(outcome: Outcome, response: Response | None) -> tuple[Outcome, bytes | None]:
        if response is not None and response.body == b'"half"':
            return Outcome(Kind.RETRY, response.status, "BAD_ANSWER"), None
        return outcome, None if response is None else response.body

    script = answers(Reply(200, "half"), Reply(200, "whole"))
    async with ScriptedServer(script) as server, caller_for(server.url) as caller:
        answer = await caller.call("POST", "/x", b"{}", judge=judge, purpose="read")
    assert (answer.payload, answer.sent) == (b'"whole"', 2)
    assert caller.count("read").retries == 1
    assert caller.count("write").requests == 0


async def test_the_token_is_masked_in_everything_that_came_back() -> None:
    def script(n: int, request: web.Request) -> Reply:
        auth = request.headers["Authorization"]
        return Reply(400, {"message": auth, "category": auth, "correlationId": auth, "echo": auth},
                     headers={"X-Echo": auth})

    answer, _, _ = await one_call(script)
    assert answer.payload is not None
    texts = [answer.outcome.message, answer.outcome.category, answer.outcome.correlation_id,
             answer.payload.body.decode(), *answer.payload.headers.values()]
    assert all(TOKEN not in text for text in texts), texts
    assert "Bearer [token]" in answer.outcome.message


async def test_nothing_listening_stops_as_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens there
    async with caller_for(f"http://127.0.0.1:{port}") as caller:
        with pytest.raises(Halted):
            await caller.call("PUT", "/x", None, judge=pass_through)
    assert caller.halt.reason == "unreachable"
    assert caller.count("write").requests == QUICK.max_attempts


async def test_a_halt_cuts_a_backoff_short() -> None:
    slow = RetryPolicy(max_attempts=5, backoff_base=60.0, backoff_cap=60.0)
    async with ScriptedServer(answers(Reply(503))) as server, caller_for(server.url, retry=slow) as caller:
        call = asyncio.ensure_future(caller.call("PUT", "/x", None, judge=pass_through))
        asyncio.get_running_loop()
        await wait_for_requests(server, 1)
        caller.halt.stop("interrupted", "stopped by SIGINT")
        with pytest.raises(Halted):
            await asyncio.wait_for(call, 1.0)
    assert len(server.seen) == 1


async def test_the_daily_reserve_is_kept() -> None:
    headers = {"X-HubSpot-RateLimit-Daily": "100", "X-HubSpot-RateLimit-Daily-Remaining": "5"}
    script = answers(Reply(200, headers=headers))
    async with ScriptedServer(script) as server, caller_for(server.url, reserve=5) as caller:
        await caller.call("PUT", "/x", None, judge=pass_through)  # learns: 5 left, 5 reserved
        with pytest.raises(Halted):
            await caller.call("PUT", "/x", None, judge=pass_through)
    assert caller.halt.reason == "daily_limit"
    assert len(server.seen) == 1


async def test_a_short_token_is_masked_without_breaking_the_answer() -> None:
    """A token that is also a common substring ("t") is masked inside JSON strings only: the answer still
    parses, and what came back carries no token."""
    def script(n: int, request: web.Request) -> Reply:
        return Reply(207, {"status": "COMPLETE", "results": [], "numErrors": 1,
                           "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Bearer t"}]})

    config = CallerConfig(base_url="", token="t", token_env="T", rate=None, concurrency=2, timeout=5.0,
                          retry=QUICK, daily_reserve=None, user_agent="test")
    async with ScriptedServer(script) as server:
        config = dataclasses.replace(config, base_url=server.url)
        async with Caller(config, Halt(), rand=lambda: 0.0) as caller:
            answer = await caller.call("POST", "/x", b"{}", judge=pass_through)
    assert answer.payload is not None
    data = orjson.loads(answer.payload.body)  # still JSON
    assert (data["numErrors"], data["status"]) == (1, "COMPLETE")
    assert data["errors"][0]["message"] == "Bearer [token]"
    assert data["errors"][0]["status"] == "error"
