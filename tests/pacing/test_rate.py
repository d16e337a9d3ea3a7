"""Rate and parse_rate (bulkassoc.pacing.rate): the `--rate N/Ds` values."""

from __future__ import annotations

import pytest

from bulkassoc import Rate, parse_rate


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [("190/10s", 190, 10.0), ("20/1s", 20, 1.0), ("5/500ms", 5, 0.5), ("100/s", 100, 1.0), ("600/1m", 600, 60.0),
     (" 7 / 2s ", 7, 2.0)],
)
def test_parse_rate(text: str, limit: int, period: float) -> None:
    assert parse_rate(text) == Rate(limit, period)


@pytest.mark.parametrize("text", ["", "abc", "10", "0/10s", "10/0s", "-1/10s", "10/10x", "1.5/10s"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)
