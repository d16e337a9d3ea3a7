"""The sample data (bulkassoc.fake.sample): the committed files are the generator's output, and their rows
settle against the seeded fake exactly as the generator says."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bulkassoc import RetryPolicy, RunConfig, run_async
from bulkassoc.fake.sample import (
    CLIENTS_FILE,
    KEYED_FILE,
    SERVICES_FILE,
    sample_fake_config,
    sample_texts,
    write_sample_data,
)
from bulkassoc.fake.server import FakeConfig, FakeHubSpot

TOKEN = "fake-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
PATH = "/crm/v3/objects/{}/{}/associations/{}/{}/{}"


async def status_of(session: aiohttp.ClientSession, fake: FakeHubSpot, path: str) -> int:
    async with session.put(fake.url + path, headers=AUTH) as r:
        return r.status


# -- the sample data ------------------------------------------------------------------------------------


def test_committed_sample_files_are_the_generators_output(tmp_path: Path) -> None:
    for name, text in sample_texts().items():
        assert (REPO / "sample_data" / name).read_text(encoding="utf-8") == text, name
    info = write_sample_data(tmp_path)
    for sample in info.files:
        lines = [x for x in info.path(sample).read_text(encoding="utf-8").splitlines() if x.strip()]
        assert len(lines) - (sample.name == SERVICES_FILE) == sample.rows
        assert sample.rows == sample.succeeded + sample.duplicates + sample.invalid + sample.failed


_DIGITS = re.compile(r"\d{1,20}")
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*|\d+-\d+")
_ASSOC = re.compile(r"\d+|[a-z][a-z0-9_]*")


def _row(raw: Any, from_type: str | None) -> tuple[str, ...] | None:
    """The contract's row validation, reduced to what the sample needs; None = invalid."""
    if not isinstance(raw, dict):
        return None
    values = {k: (str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else None)
              for k, v in raw.items()}
    row = (values.get("fromType") or from_type, values.get("fromId"), values.get("toType"),
           values.get("toId"), values.get("type"))
    checks = (_TYPE, _DIGITS, _TYPE, _DIGITS, _ASSOC)
    if not all(isinstance(v, str) and p.fullmatch(v) for p, v in zip(checks, row, strict=True)):
        return None
    return tuple(str(v) for v in row)


def _sample_rows(name: str, text: str) -> list[tuple[str, ...] | None]:
    if name == SERVICES_FILE:
        return [_row(r, "partner_services") for r in csv.DictReader(io.StringIO(text))]
    rows: list[tuple[str, ...] | None] = []
    for line in filter(str.strip, text.splitlines()):
        try:
            rows.append(_row(json.loads(line), None))
        except ValueError:
            rows.append(None)
    return rows


async def test_sample_rows_settle_as_documented_against_the_seeded_fake(tmp_path: Path) -> None:
    info = write_sample_data(tmp_path)
    texts = sample_texts()
    gate = asyncio.Semaphore(32)
    async with FakeHubSpot(sample_fake_config(FakeConfig(rate=None))) as fake, \
            aiohttp.ClientSession() as session:
        for sample in info.files:
            rows = _sample_rows(sample.name, texts[sample.name])
            unique = list(dict.fromkeys(r for r in rows if r is not None))

            async def send(row: tuple[str, ...]) -> int:
                async with gate:
                    return await status_of(session, fake, PATH.format(*row))

            statuses = Counter(await asyncio.gather(*(send(r) for r in unique)))
            assert rows.count(None) == sample.invalid, sample.name
            assert len(rows) - rows.count(None) - len(unique) == sample.duplicates, sample.name
            assert statuses == Counter({200: sample.succeeded, 404: sample.not_found, 400: sample.wrong_type})
    assert {CLIENTS_FILE, SERVICES_FILE, KEYED_FILE} == set(texts)


async def test_keyed_sample_settles_as_documented_through_the_engine(tmp_path: Path) -> None:
    info = write_sample_data(tmp_path)
    sample = info.keyed
    text = (tmp_path / sample.name).read_text(encoding="utf-8")
    assert len(text.splitlines()) - 1 == sample.rows == sample.succeeded + sample.duplicates + sample.failed
    async with FakeHubSpot(sample_fake_config(FakeConfig(rate=None, token=TOKEN))) as fake:
        s = await run_async(RunConfig(
            input=tmp_path / sample.name, from_type=sample.from_type, base_url=fake.url, token=TOKEN,
            ledger=tmp_path / "l.sqlite", mode="batch", columns=(("fromId", "legacy_id"), ("toId", "contact_email")),
            from_id_property=sample.from_id_property, to_id_property=sample.to_id_property,
            retry=RetryPolicy(backoff_base=0.01)))
        assert (s.succeeded, s.duplicates, s.failed, s.unresolved, s.invalid) == (
            sample.succeeded, sample.duplicates, sample.failed, sample.unresolved, 0)
        assert len(fake.associations()) == sample.succeeded
