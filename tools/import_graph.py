"""Draw the package's layers and the imports between them, from the code itself.

import-linter (run by ``make test``) refuses an import that breaks a contract, but a contract
only says what must not happen; a reviewer also wants to see what *does* happen — which layer
leans on which, and where torch, h5py and Qt come in. This script reads the real imports with
grimp (import-linter's own graph builder, so both see the same edges) and writes
``docs/IMPORTS.md``: a Mermaid picture of the layers with every layer-to-layer arrow that
exists, a table of the third-party packages each layer imports, and a verdict on arrows that
point up and on cycles between layers.

The layer order is read from the layers contract in ``pyproject.toml``, so the picture and the
linter cannot disagree about it. ``--check`` regenerates the page in memory and fails when the
committed one is stale or the verdict is not clean; ``tests/test_import_graph.py`` runs it.

Counts (modules, lines, imports per arrow) are left out on purpose: they change with every
edit and would make the page stale for no reason; an arrow appears or disappears only when the
structure does.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "siam_workbench"
PAGE = ROOT / "docs" / "IMPORTS.md"
# Third-party packages worth a column: the heavy or platform-bound ones a reader asks about.
WATCHED = ("numpy", "torch", "h5py", "PIL", "freetype", "fontTools", "tomlkit", "onnx",
           "onnxruntime", "faiss", "PySide6", "shiboken6", "pyqtgraph")


def layer_ranks(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, int]:
    """Layer name → rank (0 = bottom) from the layers contract; siblings share a rank."""
    conf = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    contracts = conf["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c.get("type") == "layers")
    ranks: dict[str, int] = {}
    for rank, entry in enumerate(reversed(layers)):  # the contract lists top first
        for name in entry.split("|"):
            ranks[name.strip().removeprefix(PACKAGE + ".")] = rank
    return ranks


@dataclass
class Picture:
    """What the page shows: layer arrows, third-party use per layer, and what is wrong."""

    ranks: dict[str, int]
    arrows: set[tuple[str, str]] = field(default_factory=set)
    external: dict[str, set[str]] = field(default_factory=dict)
    outside: dict[str, set[str]] = field(default_factory=dict)  # no layer: its internal imports

    @property
    def upward(self) -> list[tuple[str, str]]:
        """Arrows from a layer to one above it or beside it (train ↔ infer)."""
        return sorted((a, b) for a, b in self.arrows
                      if a in self.ranks and b in self.ranks and self.ranks[b] >= self.ranks[a])

    @property
    def cycles(self) -> list[list[str]]:
        """Strongly connected groups of more than one layer (Tarjan's algorithm)."""
        nodes = sorted({n for arrow in self.arrows for n in arrow})
        succ: dict[str, list[str]] = {n: [] for n in nodes}
        for a, b in self.arrows:
            succ[a].append(b)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(n: str) -> None:
            index[n] = low[n] = len(index)
            stack.append(n)
            on_stack.add(n)
            for m in succ[n]:
                if m not in index:
                    visit(m)
                    low[n] = min(low[n], low[m])
                elif m in on_stack:
                    low[n] = min(low[n], index[m])
            if low[n] == index[n]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == n:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

        for n in nodes:
            if n not in index:
                visit(n)
        return sorted(found)


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else ""


def picture_from_edges(edges: Iterable[tuple[str, str]], ranks: dict[str, int]) -> Picture:
    """Collapse module imports (importer, imported) to layer arrows."""
    pic = Picture(ranks=ranks)
    for importer, imported in edges:
        src = _layer_of(importer)
        if src is None:
            continue
        dst = _layer_of(imported)
        if src not in ranks:
            used = pic.outside.setdefault(src or "(root)", set())
            if dst is not None and dst != src:
                used.add(dst or "(root)")
            continue
        if dst is None:
            top = imported.split(".")[0]
            if top in WATCHED:
                pic.external.setdefault(src, set()).add(top)
        elif dst != src and dst in ranks:
            pic.arrows.add((src, dst))
    return pic


def build_picture() -> Picture:
    """The picture of the installed (or ``src/``) package, as import-linter sees it."""
    import grimp

    graph = grimp.build_graph(PACKAGE, include_external_packages=True,
                              exclude_type_checking_imports=True)
    edges = [(m, imported) for m in graph.modules if m.startswith(PACKAGE)
             for imported in graph.find_modules_directly_imported_by(m)]
    return picture_from_edges(edges, layer_ranks())


def render(pic: Picture) -> str:
    """The Markdown page (deterministic: sorted everywhere)."""
    by_rank: dict[int, list[str]] = {}
    for name, rank in pic.ranks.items():
        by_rank.setdefault(rank, []).append(name)
    lines = [
        "# The imports, drawn from the code",
        "",
        "Generated by `python tools/import_graph.py` from the real imports (grimp, as",
        "import-linter reads them; imports under `if TYPE_CHECKING:` left out). Layers bottom to",
        "top as the layers contract in `pyproject.toml` orders them; an arrow means at least one",
        "module of the upper layer imports one of the lower. `make test` fails when this page is",
        "stale (`tests/test_import_graph.py`).",
        "",
        "```mermaid",
        "flowchart BT",
    ]
    for rank in sorted(by_rank):
        names = sorted(by_rank[rank])
        if len(names) > 1:
            lines.append(f"  subgraph r{rank}[\" \"]")
            lines.extend(f"    {n}[{n}]" for n in names)
            lines.append("  end")
        else:
            lines.append(f"  {names[0]}[{names[0]}]")
    for a, b in sorted(pic.arrows):
        lines.append(f"  {a} --> {b}")
    lines += ["```", "", "## Third-party packages by layer", "",
              "| layer | imports |", "|---|---|"]
    for rank in sorted(by_rank, reverse=True):
        for name in sorted(by_rank[rank]):
            used = ", ".join(sorted(pic.external.get(name, ()), key=str.lower)) or "—"
            lines.append(f"| {name} | {used} |")
    lines += ["", "## Verdict", ""]
    up = pic.upward
    lines.append("- Arrows that point up a layer or across between siblings: "
                 + (", ".join(f"{a} → {b}" for a, b in up) if up else "none."))
    cyc = pic.cycles
    lines.append("- Cycles between layers: "
                 + ("; ".join(" ↔ ".join(c) for c in cyc) if cyc else "none."))
    qt = sorted(n for n, used in pic.external.items()
                if used & {"PySide6", "shiboken6", "pyqtgraph"} and n != "app")
    lines.append("- Qt below `app`: " + (", ".join(qt) if qt else "none."))
    for name, used in sorted(pic.outside.items()):
        lines.append(f"- `{name}` is in no layer, so every layer may use it; it imports "
                     + (", ".join(sorted(used)) if used else "nothing of the package") + ".")
    return "\n".join(lines) + "\n"


def problems(pic: Picture) -> list[str]:
    """What makes the verdict unclean, one line each."""
    out = [f"{a} imports {b}, which is not below it" for a, b in pic.upward]
    out += ["a cycle between layers: " + " ↔ ".join(c) for c in pic.cycles]
    out += [f"{name}, in no layer, imports {', '.join(sorted(used))}"
            for name, used in sorted(pic.outside.items()) if used]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="fail if docs/IMPORTS.md is stale or the verdict is not clean")
    args = ap.parse_args(argv)
    pic = build_picture()
    text = render(pic)
    if args.check:
        bad = problems(pic)
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            bad.append(f"{PAGE.relative_to(ROOT)} is stale: run python tools/import_graph.py")
        for line in bad:
            print(line, file=sys.stderr)
        return 1 if bad else 0
    tmp = PAGE.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(PAGE)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
