"""Reading a real export's CSV header: its delimiter, and which source column is which of ours.

Exports differ: a spreadsheet in a comma-decimal locale writes `;`, others write tabs; HubSpot's own
exports and other tools name the columns `fromObjectId`, `from_id`, `associationTypeId`… The delimiter is
detected from the header line (or given with `--delimiter`); headers are matched exactly, then without
case, then through the aliases below; `--column fromId=SRC` names a source column outright.
"""

from __future__ import annotations

import csv

__all__ = ["ALIASES", "DELIMITERS", "OPTIONAL", "detect_delimiter", "normalise_delimiter", "parse_column_map",
           "resolve_columns"]

DELIMITERS = (",", ";", "\t")
OPTIONAL = ("fromType", "fromIdProperty", "toIdProperty")

# lower-cased, with '_', '-', ' ' removed → our column
ALIASES: dict[str, str] = {
    "fromid": "fromId", "fromobjectid": "fromId", "fromrecordid": "fromId", "sourceid": "fromId",
    "toid": "toId", "toobjectid": "toId", "torecordid": "toId", "targetid": "toId",
    "fromtype": "fromType", "fromobjecttype": "fromType", "fromobjecttypeid": "fromType",
    "totype": "toType", "toobjecttype": "toType", "toobjecttypeid": "toType",
    "type": "type", "associationtype": "type", "associationtypeid": "type", "typeid": "type",
    "associationlabel": "type", "label": "type", "associationtypename": "type",
    "fromidproperty": "fromIdProperty", "toidproperty": "toIdProperty",
}


def _squash(header: str) -> str:
    return header.lower().replace("_", "").replace("-", "").replace(" ", "")


_NAMED = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}


def normalise_delimiter(value: str) -> str:
    """`--delimiter` as given (',', ';', a tab, or 'tab' / '\\t' / 'comma' / 'semicolon') → the character;
    ValueError for anything else."""
    char = _NAMED.get(value.lower(), value)
    if char not in DELIMITERS:
        raise ValueError(f"--delimiter must be ',', ';' or tab, got {value!r}")
    return char


def detect_delimiter(line: str) -> str:
    """The delimiter of a header line: the one of , ; tab that splits it into the most column names we
    know (a name may be padded or quoted), then the most frequent, a comma on a tie."""
    def score(d: str) -> tuple[int, int, bool]:
        try:
            fields = [f.strip() for f in next(csv.reader([line], delimiter=d), [])]
        except csv.Error:
            fields = []
        known = sum(1 for f in fields if _squash(f) in ALIASES)
        junk = sum(1 for f in fields if f and _squash(f) not in ALIASES and not f.isalnum())
        return known - junk, line.count(d), d == ","

    return max(DELIMITERS, key=score)


def parse_column_map(specs: tuple[str, ...] | list[str]) -> tuple[tuple[str, str], ...]:
    """`("fromId=Contact ID", …)` → ((column, source), …); ValueError naming what is accepted."""
    known = ("fromId", "toId", "fromType", "toType", "type", "fromIdProperty", "toIdProperty")
    out: list[tuple[str, str]] = []
    for spec in specs:
        column, sep, source = spec.partition("=")
        column, source = column.strip(), source.strip()
        match = [k for k in known if k.lower() == column.lower()]
        if not sep or not source or not match:
            raise ValueError(f"--column {spec!r}: expected NAME=SOURCE with NAME one of {', '.join(known)} "
                             "and SOURCE a header of the input (e.g. --column fromId='Contact ID')")
        out.append((match[0], source))
    return tuple(out)


def _matches(how: int, header: str, column: str) -> bool:
    """0: exact, 1: without case, 2: through an alias."""
    if how == 0:
        return header == column
    if how == 1:
        return header.lower() == column.lower()
    return ALIASES.get(_squash(header)) == column


def resolve_columns(header: list[str], wanted: tuple[str, ...],
                    mapping: tuple[tuple[str, str], ...]) -> tuple[dict[str, int], list[str]]:
    """Which header position holds each wanted column, and the problems (duplicates, unknown mapped
    sources). Exact names win over case-insensitive ones, which win over aliases."""
    index: dict[str, int] = {}
    problems: list[str] = []
    mapped = dict(mapping)
    for column in wanted:
        if column in mapped:
            source = mapped[column]
            found = [i for i, h in enumerate(header) if h == source] or [
                i for i, h in enumerate(header) if h.lower() == source.lower()]
            if len(found) == 1:
                index[column] = found[0]
            else:
                problems.append(f"--column {column}={source}: the header has {len(found)} columns named {source!r}")
            continue
        taken = set(mapped.values())
        for how in range(3):
            found = [i for i, h in enumerate(header) if h not in taken and _matches(how, h, column)]
            if len(found) == 1:
                index[column] = found[0]
                break
            if len(found) > 1:
                names = {header[i] for i in found}
                same = len({n.lower() for n in names}) == 1
                problems.append(f"column {column} appears {len(found)} times" if same else
                                f"column {column} is ambiguous: {', '.join(map(repr, sorted(names)))} "
                                f"(choose one with --column {column}=NAME)")
                break
    return index, problems
