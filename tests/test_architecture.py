"""The import rules of docs/architecture.md hold: an AST scan of every import in blaze_lab/ (module level and inside
functions), so a layering mistake fails here instead of surfacing as an import cycle or a torch import in a
light path."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "blaze_lab"
MAX_LINES = 450

# docs/architecture.md's layers, lowest first. A part is a subpackage or a top-level module of blaze_lab; the
# package root (``blaze_lab/__init__.py``: version, clock, errors) sits at the bottom.
LAYERS: list[set[str]] = [
    {"blaze_lab", "clock", "env", "errors", "config", "secrets"},
    {"metrics", "models", "load"},
    {"engines", "serving", "router", "cache", "replicas"},
    {"kinds"},
    {
        "cli",
        "cli_results",
        "sweep",
        "report",
        "explorer",
        "widgets",
        "catalog",
        "results",
        "comparison",
        "mlflow_export",
        "__main__",
    },
]
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}


@dataclass(frozen=True)
class Edge:
    source: Path
    line: int
    target: str  # the imported module, absolute (``blaze_lab.engines.llm.engine``)

    @property
    def where(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """``blaze_lab.engines.llm.engine`` -> ``engines``; ``blaze_lab`` -> ``blaze_lab``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


@cache
def edges() -> tuple[Edge, ...]:
    """Every import of a blaze_lab module by a blaze_lab module (relative imports resolved)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = module_name(path).split(".")
        package = own if path.name == "__init__.py" else own[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                # ``from blaze_lab import kinds`` imports the submodule blaze_lab.kinds
                targets = [f"{module}.{alias.name}" if module == "blaze_lab" else module for alias in node.names]
            found += [Edge(path, node.lineno, t) for t in targets if t.split(".")[0] == "blaze_lab"]
    return tuple(found)


def _importers(prefix: str, targets: tuple[str, ...]) -> list[str]:
    return [
        e.where
        for e in edges()
        if module_name(e.source).startswith(prefix)
        and any(e.target == t or e.target.startswith(t + ".") for t in targets)
    ]


def test_the_scan_sees_the_known_arrows() -> None:
    arrows = {(part_of(module_name(e.source)), part_of(e.target)) for e in edges()}
    assert ("sweep", "kinds") in arrows and ("engines", "metrics") in arrows and ("report", "kinds") in arrows


def test_every_part_has_a_layer() -> None:
    parts = {part_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert sorted(parts - set(LAYER)) == [], "new part of blaze_lab: add it to docs/architecture.md and LAYERS"


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        e.where
        for e in edges()
        if LAYER.get(part_of(e.target), -1) > LAYER.get(part_of(module_name(e.source)), len(LAYERS))
    ]
    assert upward == []


def test_metrics_never_imports_an_engine_or_anything_above() -> None:
    above = ("engines", "serving", "router", "replicas", "cache", "sweep", "report", "explorer", "widgets", "kinds")
    assert _importers("blaze_lab.metrics", tuple(f"blaze_lab.{p}" for p in above)) == []


def test_router_never_imports_an_engine_implementation() -> None:
    assert _importers("blaze_lab.router", ("blaze_lab.engines.llm", "blaze_lab.engines.diffusion")) == []


def test_engines_hold_only_engines() -> None:
    foreign = ("serving", "router", "replicas", "explorer", "sweep", "report")
    assert _importers("blaze_lab.engines", tuple(f"blaze_lab.{p}" for p in foreign)) == []
    lifecycle = sorted(p.name for p in (PACKAGE / "engines").rglob("*.py") if p.stem in {"manager", "fake", "faults"})
    assert lifecycle == [], "replica lifecycle modules belong in blaze_lab/replicas/"


def test_replicas_never_import_the_router() -> None:
    assert _importers("blaze_lab.replicas", ("blaze_lab.router",)) == []


def test_modules_stay_small() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}
