"""The house rules of LAYOUT.md, checked on the source: imports run downhill only, no import circle,
no module over 350 lines, few modules at the top level, one retry loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "bulkassoc"

# Floors, top to bottom. A module may import its own folder and any folder on a lower floor.
FLOORS: dict[str, float] = {
    "": 9,  # the package itself and __main__
    "cli": 8,
    "_api": 7.5,  # the library's entry points, which the shell uses too
    "_version": 0,  # a leaf
    "verify": 7,
    "engine": 6,
    "sync": 5, "keys": 5,
    "report": 4.5,  # the HTML page of a ledger: it reads the ledger
    "ledger": 4,
    "hubspot": 3, "fake": 3,
    "pacing": 2, "rows": 2,
}
MAX_LINES = 350
OVER_FOR_NOW: set[str] = set()  # modules over the limit until their split lands
MAX_TOP_LEVEL = 6


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(["bulkassoc", *parts])] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules that `name` imports (at any depth in the file, lazy imports too)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            if t in known and t != name:
                out.add(t)
    return out


def _folder(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return parts[1] if name in ("bulkassoc._api", "bulkassoc._version") else ""


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def test_every_folder_has_a_floor() -> None:
    assert {_folder(n) for n in GRAPH} <= set(FLOORS), "add the new folder to FLOORS (and LAYOUT)"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_run_downhill(name: str) -> None:
    here = _folder(name)
    uphill = sorted(t for t in GRAPH[name]
                    if _folder(t) != here and FLOORS[_folder(t)] >= FLOORS[here]
                    )
    assert not uphill, f"{name} imports from its own floor or above: {uphill}"


def test_no_import_circle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            # a package's __init__ re-exporting its modules is not a circle with them
            if nxt == node.rsplit(".", 1)[0] and (PACKAGE / "/".join(nxt.split(".")[1:])).is_dir():
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                raise AssertionError("import circle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if str(path.relative_to(PACKAGE)) in OVER_FOR_NOW:
        pytest.skip("over the limit until its split lands")
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: look for a second concept to split out"


def test_few_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


def test_one_retry_loop() -> None:
    """Only the paced caller sleeps for a backoff: no other module computes one."""
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if "backoff_delay(" in p.read_text(encoding="utf-8"))
    assert users == ["hubspot/caller.py", "hubspot/outcomes.py"], users
