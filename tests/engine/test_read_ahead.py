"""Reading ahead (engine/ahead.py): the reads before write of later chunks are under way while earlier chunks'
writes go, and no label is lost across chunk boundaries when reads overlap.

The fake HubSpot answers in 150–450 ms, association reads 600 ms later: at long latencies this is what
starved the writers when chunks were read one at a time. Everything is seen at the HTTP boundary (the
fake's record of each request's arrival and answer).
"""

from __future__ import annotations

from pathlib import Path

from bulkassoc import Rate, run_async
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.sync.before import READ_CHUNK_ROWS

from ..sync._setup import DEFAULT, LABEL, TOKEN, USER_LABELS, Key, config, write_rows

CHUNKS = 4
READ = "/crm/v4/associations/contacts/companies/batch/read"
DEALS_READ = "/crm/v4/associations/deals/companies/batch/read"
DEALS_WRITE = "/crm/v4/associations/deals/companies/batch/create"


def deal(from_id: int, to_id: int, assoc_type: str) -> Key:
    return ("deals", str(from_id), "companies", str(to_id), assoc_type)


def contact(from_id: int, to_id: int, assoc_type: str = DEFAULT) -> Key:
    return ("contacts", str(from_id), "companies", str(to_id), assoc_type)


def chunk_rows(k: int, batch: int) -> list[Key]:
    """One chunk of READ_CHUNK_ROWS rows: `batch` deals rows first (a full batch), then contacts with
    two companies each (one contacts read per chunk). Pair (1, 1) is in chunk 0 and chunk 1, pair (2, 2)
    in chunk 0 and chunk 2, each time with another type."""
    deals = [deal(1000 * k + 10 + i, 9, DEFAULT) for i in range(batch - 1)]
    if k == 0:
        deals = [deal(1, 1, DEFAULT), deal(2, 2, DEFAULT), *deals[:-1]]
    elif k == 1:
        deals = [deal(1, 1, "1"), *deals]
    elif k == 2:
        deals = [deal(2, 2, "3"), *deals]
    contacts = [contact(100_000 * (k + 1) + i // 2, 900_000 + i) for i in range(READ_CHUNK_ROWS - len(deals))]
    return deals + contacts


def in_flight(spans: list[tuple[str, float, float]], path: str, at: float) -> int:
    return sum(1 for p, start, end in spans if p == path and start <= at < end)


async def test_reads_of_later_chunks_overlap_earlier_writes_and_no_label_is_lost(tmp_path: Path) -> None:
    batch = 10
    rows = [r for k in range(CHUNKS) for r in chunk_rows(k, batch)]
    seed = frozenset({deal(1, 1, LABEL), deal(2, 2, LABEL)})  # labels the writes must not replace
    labels = dict(USER_LABELS) | {("deals", "companies"): {37: "Decision maker"}}
    src = write_rows(tmp_path / "links.csv", rows)
    fake_config = FakeConfig(rate=Rate(5000, 1.0), token=TOKEN, existing=seed, user_labels=labels,
                             latency_ms=300.0, read_latency_ms=600.0)
    async with FakeHubSpot(fake_config) as fake:
        s = await run_async(config(tmp_path, fake.url, src, batch_size=batch, preflight=False))
        held = fake.associations()
        spans = list(fake.stats.spans)
    assert (s.succeeded, s.failed, s.exit_code) == (len(rows), 0, 0)
    assert held == seed | set(rows), "a label or a row was lost"
    assert deal(1, 1, LABEL) in held and deal(1, 1, DEFAULT) in held and deal(1, 1, "1") in held
    assert {deal(2, 2, LABEL), deal(2, 2, DEFAULT), deal(2, 2, "3")} <= held

    reads = sorted((start, end) for p, start, end in spans if p == READ)
    assert len(reads) == CHUNKS  # one contacts read per chunk (1,000 fromIds or fewer)
    writes = [(start, end) for p, start, end in spans if p.endswith("/batch/create")]
    # several chunks' reads under way at once, and writes going while they are
    assert max(in_flight(spans, READ, start) for start, _ in reads) >= 2, (reads, sorted(spans)[:12])
    assert any(in_flight(spans, READ, start) >= 1 for start, _ in writes[1:])
    assert reads[1][0] < min(start for start, _ in writes), "chunk 1's read did not go before chunk 0's writes"

    # pair (1, 1): chunk 1's read went out before any write; pair (2, 2): chunk 2's read went out before
    # chunk 0's write of the pair landed and was answered after it (it cannot have seen that write)
    deal_reads = sorted((start, end) for p, start, end in spans if p == DEALS_READ)
    first_deal_write = min((start, end) for p, start, end in spans if p == DEALS_WRITE)
    assert len(deal_reads) == CHUNKS
    assert deal_reads[1][0] < first_deal_write[0]
    assert deal_reads[2][0] < first_deal_write[1] < deal_reads[2][1], (deal_reads, first_deal_write)
