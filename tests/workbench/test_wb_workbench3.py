"""Workbench III (issue 11): evaluation and export from the GUI, the miners' "why", readable
plots, no stale state, the Data tab, the form, size modes, run management, help, start-up
feedback, layout at 1280×720, and guided training — each against real (tiny) runs."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from PySide6.QtWidgets import QWidget
from tests_workbench_helpers import document as _doc
from tests_workbench_helpers import shown_tab as _tab
from tests_workbench_helpers import wait_no_threads as _idle
from wb2_helpers import hangul_classes, trained_tiny, write_synthetic_run

from siam_workbench.project.project import load_project
from siam_workbench.train.events import RunPreparing


# -- 1. evaluate and export from the Runs tab ----------------------------------------------------
def test_evaluate_from_the_runs_tab_per_class_pairs_and_test_column(qtbot, tmp_path):
    from siam_workbench.app.runs_tab import RunsTab

    root = trained_tiny().copy_to(tmp_path / "p")
    tab = _tab(qtbot, RunsTab, _doc(root))
    qtbot.waitUntil(lambda: len(tab.summaries) == 1, timeout=30_000)
    panel = tab.evaluate_panel
    assert panel.run_combo.count() == 1
    panel.select_split("val")
    progress = []
    assert panel.start()
    panel.job.progress.connect(lambda d, t: progress.append((d, t)))
    qtbot.waitUntil(lambda: panel.last is not None and not panel.busy(), timeout=60_000)
    result = panel.last["result"]
    assert panel.model.rowCount() == 12  # every class of the run, worst first
    assert "top-1" in panel.summary.text() and "val" in panel.summary.text()
    assert panel.pairs.count() >= 1
    kept = json.loads((root / "runs" / "run-ap-ac" / "evaluations.json").read_text())
    assert kept["val"]["top1"] == pytest.approx(result["top1"])
    # A test-file evaluation fills the comparison table's test column.
    shutil.copy(root / "data" / "val.h5", root / "data" / "test.h5")
    panel.select_split("test")
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    qtbot.waitUntil(lambda: tab.rows and tab.rows[0][tab.header.index("test_top1")]
                    is not None, timeout=30_000)
    # Cancel stops the evaluation and leaves the kept result alone.
    assert panel.start()
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    _idle(qtbot)


def test_export_from_the_runs_tab_loads_without_the_package(qtbot, tmp_path):
    import torch

    from siam_workbench.app.runs_tab import RunsTab

    root = trained_tiny().copy_to(tmp_path / "p")
    tab = _tab(qtbot, RunsTab, _doc(root))
    out = tmp_path / "model.pt"
    runner = tab.export_model(out)
    qtbot.waitUntil(lambda: out.exists() and "Wrote" in tab.run_message.text(), timeout=60_000)
    module = torch.jit.load(str(out))
    dist, idx = module.classify(torch.zeros(2, 1, 37, 37), 3)
    assert idx.shape == (2, 3)
    assert runner is not None
    _idle(qtbot)


# -- 2. miners: why, formula, readable cluster graph, labelled history ------------------------
def test_why_view_measures_errors_and_names_confusers(qtbot):
    from siam_workbench.app.miners_tab import MinersTab

    tr = trained_tiny()
    tab = _tab(qtbot, MinersTab, _doc(tr.root))
    qtbot.waitUntil(lambda: tab.history is not None and tab.source == str(tr.run_dir),
                    timeout=30_000)
    tab.views.setCurrentWidget(tab.why)
    why = tab.why
    assert "γ = 2" in why.formula.text() and "θ = 0.5" in why.formula.text()
    assert "η = 10" in why.formula.text()
    qtbot.waitUntil(lambda: why.measured is not None and why.runner is None, timeout=60_000)
    x, y = why.scatter.getData()
    assert len(x) == 12 and np.all((y >= 0) & (y <= 1))
    assert why.effect is not None and why.effect.n == 12
    assert "Does the miner push" in why.verdict.text()
    worst = int(np.nanargmax(why.measured["error"]))
    tab.select_class(worst)
    if why.measured["error"][worst] > 0:
        assert why.confuser_list.count() >= 1
        assert "×" in why.confuser_list.item(0).text()
    _idle(qtbot)


def test_cluster_graph_readable_at_2350_classes(qtbot, tmp_path):
    from siam_workbench.app.cluster_graph import COLORED, color_index
    from siam_workbench.app.miners_tab import MinersTab

    root = tmp_path / "big"
    root.mkdir()
    (root / "project.toml").write_text('[project]\nname = "big"\n[data]\nalphabet = '
                                       '"hangul-2350"\n', encoding="utf-8")
    data = write_synthetic_run(root / "runs" / "big", hangul_classes(2350), epochs=3, eta=900)
    tab = _tab(qtbot, MinersTab, _doc(root))
    qtbot.waitUntil(lambda: tab.history is not None and tab.source is not None
                    and tab.source.endswith("big"), timeout=30_000)
    clusters = data["clusters"][-1]
    idx = color_index(clusters)
    assert len(set(idx[clusters >= 0])) <= COLORED + 1  # colour only for the largest ones
    sizes = np.bincount(clusters[clusters >= 0])
    assert idx[clusters == int(np.argmax(sizes))][0] == 0  # the largest gets the first colour
    tab.views.setCurrentWidget(tab.graph)
    qtbot.waitUntil(lambda: tab.graph.shown.size > 0, timeout=60_000)
    target = int(np.flatnonzero(clusters >= 0)[0])
    graph = tab.graph
    assert graph.find(hangul_classes(2350)[target]) == target
    members = int((clusters == clusters[target]).sum())
    assert len(graph.cluster_ring.getData()[0]) == members  # the selected cluster, outlined
    qtbot.waitUntil(lambda: graph.labelled() > 0, timeout=10_000)  # zoomed: glyph labels
    assert graph.labelled() <= 150
    # History rows are labelled by class once zoomed in.
    tab.views.setCurrentIndex(1)
    axis = tab.heatmap.axis
    assert len(axis.names) == 2350 and axis.names[0] == hangul_classes(2350)[
        int(np.argmax(data["probabilities"][-1]))]
    strings = axis.tickStrings([0.5, 1.5], 1.0, 1.0)
    assert strings == axis.names[:2]
    _idle(qtbot)


def test_plugin_series_are_selectable(qtbot, tmp_path):
    from siam_workbench.app.miners_tab import MinersTab

    root = trained_tiny().copy_to(tmp_path / "p")
    run = root / "runs" / "run-ap-ac"
    with h5py.File(run / "mining.h5", "a") as h5:
        e, c = h5["probabilities"].shape
        h5.create_dataset("extra/val_error", data=np.random.default_rng(0).random((e, c)))
    tab = _tab(qtbot, MinersTab, _doc(root))
    qtbot.waitUntil(lambda: tab.history is not None and "val_error" in tab.history.extra,
                    timeout=30_000)
    assert tab.series_combo.findData("val_error") >= 0
    tab.series_combo.setCurrentIndex(tab.series_combo.findData("val_error"))
    x, y = tab.curve.getData()
    assert len(y) == c and np.all(np.diff(y) <= 0)  # sorted, largest first
    tab.views.setCurrentIndex(1)
    assert tab.heat_kind.findData("val_error") >= 0
    _idle(qtbot)


def test_class_table_sorts_as_its_arrow_says_and_selection_does_not_move_layout(qtbot):
    from PySide6.QtCore import Qt

    from siam_workbench.app.miners.class_table import ClassTableModel
    from siam_workbench.app.miners_tab import MinersTab

    tr = trained_tiny()
    tab = _tab(qtbot, MinersTab, _doc(tr.root))
    qtbot.waitUntil(lambda: tab.history is not None, timeout=30_000)
    qtbot.waitUntil(lambda: tab.table_model.rowCount() == 12, timeout=30_000)
    m = tab.table_model
    m.sort(ClassTableModel.COL_P, Qt.SortOrder.AscendingOrder)
    ps = m.p[m.rows]
    assert np.all(np.diff(ps) >= 0)
    m.sort(ClassTableModel.COL_P, Qt.SortOrder.DescendingOrder)
    assert np.all(np.diff(m.p[m.rows]) <= 0)

    def geometry() -> dict[str, tuple[int, int]]:
        out = {}
        for name in ("curve_plot", "bars", "table", "history_plot", "neighbors", "graph"):
            w: QWidget = getattr(tab, name)
            if w.isVisible():
                out[name] = (w.mapTo(tab, w.rect().topLeft()).y(), w.height())
        return out

    qtbot.wait(300)
    before = geometry()
    tab.select_class(3)
    qtbot.wait(300)
    assert geometry() == before
    tab.views.setCurrentWidget(tab.graph)
    qtbot.wait(300)
    side = (tab.graph.members.mapTo(tab, tab.graph.members.rect().topLeft()).y(),
            tab.graph.members.height())
    tab.select_class(5)
    qtbot.wait(300)
    assert (tab.graph.members.mapTo(tab, tab.graph.members.rect().topLeft()).y(),
            tab.graph.members.height()) == side
    _idle(qtbot)


# -- 3. plots -------------------------------------------------------------------------------------
def test_training_plots_parts_epochs_hover_smoothing_baseline(qtbot):
    from siam_workbench.app.history import read_metrics
    from siam_workbench.app.plots import TrainingPlots

    tr = trained_tiny()
    h = read_metrics(tr.run_dir)
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.show_history(h, force=True)
    assert set(plots.part_plots) == {"g1", "g2", "g3"}  # each part on its own axes
    assert all(plots.part_plots[k].isVisible() for k in ("g1", "g2", "g3"))
    assert len({p.getPlotItem().getViewBox() for p in plots.part_plots.values()}) == 3
    lines = [ln for ln in plots.epoch_lines[0].lines if ln.isVisible()]
    assert len(lines) == 2  # 3 epochs: 2 boundaries
    assert plots.baseline_line.isVisible()
    assert any(e[0].startswith("pixel NN") for e in plots.acc_plot.entries)
    assert plots.acc_plot.ylabel == "accuracy"  # the legend names the sets and line styles
    y90 = plots.smooth_curve.getData()[1].copy()
    plots.smoothing.setValue(0)
    assert np.allclose(plots.smooth_curve.getData()[1], h.loss.view())
    assert not np.allclose(y90, h.loss.view())
    vb = plots.loss_plot.getPlotItem().vb
    pos = vb.mapViewToScene(vb.mapSceneToView(vb.sceneBoundingRect().center()))
    plots._hover(plots.loss_plot, pos)
    text = plots.readout.text()
    assert "iteration" in text and "g2" in text and "epoch" in text


def test_runs_compared_by_accuracy_with_a_loss_caveat(qtbot, tmp_path):
    from wb2_helpers import train

    from siam_workbench.app.runs_tab import RunsTab

    root = trained_tiny().copy_to(tmp_path / "p")
    train(root, "run-rnd", {"mining": {"positive": "random", "negative": "random"},
                            "train": {"epochs": 1, "iterations": 3}})
    tab = _tab(qtbot, RunsTab, _doc(root))
    tab.set_checked(["run-ap-ac", "run-rnd"])
    qtbot.waitUntil(lambda: len(tab.summaries) == 2, timeout=30_000)
    assert "different miners" in tab.caveat.text() and tab.caveat.isVisible()
    assert "(val)" in tab.legend.text()
    assert "held-out fonts" in tab.acc_plot.getPlotItem().getAxis("left").labelText
    assert "test_top1" in tab.header
    _idle(qtbot)


# -- 4. no stale state ----------------------------------------------------------------------------
def test_project_switch_watcher_and_best_run(make_window, qtbot, tmp_path):
    root = trained_tiny().copy_to(tmp_path / "p")
    other = tmp_path / "q"
    other.mkdir()
    (other / "project.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    w = make_window(root)
    assert "run-ap-ac" in w.train_tab.plots.summary.text()
    assert w.train_tab.progress_label.text() == ""
    w.tabs.setCurrentWidget(w.draw_tab)
    qtbot.waitUntil(lambda: w.draw_tab.run_model is not None, timeout=60_000)
    assert w.draw_tab.run_combo.currentText().startswith("★ run-ap-ac")
    # A data file deleted behind the app's back is noticed.
    (root / "data" / "val.h5").unlink()
    qtbot.waitUntil(lambda: any("not rendered" in w.panel.datasets.child(i).text(0)
                                for i in range(w.panel.datasets.childCount())), timeout=10_000)
    # Another project: every view resets to it.
    assert w.open_project(other, ask_save=False)
    assert "No run in this project" in w.train_tab.plots.summary.text()
    assert len(w.train_tab.history) == 0
    assert w.draw_tab.run_model is None
    _idle(qtbot)


def test_live_status_and_interrupted_runs_in_the_panel(qtbot, tmp_path):
    from siam_workbench.app.project_panel import DETAIL_ROLE, ProjectPanel

    root = trained_tiny().copy_to(tmp_path / "p")
    run = root / "runs" / "run-ap-ac"
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps(dict(status, status="interrupted")))
    panel = ProjectPanel()
    qtbot.addWidget(panel)
    panel.refresh(load_project(root))
    item = panel.run_items()[0]
    assert item.data(0, DETAIL_ROLE).startswith("interrupted")
    assert not item.icon(0).isNull()
    panel.live = (run, "running")
    panel.refresh(keep=True)
    assert panel.run_items()[0].data(0, DETAIL_ROLE).startswith("running")


# -- 5. data tab ----------------------------------------------------------------------------------
def test_exclusions_survive_rerendering_and_find_highlights(make_window, qtbot, rendered_dir):
    from tests_workbench_helpers import wait_fonts, wait_idle

    from siam_workbench.data.glyphs import exclusion_keys

    w = make_window(rendered_dir)
    wait_fonts(qtbot, w)
    b = w.data_tab.browser
    qtbot.waitUntil(lambda: b.index is not None and not b.busy(), timeout=30_000)
    ix = b.index
    assert b.model.columnCount() == len(ix.source_names) * ix.variants  # every face
    assert b.view.horizontalHeader().height() > 80  # rotated, readable names
    assert b.toggle_excluded(0) is True
    keys = exclusion_keys(ix.path)
    assert w.data_tab.render(force=True)
    wait_idle(qtbot, w)
    assert exclusion_keys(ix.path) == keys
    assert "exclusion kept" in w.data_tab.render_info.text()
    qtbot.waitUntil(lambda: b.index is not None and not b.busy(), timeout=30_000)
    b.search.setText("7")
    b._find()
    qtbot.waitUntil(lambda: b.highlighted() == b.index.classes.index("7"), timeout=10_000)


def test_missing_glyphs_named_and_split_switch_said(make_window, qtbot, tmp_path):
    from tests_workbench_helpers import wait_fonts

    from siam_workbench.app.data_tab import missing_names

    text = missing_names({"DejaVuSerif.ttf#0": ["ℤ", "ℚ"], "Gulim.ttf#0": ["ß"]})
    assert "ℤ ℚ in DejaVuSerif" in text and "ß in Gulim" in text
    root = tmp_path / "auto"
    root.mkdir()
    (root / "project.toml").write_text('[project]\nname = "auto"\n[data]\nalphabet = '
                                       '"digits"\n', encoding="utf-8")
    w = make_window(root)
    wait_fonts(qtbot, w)
    tab = w.data_tab
    assert tab.select_faces(lambda r: r.role == "train") >= 1
    n_val = sum(1 for r in tab.model.rows if r.role == "val")
    assert tab.select_faces(lambda r: r.role == "train" and r.face is not None) >= 1
    first = tab.selected_rows()[:1]
    assert tab.assign_role("val", first)
    assert tab.split_note.isVisible() and "explicit" in tab.split_note.text()
    qtbot.waitUntil(lambda: tab.roles_done, timeout=60_000)
    # Every face the user did not touch kept its role.
    assert sum(1 for r in tab.model.rows if r.role == "val") == n_val + 1


# -- 6. form --------------------------------------------------------------------------------------
def test_form_labels_and_irrelevant_settings(qtbot, project_dir):
    from siam_workbench.app.config_form import ConfigForm, label_for

    doc = _doc(project_dir)
    form = ConfigForm(doc)
    qtbot.addWidget(form)
    assert label_for("loss.rho") == "ρ (rho) — anchor–positive pull"
    labels = [lab.text() for lab in form.findChildren(type(form.message))]
    assert "ρ (rho) — anchor–positive pull" in labels and "rho" not in labels
    theta = form.editors["mining.theta"].widget
    assert theta.isEnabled()
    doc.set_values({"mining": {"negative": "random", "positive": "random"}})
    assert not theta.isEnabled() and not form.editors["mining.gamma"].widget.isEnabled()
    assert "mining.negative is random" in form.disabled_reasons["mining.eta"]
    assert not form.editors["loss.rho"].widget.isEnabled()  # the default triplet loss
    doc.set_values({"loss": {"kind": "metric"}})
    assert form.editors["loss.rho"].widget.isEnabled()
    assert form.editors["loss.alpha"].widget.isEnabled()
    doc.undo_stack.undo()
    assert not form.editors["loss.rho"].widget.isEnabled()
    doc.undo_stack.undo()
    assert theta.isEnabled()


# -- 7. size modes --------------------------------------------------------------------------------
def test_draw_tab_frames_drawings_in_em_mode(qtbot, tmp_path):
    from siam_workbench.app.draw_tab import DrawTab
    from siam_workbench.data.imaging import baseline_fraction

    root = trained_tiny().copy_to(tmp_path / "p")
    toml = root / "project.toml"
    toml.write_text(toml.read_text().replace('alphabet = "latin"',
                                             'alphabet = "latin"\nsize_mode = "em"'))
    shutil.rmtree(root / "runs")
    tab = _tab(qtbot, DrawTab, _doc(root))
    assert tab.canvas.baseline == pytest.approx(baseline_fraction())
    assert tab.framing() == (2, "em")
    # A small "o" drawn on the baseline stays small: em framing keeps its size.
    side = tab.canvas.logical_px
    y = int(baseline_fraction() * side)
    tab.canvas.draw_polyline([(side // 2 - 30, y), (side // 2, y - 60), (side // 2 + 30, y),
                              (side // 2 - 30, y)], 12)
    qtbot.waitUntil(lambda: tab.prepared is not None, timeout=30_000)
    rows = np.flatnonzero(tab.prepared.max(axis=1) > 100)
    assert rows[-1] - rows[0] < 25  # fit would stretch it to the full 33 px
    assert "em box" in tab.preview_caption.text()
    _idle(qtbot)


# -- 8. run management and help -----------------------------------------------------------------
def test_notes_rename_delete_and_best_in_the_runs_tab(qtbot, recorder, tmp_path):
    from siam_workbench.app.runs_tab import RunsTab

    root = trained_tiny().copy_to(tmp_path / "p")
    tab = _tab(qtbot, RunsTab, _doc(root))
    tab.select_run("run-ap-ac")
    assert tab.run_list.currentItem().text().startswith("★ run-ap-ac")
    assert tab.save_notes("first try, γ = 2")
    assert "first try" in (root / "runs" / "run-ap-ac" / "notes.md").read_text()
    new = tab.rename("renamed-run")
    assert new is not None and new.exists() and tab.current_run() == new
    assert tab.notes.toPlainText().startswith("first try")
    tab.active_run = lambda: new  # the window is training it
    assert not tab.delete() and new.exists()
    assert "training" in recorder.errors()[-1].text
    tab.active_run = lambda: None
    recorder.ask_answer = False
    assert not tab.delete() and new.exists()
    recorder.ask_answer = True
    assert tab.delete() and not new.exists()
    assert tab.run_list.count() == 0
    _idle(qtbot)


def test_help_pages(make_window, qtbot):
    w = make_window()
    dlg = w.show_methods()
    text = dlg.browser.toPlainText()
    for word in ("g1 = ρ", "g2 = τ", "g3 = ξ", "Auto-probabilistic", "Auto-clustering",
                 "Hard", "Distance-based", "pixel 1-NN"):
        assert word in text, word
    keys = w.show_shortcuts().browser.toPlainText()
    assert "Ctrl+R" in keys and "Start training" in keys and "F1" in keys


# -- 9. start-up feedback -------------------------------------------------------------------------
def test_starting_says_what_it_prepares(qtbot, project_dir):
    from siam_workbench.app.train_tab import TrainTab

    tab = _tab(qtbot, TrainTab, _doc(project_dir))
    tab._on_event(RunPreparing("loading 4,960 training images", 1200, 4960))
    tab._flush()
    assert "loading 4,960 training images" in tab.progress.format()
    assert tab.progress.maximum() == 4960 and tab.progress.value() == 1200
    assert "Starting" in tab.plots.summary.text()
    tab._on_event(RunPreparing("first center pass"))
    tab._flush()
    assert tab.progress.format() == "first center pass" and tab.progress.maximum() == 0
    assert "Preparing: first center pass" in tab.log.toPlainText()


# -- 10. layout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_window_fits_the_screen_sizes(make_window, qtbot, tmp_path, size):
    root = trained_tiny().copy_to(tmp_path / "p")
    w = make_window(root)  # real content: curves, notices, tables
    w.resize(*size)
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        qtbot.wait(150)
        # No minimum size of any tab forces the window larger than the screen.
        assert (w.width(), w.height()) == size, (w.tabs.tabText(i), w.size())
        tab = w.tabs.currentWidget()
        hint = tab.minimumSizeHint()
        assert hint.width() <= w.tabs.width() and hint.height() <= w.tabs.height(), \
            (w.tabs.tabText(i), hint)
    _idle(qtbot)


# -- 11. guided training --------------------------------------------------------------------------
def test_live_notices_apply_to_the_next_run(qtbot, tmp_path):
    from siam_workbench.app.train_tab import TrainTab

    root = trained_tiny().copy_to(tmp_path / "p")
    doc = _doc(root)
    tab = _tab(qtbot, TrainTab, doc)
    tab.snapshot = __import__("siam_workbench.infer.advice", fromlist=["Snapshot"]).Snapshot(
        config=doc.config.replace({"mining": {"eta": 1000}}))
    for ev in trained_tiny().events:
        if type(ev).__name__ == "EpochFinished":
            ev.clusters = np.zeros_like(ev.clusters)  # η = 1000 on 12 classes: one cluster
            tab._advise_live(ev)
    assert "clusters-collapsed" in tab.notices_panel.codes()
    notice = next(n for n in tab.notices if n.code == "clusters-collapsed")
    card = tab.notices_panel.cards["clusters-collapsed"]
    before = doc.config.mining.eta
    card.button.click()
    assert doc.config.mining.eta == notice.suggestion["mining"]["eta"] != before
    assert not card.button.isEnabled()
    doc.undo_stack.undo()
    assert doc.config.mining.eta == before
