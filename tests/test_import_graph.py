"""The import picture in docs/IMPORTS.md is the code's, and its verdict catches what it claims.

The page is generated from the real imports; a stale page would show a structure the code no
longer has. The verdict's checks (an arrow up a layer, an arrow across siblings, a cycle, a
module outside the layers importing the package) are checked on edges made up to break them,
so a check that stopped working would fail here rather than print "none" forever.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    path = ROOT / "tools" / "import_graph.py"
    spec = importlib.util.spec_from_file_location("import_graph", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_committed_page_is_current_and_clean(capsys) -> None:
    tool = _tool()
    assert tool.main(["--check"]) == 0, capsys.readouterr().err


def test_layer_order_comes_from_the_contract() -> None:
    ranks = _tool().layer_ranks()
    assert ranks["base"] == 0 and ranks["app"] == max(ranks.values())
    assert ranks["train"] == ranks["infer"]  # siblings
    assert ranks["data"] < ranks["model"] < ranks["parts"] < ranks["project"] < ranks["train"]


def test_verdict_reports_upward_sideways_cycles_and_outsiders() -> None:
    tool = _tool()
    ranks = tool.layer_ranks()
    p = "siam_workbench."
    clean = [(p + "train.trainer", p + "parts.losses.metric"), (p + "parts.augment", "torch")]
    pic = tool.picture_from_edges(clean, ranks)
    assert tool.problems(pic) == []
    assert pic.external == {"parts": {"torch"}}
    assert "none." in tool.render(pic)

    bad = clean + [(p + "base.errors", p + "app.shell"),        # up
                   (p + "train.step", p + "infer.query"),       # across siblings
                   (p + "infer.query", p + "train.step"),       # ...and back: a cycle
                   (p + "resources", p + "data.fonts")]         # outside the layers
    found = tool.problems(tool.picture_from_edges(bad, ranks))
    assert "base imports app, which is not below it" in found
    assert "train imports infer, which is not below it" in found
    assert "infer imports train, which is not below it" in found
    assert "a cycle between layers: infer ↔ train" in found
    assert "resources, in no layer, imports data" in found
