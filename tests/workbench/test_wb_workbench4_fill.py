"""Workbench IV (issue 21), items 7, 11 and 12: no contradictions (Draw's message follows the
loaded run, the Data tab says while the automatic split is worked out instead of "train 0"),
no wasted space (the Draw canvas grows, Runs opens with runs ticked), feedback where the user
acted (the export confirmation beside the Export button)."""

from __future__ import annotations

import re
import shutil

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from tests_workbench_helpers import document as _doc
from tests_workbench_helpers import shown_tab as _tab
from tests_workbench_helpers import wait_no_threads as _idle
from wb2_helpers import trained_tiny

from siam_workbench.app.document import ProjectDocument
from siam_workbench.project.project import create_project, load_project


def test_draw_message_follows_the_loaded_run_and_the_canvas_grows(qtbot, tmp_path):
    from siam_workbench.app.draw_tab import DrawTab

    root = trained_tiny().copy_to(tmp_path / "p")
    shutil.move(root / "runs", tmp_path / "runs-away")
    tab = _tab(qtbot, DrawTab, _doc(root))
    assert "No trained run yet" in tab.results_message.text()

    # A run appears (it finished while the tab was open): once its model is loaded, nothing
    # may still say there is no trained run.
    shutil.move(tmp_path / "runs-away", root / "runs")
    tab.refresh()
    qtbot.waitUntil(lambda: tab.run_model is not None, timeout=60_000)
    assert tab.run_combo.currentText().startswith("★")
    assert "No trained run" not in tab.results_message.text()
    assert "Loading" not in tab.results_message.text()
    assert "Draw a character" in tab.results_message.text()

    # The canvas grows with the window; the drawing keeps its logical size and strokes land
    # where the pointer was.
    qtbot.waitUntil(lambda: tab.canvas.view_px() >= tab.canvas.logical_px, timeout=10_000)
    small = tab.canvas.view_px()
    tab.resize(1900, 1040)
    qtbot.waitUntil(lambda: tab.canvas.view_px() > small + 100, timeout=10_000)
    k = tab.canvas.view_scale()
    assert k > 1.2
    QTest.mousePress(tab.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(int(100 * k), int(100 * k)))
    QTest.mouseMove(tab.canvas, QPoint(int(250 * k), int(100 * k)))
    QTest.mouseRelease(tab.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(int(250 * k), int(100 * k)))
    image = tab.canvas.image()
    assert image.shape == (tab.canvas.logical_px, tab.canvas.logical_px)
    assert image[100, 175] < 128 and image[300, 175] > 250  # ink on the stroke, none elsewhere
    qtbot.waitUntil(lambda: not tab.busy(), timeout=60_000)
    _idle(qtbot)


def test_fresh_project_shows_its_automatic_split_never_zeros(qtbot, tmp_path):
    from siam_workbench.app.data_tab import DataTab

    root = tmp_path / "fresh"
    create_project(root, name="fresh", alphabet="digits")
    doc = ProjectDocument()
    tab = _tab(qtbot, DataTab, doc)
    texts: list[str] = []
    busy: list[bool] = []
    set_text = tab.font_status.setText

    def record(text: str) -> None:
        texts.append(text)
        busy.append(tab.fonts_busy.isVisible())
        set_text(text)

    tab.font_status.setText = record
    doc.set_project(load_project(root))
    assert tab.fonts_busy.isVisible()  # an indicator from the first moment
    qtbot.waitUntil(tab.wait_idle, timeout=120_000)
    assert not tab.fonts_busy.isVisible()
    assert texts[0] == "Scanning fonts…"
    final = tab.font_status.text()
    m = re.search(r"train (\d+), val (\d+), test (\d+)", final)
    assert m and all(int(n) > 0 for n in m.groups()), final
    assert "automatic split" in final
    # Until the roles were known the status said they were being worked out, never "train 0".
    assert not any("train 0," in t for t in texts), texts
    assert any("working out the automatic split" in t for t in texts) or len(texts) <= 3
    assert {"train", "val", "test"} <= {row.role for row in tab.model.rows}
    _idle(qtbot)


def test_runs_open_with_the_best_and_newest_ticked_and_export_says_so_beside_it(qtbot,
                                                                               tmp_path):
    from siam_workbench.app.runs_tab import RunsTab

    root = trained_tiny().copy_to(tmp_path / "p")
    shutil.move(root / "runs", tmp_path / "runs-away")
    doc = _doc(root)
    tab = _tab(qtbot, RunsTab, doc)
    assert tab.checked_ids() == []
    # The first runs appear in a project that had none: Compare has something to show.
    shutil.move(tmp_path / "runs-away", root / "runs")
    tab.refresh()
    assert tab._best is not None and tab._best in tab.checked_ids()
    qtbot.waitUntil(lambda: bool(tab.summaries), timeout=60_000)
    assert tab.right.currentWidget() is tab.compare_view

    # Reopening the project: the ★ best run ticked and selected.
    doc.set_project(load_project(root))
    assert tab._best in tab.checked_ids()
    assert tab.current_run().name == tab._best

    # A user's "None" is kept on refresh.
    tab.set_checked([])
    tab.refresh()
    assert tab.checked_ids() == []

    # The export confirmation is on the page the user exported from, not on Compare.
    tab.pages.setCurrentWidget(tab.evaluate_panel)
    out = tmp_path / "model.pt"
    tab.export_model(out)
    qtbot.waitUntil(lambda: "Wrote" in tab.run_message.text(), timeout=60_000)
    assert tab.run_message.isVisible() and str(out) in tab.run_message.text()
    _idle(qtbot)


def test_window_shows_before_the_project_opens_then_fills_with_indicators(make_window, qtbot,
                                                                          tmp_path):
    from siam_workbench.app.app import open_after_paint

    root = tmp_path / "fresh"
    create_project(root, name="fresh", alphabet="digits")
    w = make_window()
    open_after_paint(w, root)
    # Shown at once, saying what it opens; the project loads from the event loop.
    assert w.isVisible() and w.doc.project is None
    assert "Opening" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: w.doc.project is not None, timeout=60_000)
    # The fonts part has its own indicator while it loads, gone once it is known.
    qtbot.waitUntil(lambda: w.data_tab.wait_idle(), timeout=120_000)
    assert not w.data_tab.fonts_busy.isVisible()
    _idle(qtbot)


def test_run_evaluations_share_one_job_base_with_cancel_after_loading(tmp_path):
    import pytest

    from siam_workbench.app.evaluate_panel import EvaluateJob
    from siam_workbench.app.fewshot_box import EpisodeJob
    from siam_workbench.app.workers import RunEvaluationJob
    from siam_workbench.base.errors import Cancelled

    tr = trained_tiny()
    data = tr.root / "data" / "val.h5"
    for job in (EvaluateJob(tr.run_dir, data), EpisodeJob(tr.run_dir, data, "last",
                                                          {"episodes": 2, "way": 3})):
        assert isinstance(job, RunEvaluationJob)
        job.cancel()
        with pytest.raises(Cancelled):  # loaded, then the cancel is honoured before any work
            job.work()
    got: list[tuple[int, int]] = []
    job = EvaluateJob(tr.run_dir, data)
    job.progress.connect(lambda d, t: got.append((d, t)))
    out = job.work()
    assert out["result"]["n"] > 0 and got and got[-1][0] == got[-1][1]  # the last one sent
