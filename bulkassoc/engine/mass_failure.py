"""Stop early on a mass failure: when the first answers of a (fromType, toType) pair are all the same
permanent failure, the input is wrong as a whole (a misspelled `--from-type` answers 404 on every row),
and sending the rest would only spend the quota. One success or one different answer clears the pair."""

from __future__ import annotations

from dataclasses import dataclass

from ..hubspot.outcomes import Kind, Outcome

__all__ = ["DEFAULT_LIMIT", "MassFailureWatch"]

DEFAULT_LIMIT = 50


@dataclass(slots=True)
class _Pair:
    seen: int = 0
    signature: tuple[int | None, str] | None = None
    cleared: bool = False


def _hint(outcome: Outcome, from_type: str, to_type: str) -> str:
    if outcome.status == 404:
        return (f"the IDs are probably not {from_type} records (or not {to_type}): check --from-type / the "
                "fromType column and the toType column")
    if outcome.status == 400:
        return (f"the association type may not exist for {from_type} → {to_type}, or the IDs belong to another "
                "object type: check the type column, --from-type and toType")
    return "check the input's object types, IDs and association types"


class MassFailureWatch:
    """`limit` first answers per pair (None: never stop)."""

    def __init__(self, limit: int | None = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._pairs: dict[tuple[str, str], _Pair] = {}

    def observe(self, from_type: str, to_type: str, ok: bool, outcome: Outcome) -> str | None:
        """Note one settled write; returns why to stop, or None."""
        if self.limit is None:
            return None
        pair = self._pairs.get((from_type, to_type))
        if pair is None:  # (not setdefault: that would build a _Pair for every row)
            pair = self._pairs[(from_type, to_type)] = _Pair()
        if pair.cleared:
            return None
        signature = (outcome.status, outcome.category)
        if ok or outcome.kind is not Kind.PERMANENT or (pair.signature not in (None, signature)):
            pair.cleared = True
            return None
        pair.signature = signature
        pair.seen += 1
        if pair.seen < self.limit:
            return None
        pair.cleared = True  # say it once
        what = f"{outcome.status} {outcome.category}".strip()
        detail = f": {outcome.message}" if outcome.message else ""
        return (f"the first {pair.seen} writes of {from_type} → {to_type} all failed the same way ({what}{detail}); "
                f"{_hint(outcome, from_type, to_type)}. Stopped to save the quota: fix the input and rerun, or pass "
                "--no-stop-on-mass-failure to send every row anyway")
