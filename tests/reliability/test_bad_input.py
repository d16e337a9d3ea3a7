"""Issue 5, item 7: bad input never ends in a traceback.

Either the file is unusable (exit 2, one clear line, nothing sent) or every bad row is recorded with its
line number (exit 1) while the good rows go through. test_rows.py already fuzzes the reader alone; here
the same kind of input goes end to end: reader → ledger → HTTP → report → failed-rows CSV, with the
reader as the oracle for what the run must report.

The property runs through the library (`run_async`, an in-process fake) for volume; the real CLI in a
subprocess takes a curated list of nasty files and a few generated ones.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bulkassoc import InputError, Rate, RunConfig, run_async, write_failed_csv
from bulkassoc.fake.names import canonical_type
from bulkassoc.fake.server import FakeConfig, FakeHubSpot
from bulkassoc.rows.reader import InvalidRow, Row, RowReader

from ._harness import TOKEN, Key, Result, fake_process, last_json, ledger_rows, num, run

DEFAULT_FROM = "partner_services"


# ------------------------------------------------------------------------------------------ oracle


@dataclass
class Expect:
    """What reading the file says a run must report."""

    error: str | None = None  # InputError text: the file is unusable
    rows: list[Row] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)

    @property
    def items(self) -> int:
        return len(self.rows) + len(self.invalid)

    @property
    def distinct(self) -> set[Key]:
        return {r.key for r in self.rows}

    @property
    def sendable(self) -> set[Key]:
        """Rows whose type goes to HubSpot as it is: a type ID or a v3 name."""
        return {r.key for r in self.rows if _SENT_AS_IS.fullmatch(r.type)}

    @property
    def unresolvable(self) -> set[Key]:
        """Rows whose type is label text (issue 14): the fake defines no label for these pairs, so they
        fail unsent as UNKNOWN_ASSOCIATION_TYPE."""
        return self.distinct - self.sendable

    @property
    def duplicates(self) -> int:
        return len(self.rows) - len(self.distinct)

    def invalid_lines(self) -> set[int]:
        """The line each distinct invalid row is recorded with: where it was first seen."""
        first: dict[Key, int] = {}
        for item in self.invalid:
            key = item.key if any(item.key) else ("", "", "", "", f"line {item.line}")
            first.setdefault(key, item.line)
        return set(first.values())

    @property
    def exit_code(self) -> int:
        return 2 if self.error is not None else (1 if self.invalid or self.unresolvable else 0)


def oracle(path: Path, fmt: str) -> Expect:
    expect = Expect()
    try:
        with RowReader(path, fmt, DEFAULT_FROM) as reader:  # type: ignore[arg-type]
            for item in reader:
                (expect.rows if isinstance(item, Row) else expect.invalid).append(item)  # type: ignore[arg-type]
    except InputError as exc:
        return Expect(error=str(exc))
    return expect


_SENT_AS_IS = re.compile(r"[0-9]+|[a-z][a-z0-9_]*")  # a type ID, or a v3 name (keys/vet.py)


def canonical(key: Key) -> Key:
    """How the fake stores a key: object types in one spelling (`0-1` → `contacts`)."""
    from_type, from_id, to_type, to_id, assoc_type = key
    return canonical_type(from_type), from_id, canonical_type(to_type), to_id, assoc_type


def failed_csv_lines(path: Path) -> tuple[set[int], int]:
    with path.open(newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    return {int(r["line"]) for r in records if r["category"] == "INVALID_ROW"}, len(records)


def check_failed_csv_is_input(path: Path, written: int) -> None:
    """The failed-rows CSV is a file `run` accepts: its header is right and it has one row per record."""
    with RowReader(path, "csv", DEFAULT_FROM) as reader:
        assert sum(1 for _ in reader) == written


# ------------------------------------------------------------------------------- strategies

BAD_IDS = st.one_of(
    st.integers(min_value=10**20, max_value=10**40).map(str),  # too many digits
    st.integers(max_value=-1).map(str),  # negative
    st.sampled_from(["", " ", "0x1F", "1e5", "1.0", "١٢٣", "12 34", "NaN", "∞", "'7'", "7\x00", "x" * 300]),
    st.text(max_size=12),
)
BAD_TYPES = st.one_of(st.sampled_from(["bad type", "", "-1", "1-", "x" * 120, "Ünïcode", "a,b", 'q"uote', "\t"]),
                      st.text(max_size=8))
GOOD = {
    "fromId": st.integers(min_value=1, max_value=10**20 - 1).map(str),  # up to 20 digits: valid
    "toId": st.integers(min_value=1, max_value=10**20 - 1).map(str),
    "toType": st.sampled_from(["contacts", "companies", "0-1", "2-123", "p_custom", "partner_clients"]),
    "type": st.sampled_from(["1", "279", "primary_company"]),
    "fromType": st.sampled_from(["partner_services", "contacts", "0-2", " partner_clients "]),
}
BAD = {"fromId": BAD_IDS, "toId": BAD_IDS, "toType": BAD_TYPES, "type": BAD_TYPES, "fromType": BAD_TYPES}


@st.composite
def records(draw: st.DrawFn, with_from_type: bool) -> dict[str, str]:
    """A row that is valid, or valid but for one or two fields (bad or missing)."""
    columns = ["fromType", "fromId", "toType", "toId", "type"] if with_from_type else list(GOOD)[:4]
    row = {c: draw(GOOD[c]) for c in columns}
    for column in draw(st.lists(st.sampled_from(columns), max_size=2)):
        if draw(st.booleans()):
            row[column] = draw(BAD[column])
        else:
            row.pop(column, None)
    return row


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    with_from_type = draw(st.booleans())
    header = ["fromType", "fromId", "toType", "toId", "type"] if with_from_type else ["fromId", "toType", "toId",
                                                                                         "type"]
    header = list(draw(st.permutations(header + draw(st.sampled_from([[], ["note"]])))))
    if draw(st.integers(0, 5)) == 0:  # sometimes a broken header: a column lost, renamed or doubled
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(["", "fromid", "type", "x"]))
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 15))):
        row = draw(records(with_from_type))
        cells = [row.get(c, "") for c in header]
        if draw(st.integers(0, 9)) == 0:  # a short or a long row
            cells = cells[: draw(st.integers(0, len(cells)))] if draw(st.booleans()) else [*cells, "extra"]
        lines.append(",".join(_quote(v) for v in cells))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = (newline.join(lines) + draw(st.sampled_from(["", newline]))).encode("utf-8", "surrogatepass")
    return _corrupt(draw, data)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=6)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 15))):
        kind = draw(st.sampled_from(["row"] * 6 + ["odd-values", "not-an-object", "junk", "blank"]))
        if kind in ("row", "odd-values"):
            obj: dict[str, object] = dict(draw(records(draw(st.booleans()))))
            for key in ("fromId", "toId", "type"):  # IDs may be JSON integers
                if key in obj and str(obj[key]).isdigit() and draw(st.booleans()):
                    obj[key] = int(str(obj[key]))
            if kind == "odd-values":  # a value of another JSON type, a key in another case, huge integers
                key = draw(st.sampled_from(["fromId", "toId", "type", "toType", "FromId", "fromType"]))
                obj[key] = draw(st.one_of(JSON_VALUES, st.integers(min_value=-(10**30), max_value=10**30)))
            lines.append(orjson.dumps(obj) if _dumpable(obj) else b"{}")
        elif kind == "not-an-object":
            value = draw(st.one_of(st.lists(JSON_VALUES, max_size=3), st.none(), st.booleans(), st.integers(),
                                   st.floats(allow_nan=False), st.text(max_size=6)))
            lines.append(orjson.dumps(value) if _dumpable(value) else b"[]")
        elif kind == "junk":
            lines.append(draw(st.binary(max_size=20)).replace(b"\n", b" "))
        else:
            lines.append(b"")
    return _corrupt(draw, b"\n".join(lines))


def _dumpable(value: object) -> bool:
    try:
        orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True


def _corrupt(draw: st.DrawFn, data: bytes) -> bytes:
    """Sometimes: a BOM, invalid UTF-8, a NUL byte, or raw binary at a random place."""
    how = draw(st.sampled_from(["none", "none", "none", "bom", "utf8", "nul", "binary"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "none" or not data:
        return data
    at = draw(st.integers(0, len(data)))
    junk = {"utf8": b"\xff\xfe\xc3(", "nul": b"\x00", "binary": draw(st.binary(min_size=1, max_size=16))}[how]
    return data[:at] + junk + data[at:]


FILES = st.one_of(csv_files().map(lambda d: ("csv", d)), jsonl_files().map(lambda d: ("jsonl", d)),
                  st.tuples(st.sampled_from(["csv", "jsonl"]), st.binary(max_size=300)))  # pure junk too


# ------------------------------------------------------------------- property: through the library


async def _through_the_engine(tmp: Path, fmt: str, data: bytes) -> None:
    src = tmp / f"input.{fmt}"
    src.write_bytes(data)
    ledger = tmp / "ledger.sqlite"
    expect = oracle(src, fmt)
    async with FakeHubSpot(FakeConfig(rate=None, token=TOKEN)) as fake:
        # no preflight: its association-type check (another feature) would fail rows before any PUT
        config = RunConfig(input=src, from_type=DEFAULT_FROM, base_url=fake.url, token=TOKEN, ledger=ledger,
                           rate=Rate(10_000, 1.0), preflight=False)
        unusable: InputError | None = None
        try:
            summary = await run_async(config)
        except InputError as exc:  # raised before anything is sent: the CLI's exit 2
            unusable = exc
        if unusable is not None:
            event("unusable file (InputError)")
            assert expect.error is not None, f"InputError {unusable} but the reader read the file"
            assert "\n" not in str(unusable) and fake.stats.puts == 0
            return
        assert expect.error is None or summary.exit_code == 2, expect.error
        if expect.error is not None:  # the input failed part-way: stopped as unusable, exit 2
            assert summary.aborted == "input"
            return
        assert summary.exit_code == expect.exit_code, summary
        event(f"{fmt}: exit {summary.exit_code}, {'some' if expect.rows else 'no'} valid rows, "
              f"{'some' if expect.invalid else 'no'} invalid rows")
        assert (summary.rows, summary.invalid, summary.duplicates) == (expect.items, len(expect.invalid),
                                                                       expect.duplicates)
        assert (summary.succeeded, summary.failed) == (len(expect.sendable), len(expect.unresolvable))
        assert fake.associations() == {canonical(k) for k in expect.sendable}
    recorded = ledger_rows(ledger)
    assert sum(1 for status, _ in recorded.values() if status == "invalid") == len(expect.invalid_lines())
    failed_csv = tmp / "failed.csv"
    written = write_failed_csv(ledger, failed_csv)
    lines, count = failed_csv_lines(failed_csv)
    assert count == written and lines == expect.invalid_lines()
    check_failed_csv_is_input(failed_csv, written)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(case=FILES)
def test_property_bad_input_end_to_end_through_the_engine(tmp_path: Path, case: tuple[str, bytes]) -> None:
    fmt, data = case
    example = tmp_path / f"ex{len(list(tmp_path.iterdir()))}"
    example.mkdir()
    asyncio.run(_through_the_engine(example, fmt, data))


# ------------------------------------------------------------------------- the real CLI


def _rows(n: int, start: int = 1) -> list[str]:
    return [f"{start + i},contacts,{700 + i},1" for i in range(n)]


CSV_HEADER = "fromId,toType,toId,type"
CURATED: dict[str, tuple[str, bytes]] = {
    # unusable files: exit 2, one line, nothing sent
    "invalid-utf8-in-the-header": ("csv", b"from\xffId,toType,toId,type\n1,contacts,2,1\n"),
    "binary-junk-as-csv": ("csv", bytes(range(256)) * 8),
    "no-header": ("csv", "\n".join(_rows(3)).encode() + b"\n"),
    "wrong-columns": ("csv", b"from,to,kind\n1,2,3\n"),
    "empty-csv": ("csv", b""),
    # files with bad rows: each recorded with its line (exit 1), the good rows sent
    "bad-csv-rows": ("csv", "\n".join([
        CSV_HEADER, "1,contacts,2,1", "123456789012345678901,contacts,2,1", "-5,contacts,2,1", "abc,contacts,2,1",
        "1,contacts,99999999999999999999,1", "1,contacts,1e3,1", "1,contacts,2,-1", "2,contacts,3,1",
    ]).encode() + b"\n3\xff\xfe,contacts,4,1\n3\x00,contacts,4,1\n6,contacts,7,1\n"
        + b'"8,contacts,9,1\n10,contacts,11,1\n'),  # an unbalanced quote swallows the rest
    "bad-jsonl-rows": ("jsonl", b'[1,2,3]\n"fromId"\n42\nnull\ntrue\n\xff\xfe{}\n'
                                b'{"fromId":1.5,"toType":"contacts","toId":2,"type":1}\n'
                                b'{"fromId":-1,"toType":"contacts","toId":2,"type":1}\n'
                                b'{"fromId":123456789012345678901234567890,"toType":"contacts","toId":2,"type":1}\n'
                                b'{"fromId":"1","toType":["contacts"],"toId":{"a":1},"type":null}\n'
                                b'{"fromId": 9, "toType": "contacts", "toId": 10, "type": 1}\n'
                                b'{"fromId":3,"toType":"con'),  # truncated last line
    "binary-junk-as-jsonl": ("jsonl", bytes(range(255, -1, -1)) * 8),
    "huge-field": ("csv", f"{CSV_HEADER}\n1,contacts,2,1\n".encode() + b'"' + b"9" * (17 * 1024 * 1024)
                   + b'",contacts,4,1\n5,contacts,6,1\n'),
    # nothing to do: exit 0
    "header-only": ("csv", f"{CSV_HEADER}\r\n".encode()),
    "empty-jsonl": ("jsonl", b""),
}


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with fake_process("--rate", "off") as (url, _):
        yield url


def _cli_case(tmp: Path, url: str, name: str, fmt: str, data: bytes) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / f"{name}.{fmt}"
    src.write_bytes(data)
    ledger = tmp / "ledger.sqlite"
    expect = oracle(src, fmt)
    r: Result = run("run", str(src), "--from-type", DEFAULT_FROM, "--ledger", str(ledger), "--base-url", url,
                    "--rate", "5000/1s", "--no-progress", "--json", "--no-preflight", timeout=60)
    where = f"[{name}] exit {r.returncode}, stderr: {r.stderr[-500:]}"
    assert "Traceback" not in r.stderr, where
    assert r.returncode == expect.exit_code, where
    if expect.error is not None:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bulkassoc: error: "), where
        assert str(src) in lines[0] or "standard input" in lines[0], where
        assert not r.stdout.strip(), where
        assert not ledger.exists() or not any(s == "succeeded" for s, _ in ledger_rows(ledger).values()), where
        return
    summary = last_json(r.stdout)
    assert (num(summary, "rows"), num(summary, "invalid"), num(summary, "succeeded")) == (
        expect.items, len(expect.invalid), len(expect.distinct)), where
    failed_csv = tmp / "failed.csv"  # what `report --failed-out` writes (its CLI is tested in test_cli)
    write_failed_csv(ledger, failed_csv)
    lines_seen, _ = failed_csv_lines(failed_csv)
    assert lines_seen == expect.invalid_lines(), where


@pytest.mark.slow
def test_curated_bad_files_through_the_cli(tmp_path: Path, fake_url: str) -> None:
    """Each file of the issue's list, through `bulkassoc run` (three at a time)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(_cli_case, tmp_path / name, fake_url, name, fmt, data)
                   for name, (fmt, data) in CURATED.items()]
        errors = [str(exc) for f in futures if (exc := f.exception()) is not None]
    assert not errors, "\n".join(errors)
    assert oracle(tmp_path / "huge-field" / "huge-field.csv", "csv").invalid  # the case is what it says


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=FILES)
def test_property_generated_bad_files_through_the_cli(tmp_path: Path, fake_url: str, case: tuple[str, bytes]) -> None:
    fmt, data = case
    _cli_case(tmp_path / f"ex{len(os.listdir(tmp_path))}", fake_url, "generated", fmt, data)


def test_twenty_digit_integer_ids_in_jsonl_are_kept_exactly(tmp_path: Path) -> None:
    """The contract: IDs have 1-20 digits and JSONL values may be integers. 2**64 has 20 digits."""
    src = tmp_path / "big.jsonl"
    src.write_bytes(b'{"fromId": 99999999999999999999, "toType": "contacts", "toId": 18446744073709551616, '
                    b'"type": 1}\n{"fromId": 123456789012345678901, "toType": "contacts", "toId": 1, "type": 1}\n')
    expect = oracle(src, "jsonl")
    assert [r.key for r in expect.rows] == [
        ("partner_services", "99999999999999999999", "contacts", "18446744073709551616", "1")]
    assert [r.from_id for r in expect.invalid] == ["123456789012345678901"]  # 21 digits: invalid, kept as written
