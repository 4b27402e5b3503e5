"""Runs tab: two real runs overlaid (two curves, two table rows, the differing settings), CSV and
PNG export, a broken run reported by name, and the empty states."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtGui import QImage
from wb2_helpers import train, trained_tiny

from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.runs_tab import RunsTab
from siam_workbench.app.workers import live_threads
from siam_workbench.project.project import load_project


def _open(qtbot, root: Path | None) -> tuple[ProjectDocument, RunsTab]:
    doc = ProjectDocument()
    if root is not None:
        doc.set_project(load_project(root))
    tab = RunsTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1080, 760)
    tab.show()
    return doc, tab


def test_two_runs_overlaid_and_exported(qtbot, tmp_path):
    root = trained_tiny().copy_to(tmp_path / "p")
    train(root, "run-rnd-rnd", {"mining": {"positive": "random", "negative": "random"},
                                "loss": {"kind": "triplet", "alpha": 1.0},
                                "train": {"epochs": 1, "iterations": 3}})
    broken = root / "runs" / "run-broken"
    broken.mkdir()
    (broken / "config.toml").write_text("[[[ not toml", encoding="utf-8")

    doc, tab = _open(qtbot, root)
    tab.set_checked(["run-ap-ac", "run-rnd-rnd"])
    qtbot.waitUntil(lambda: len(tab.summaries) == 2, timeout=60_000)

    assert tab.plotted_runs() == 2  # one loss curve per run
    acc_curves = tab.acc_plot.getPlotItem().listDataItems()
    assert len(acc_curves) == 4  # top-1 and top-5 per run
    legend = tab.legend.text()
    assert "run-ap-ac (auto-probabilistic+auto-clustering, metric)" in legend
    assert "run-rnd-rnd (random+random, triplet)" in legend
    assert tab.table.rowCount() == 2
    header = [tab.table.horizontalHeaderItem(c).text() for c in range(tab.table.columnCount())]
    for key in ("final top1", "best top5", "wall s", "mining.positive", "loss.kind",
                "train.epochs"):
        assert key in header, header
    assert {tab.table.item(r, 0).text() for r in range(2)} == {"run-ap-ac", "run-rnd-rnd"}
    assert tab.log_check.isChecked()  # different losses: log axis

    out = tab.export_csv(tmp_path / "runs.csv")
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert len(rows) == 3 and rows[0][0] == "run" and "mining.negative" in rows[0]
    assert {r[0] for r in rows[1:]} == {"run-ap-ac", "run-rnd-rnd"}
    png = tab.export_png(tmp_path / "runs.png")
    img = QImage(str(png))
    assert not img.isNull() and img.width() > 300

    # The broken run is listed and, when ticked, reported by name; the others still show.
    tab.set_checked(["run-ap-ac", "run-rnd-rnd", "run-broken"])
    qtbot.waitUntil(lambda: len(tab.summaries) == 3 or "could not read" in tab.message.text(),
                    timeout=60_000)
    assert tab.plotted_runs() == 2 and tab.table.rowCount() >= 2
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)


def test_runs_tab_empty_states(qtbot, tmp_path):
    doc, tab = _open(qtbot, None)
    assert tab.right.currentWidget() is tab.empty and "Open a project" in tab.empty.text()
    root = tmp_path / "empty"
    root.mkdir()
    (root / "project.toml").write_text('[project]\nname = "e"\n', encoding="utf-8")
    doc.set_project(load_project(root))
    assert "No runs yet" in tab.empty.text()
    qtbot.waitUntil(lambda: not live_threads(), timeout=60_000)
