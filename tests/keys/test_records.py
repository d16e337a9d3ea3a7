"""Records by a unique property: 100,000 rows keyed by contact e-mail and a partner service's legacy_id
land on the right records, with one lookup per 100 distinct values, none on a rerun, and exactly the rows
whose values match nothing fail, naming the value."""

from __future__ import annotations

import csv
import random
import sqlite3
from pathlib import Path

from bulkassoc import run_async
from bulkassoc.fake.server import FakeHubSpot
from tests._support import TOKEN, write_csv

from ._portal import config, contact_id, email, legacy, portal, service_id

N = 70_000  # distinct values per side
ROWS = 100_000  # 30% of the rows repeat a value already used on each side


def _keyed_rows() -> tuple[list[list[str]], set[tuple[str, str, str, str, str]], list[int]]:
    """ROWS distinct pairs; on each side N distinct values, and ROWS - N (30%) repeats spread at random."""
    rng = random.Random(14)
    froms = list(range(N)) + [rng.randrange(N) for _ in range(ROWS - N)]
    tos = list(range(N)) + [rng.randrange(N) for _ in range(ROWS - N)]
    rng.shuffle(froms)
    rng.shuffle(tos)
    rows: list[list[str]] = []
    expected: set[tuple[str, str, str, str, str]] = set()
    pairs: set[tuple[int, int]] = set()
    for i, (f, t) in enumerate(zip(froms, tos, strict=True)):
        while (f, t) in pairs:  # keep the pairs distinct: another repeat of some value
            t = rng.randrange(N)
        pairs.add((f, t))
        given = email(t).upper() if i % 10 == 0 else email(t)  # HubSpot matches e-mail without case
        rows.append([legacy(f), "contacts", given, "Billing contact"])
        expected.add(("partner_services", service_id(f), "contacts", contact_id(t), "9150"))
    unresolved_lines: list[int] = []
    for k in range(50):  # 50 values that match no record, one row each, spread through the file
        position = 1_000 + k * 1_900
        value = f"nobody{k}@example.com" if k % 2 else f"LEG-X{k}"
        row = [legacy(k), "contacts", value, "Billing contact"] if k % 2 else [value, "contacts", email(k), "9150"]
        rows.insert(position, row)
    for number, row in enumerate(rows, start=2):
        if "nobody" in row[2] or row[0].startswith("LEG-X"):
            unresolved_lines.append(number)
    return rows, expected, unresolved_lines


async def test_hundred_thousand_keyed_rows_land_on_the_right_records(tmp_path: Path) -> None:
    rows, expected, unresolved_lines = _keyed_rows()
    src = write_csv(tmp_path / "keyed.csv", rows)
    async with FakeHubSpot(portal(N)) as fake:
        cfg = config(tmp_path, fake.url, src, mode="batch", batch_size=1000, read_first=False,
                     from_id_property="legacy_id",
                     to_id_property="email")
        s = await run_async(cfg)
        assert s.aborted is None, s.message
        assert (s.succeeded, s.failed, s.unresolved, s.invalid) == (ROWS, 50, 50, 0)
        assert fake.associations() == expected  # every association on the right pair of records
        distinct = len({r[0] for r in rows}) + len({r[2].lower() for r in rows})
        assert s.lookups <= 1.05 * distinct / 100, s.lookups
        stored = len(fake.associations())

        again = await run_async(config(tmp_path, fake.url, src, mode="batch", from_id_property="legacy_id",
                                       to_id_property="email", retry_failed=False))
        assert (again.lookups, again.requests, again.already_done) == (0, 0, ROWS)

        retried = await run_async(config(tmp_path, fake.url, src, mode="batch", from_id_property="legacy_id",
                                         to_id_property="email"))
        # only the 50 values that matched nothing are looked up again (misses are not cached); spread over
        # the file's chunks, they still go out together: one request per property (25 e-mails, 25 legacy IDs)
        assert (retried.lookups, retried.requests, retried.unresolved) == (2, 0, 50)
        print(f"first run: {s.lookups} lookups for {distinct} distinct values "
              f"(bound {1.05 * distinct / 100:.0f}); {s.requests} writes; {s.elapsed_s:.1f}s")
        assert len(fake.associations()) == stored

    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        failed = conn.execute("SELECT line, category, message, from_id, to_id FROM assoc WHERE status = 'failed'"
                              ).fetchall()
        cached = conn.execute("SELECT count(*), min(resolved_at) > 0 FROM id_lookups").fetchone()
    assert sorted(line for line, *_ in failed) == unresolved_lines
    for _, category, message, from_id, to_id in failed:
        value = to_id.split("=", 1)[1] if "nobody" in to_id else from_id.split("=", 1)[1]
        assert category == ("UNRESOLVED_TO" if "nobody" in to_id else "UNRESOLVED_FROM")
        assert value in message and ("email" in message or "legacy_id" in message)
    assert cached == (len({r[0] for r in rows if "LEG-X" not in r[0]})
                      + len({r[2].lower() for r in rows if "nobody" not in r[2]}), 1)


async def test_refresh_ids_forgets_the_cache_and_report_shows_value_and_record(tmp_path: Path) -> None:
    rows = [[legacy(i), "contacts", email(i), "partner_service_to_contact"] for i in range(250)]
    src = write_csv(tmp_path / "keyed.csv", rows)
    async with FakeHubSpot(portal(300)) as fake:
        first = await run_async(config(tmp_path, fake.url, src, from_id_property="legacy_id",
                                       to_id_property="email"))
        assert (first.succeeded, first.lookups) == (250, 6)  # 3 per side: 100 + 100 + 50
        fresh = await run_async(config(tmp_path, fake.url, src, from_id_property="legacy_id",
                                       to_id_property="email", resend=True, refresh_ids=True))
        assert (fresh.succeeded, fresh.lookups) == (250, 6)
        assert ("partner_services", service_id(7), "contacts", contact_id(7), "9101") in fake.associations()
    from tests._support import cli

    out = tmp_path / "lookups.csv"
    r = cli("report", str(tmp_path / "ledger.sqlite"), "--lookups-out", str(out))
    assert r.returncode == 0, r.stderr
    assert "contacts.email: 250" in r.stdout and "partner_services.legacy_id: 250" in r.stdout
    with out.open(encoding="utf-8") as fh:
        got = {(row["objectType"], row["value"]): row["recordId"] for row in csv.DictReader(fh)}
    assert got[("contacts", email(7))] == contact_id(7)
    assert got[("partner_services", legacy(7))] == service_id(7)


async def test_per_row_property_columns_and_a_ledger_written_before_lookups_existed(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "plain.csv", [[service_id(i), "contacts", contact_id(i), "9101"] for i in range(5)])
    async with FakeHubSpot(portal(20)) as fake:
        s = await run_async(config(tmp_path, fake.url, plain))
        assert s.succeeded == 5
        with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:  # as an older bulkassoc left it
            conn.execute("DROP TABLE id_lookups")
        mixed = write_csv(tmp_path / "mixed.csv", [
            [service_id(i), "contacts", email(i) if i % 2 else contact_id(i), "9101", "email" if i % 2 else ""]
            for i in range(5, 15)], header=("fromId", "toType", "toId", "type", "toIdProperty"))
        s = await run_async(config(tmp_path, fake.url, mixed))
        assert (s.succeeded, s.failed, s.lookups) == (10, 0, 1)
        assert {("partner_services", service_id(i), "contacts", contact_id(i), "9101") for i in range(15)} \
            == fake.associations()
        again = await run_async(config(tmp_path, fake.url, plain))
        assert again.already_done == 5


async def test_verify_resolves_keyed_ids_and_labels_as_run_does(tmp_path: Path) -> None:
    from bulkassoc import VerifyConfig, verify_async

    rows = [[legacy(i), "contacts", email(i), "Billing contact"] for i in range(30)]
    src = write_csv(tmp_path / "keyed.csv", rows)
    async with FakeHubSpot(portal(40)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, from_id_property="legacy_id", to_id_property="email"))
        assert s.succeeded == 30
        check = write_csv(tmp_path / "check.csv", [*rows, [legacy(31), "contacts", email(31), "Billing contact"],
                                                   [legacy(1), "contacts", "ghost@example.com", "Billing contact"]])
        out = tmp_path / "missing.csv"
        v = await verify_async(VerifyConfig(input=check, from_type="partner_services", base_url=fake.url,
                                            token=TOKEN, from_id_property="legacy_id", to_id_property="email",
                                            missing_out=out))
        assert (v.present, v.missing) == (30, 2)
    with out.open(encoding="utf-8") as fh:
        assert sorted(r["toId"] for r in csv.DictReader(fh)) == ["email=ghost@example.com", f"email={email(31)}"]


async def test_undo_removes_keyed_rows_and_labels_as_they_were_sent(tmp_path: Path) -> None:
    from bulkassoc.pacing.rate import Rate
    from bulkassoc.sync.undo import UndoConfig, undo_async

    rows = [[legacy(i), "contacts", email(i).upper() if i % 2 else email(i), "Billing contact" if i % 3 else "9101"]
            for i in range(40)]
    src = write_csv(tmp_path / "keyed.csv", rows)
    async with FakeHubSpot(portal(50)) as fake:
        s = await run_async(config(tmp_path, fake.url, src, mode="batch", from_id_property="legacy_id",
                                   to_id_property="email"))
        assert (s.succeeded, s.created) == (40, 40)
        assert len(fake.associations()) == 40
        u = await undo_async(UndoConfig(ledger=str(tmp_path / "ledger.sqlite"), base_url=fake.url, token=TOKEN,
                                        token_env="T", rate=Rate(5000, 1.0)), rand=random.random)
        assert (u.undone, u.exit_code) == (40, 0), u
        assert fake.associations() == set()
