"""Results and the markdown table they are printed as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

__all__ = ["Result", "render"]


@dataclass
class Result:
    """One line of the table. `met` is None where there is no goal (a reference line)."""

    section: str  # e.g. "1 ceiling"
    setup: str  # what was measured, in a few words
    contender: str
    result: str  # the measurement, human-readable
    ratio: str = ""  # the number the goal is about
    goal: str = ""
    met: bool | None = None
    data: dict[str, object] = field(default_factory=dict)  # raw numbers, for --json

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(results: Sequence[Result], header: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """A markdown table; a section's name and set-up are printed on its first line only."""
    lines = [*header, "" if header else None, "| # | set-up | contender | result | ratio | goal | met |",
             "|---|---|---|---|---|---|---|"]
    previous = ("", "")
    for r in results:
        same = (r.section, r.setup) == previous
        previous = (r.section, r.setup)
        met = "—" if r.met is None else ("yes" if r.met else "**NO**")
        cells = ["" if same else r.section, "" if same else r.setup, r.contender, r.result, r.ratio,
                 r.goal, met]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if notes:
        lines.append("")
        lines.extend(f"- {n}" for n in notes)
    return "\n".join(line for line in lines if line is not None)


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"
