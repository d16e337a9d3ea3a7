"""Row and InvalidRow (bulkassoc.rows.types)."""

from __future__ import annotations

import dataclasses

import pytest

from bulkassoc.rows.reader import (
    InvalidRow,
    Row,
)

from ._helpers import (
    HEADER,
    one,
)

# --------------------------------------------------------------------------------------------- rows


def test_row_is_a_frozen_dataclass_and_fast_built_rows_equal_normal_ones() -> None:
    built = one(HEADER + b"contacts,1,deals,2,3\n")
    normal = Row("contacts", "1", "deals", "2", "3", 2)
    assert built == normal
    assert hash(built) == hash(normal)
    assert repr(built) == repr(normal)
    assert built.key == ("contacts", "1", "deals", "2", "3")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.from_id = "2"  # type: ignore[misc]
    assert dataclasses.replace(built, line=9).line == 9
    assert dataclasses.astuple(built) == ("contacts", "1", "deals", "2", "3", 2)
    assert not hasattr(built, "__dict__")
    bad = InvalidRow("contacts", "x", "deals", "2", "3", 4, "why")
    assert bad.key == ("contacts", "x", "deals", "2", "3")
