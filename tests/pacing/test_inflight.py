"""The in-flight gate (issue 13): a fixed cap, or pace × latency × HEADROOM + SPARE between 2 and 64."""

from __future__ import annotations

import asyncio
import math

import pytest

from bulkassoc.pacing.inflight import AUTO_CAP, AUTO_MIN, AUTO_START, HEADROOM, SPARE, InFlight, workers_for


@pytest.mark.parametrize(("pace", "latency", "expected"), [
    (19.0, 0.1, math.ceil(19 * 0.1 * HEADROOM + SPARE)),  # 190/10s at 100 ms
    (19.0, 1.0, math.ceil(19 * 1.0 * HEADROOM + SPARE)),  # at 1 s
    (19.0, 2.5, AUTO_CAP),  # 47.5 needed: the cap
    (0.1, 0.1, max(AUTO_MIN, SPARE + 1)),  # a slow pace at a short latency: the spare slots
    (1_000_000.0, 0.001, AUTO_CAP),  # rate off
])
def test_auto_limit_follows_pace_times_latency(pace: float, latency: float, expected: int) -> None:
    gate = InFlight(None, lambda: pace)
    assert gate.limit == AUTO_START
    for _ in range(200):  # the smoothed latency converges on a steady one
        gate.observe(latency)
    assert gate.limit == expected


def test_a_fixed_cap_never_moves() -> None:
    gate = InFlight(8, lambda: 19.0)
    for latency in (0.01, 2.5, 30.0):
        gate.observe(latency)
        assert gate.limit == 8
    assert workers_for(8) == AUTO_CAP and workers_for(100) == 100 and workers_for(None) == AUTO_CAP


async def test_waiters_are_served_in_order_and_a_cancelled_one_leaks_no_slot() -> None:
    gate = InFlight(2, lambda: 1.0)
    await gate.acquire()
    await gate.acquire()
    order: list[int] = []

    async def take(n: int) -> None:
        await gate.acquire()
        order.append(n)

    tasks = [asyncio.ensure_future(take(n)) for n in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    gate.release()
    gate.release()
    await asyncio.wait_for(asyncio.gather(tasks[0], tasks[2]), 1.0)
    assert order == [0, 2] and gate.active == 2 and gate.peak == 2
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    gate.release()
    gate.release()
    assert gate.active == 0


async def test_a_rising_latency_opens_the_gate_for_waiters() -> None:
    gate = InFlight(None, lambda: 19.0)
    for _ in range(AUTO_START):
        await gate.acquire()
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.observe(2.5)  # one slow answer: the limit grows and the waiter gets its slot at once
    await asyncio.wait_for(waiter, 1.0)
    assert gate.active == AUTO_START + 1
