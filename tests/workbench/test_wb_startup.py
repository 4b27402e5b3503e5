"""Workbench IV (issue 21), items 5 and 13: the window's own readiness signal (settled once
every part that loads on opening has loaded, the status bar saying "loading…" until then), the
tabs a user has not opened built only when shown, the training stack imported after settling,
and a new run clearing the read-out the last one left in the Train tab."""

from __future__ import annotations

from tests_workbench_helpers import shown_tab as _tab
from tests_workbench_helpers import wait_no_threads as _idle
from wb2_helpers import trained_tiny

from siam_workbench.app.main_window import TAB_ATTRS


def test_settled_after_every_part_loaded_and_tabs_built_when_shown(make_window, qtbot,
                                                                    tmp_path):
    from siam_workbench.app.startup import loader_threads

    root = trained_tiny().copy_to(tmp_path / "p")
    w = make_window()
    assert w.tracker.done and w._prewarm is None  # nothing opened, nothing waited for
    settled: list[float] = []
    w.tracker.settled.connect(settled.append)
    assert w.open_project(root)
    # Opening starts the wait: the window says it is still loading.
    assert not w.tracker.done and w.state_label.text() == "loading…"
    assert w.tracker.loading()  # the fonts at least
    qtbot.waitUntil(lambda: bool(settled), timeout=120_000)
    # Settled means loaded: the fonts' coverage and roles, the glyph browser, no loader left.
    assert w.data_tab.wait_idle() and not w.data_tab.browser.busy()
    assert not loader_threads() and w.tracker.loading() == []
    assert w.state_label.text() == "idle"
    # Only the tab on screen was built; the training stack is imported now, not before.
    assert w.built_tabs() == ["data_tab"]
    assert w._prewarm is not None
    assert len(settled) == 1

    # A tab is built when shown, in its own place, and shows the open project.
    w.tabs.setCurrentIndex(TAB_ATTRS.index("runs_tab"))
    assert "runs_tab" in w.built_tabs()
    assert w.tabs.currentWidget() is w.runs_tab
    qtbot.waitUntil(lambda: len(w.runs_tab.summaries) == 1, timeout=60_000)
    # Asked for in code (a menu action, a script), a tab is built as well; the Train tab shows
    # the project's latest run as if it had been there when the project opened.
    train = w.train_tab
    assert w.tabs.widget(TAB_ATTRS.index("train_tab")) is train
    assert train.run_dir is not None and train.run_dir.name == "run-ap-ac"
    assert train.form.editors["train.epochs"].widget.value() == w.project.config.train.epochs
    _idle(qtbot)


def test_a_new_run_clears_the_last_runs_read_out(qtbot, tmp_path, recorder):
    """Issue 21 #5: the hover read-out of one run never stays on the next run's plots."""
    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.plots import READOUT_HINT
    from siam_workbench.app.train_tab import TrainTab
    from siam_workbench.project.project import load_project

    root = trained_tiny().copy_to(tmp_path / "p")
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    tab = _tab(qtbot, TrainTab, doc)
    assert tab.show_run(root / "runs" / "run-ap-ac")
    plots = tab.plots
    vb = plots.loss_plot.getPlotItem().vb
    plots._hover(plots.loss_plot, vb.mapViewToScene(vb.mapSceneToView(
        vb.sceneBoundingRect().center())))
    assert plots.readout.text() != READOUT_HINT and "iteration" in plots.readout.text()
    assert tab.start()  # a new run of the same project
    assert plots.readout.text() == READOUT_HINT
    assert not any(line.isVisible() for line in plots.hover_lines)
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy, timeout=120_000)
    _idle(qtbot)
