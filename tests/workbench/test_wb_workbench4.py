"""Workbench IV (issue 21): read-outs that read true — the loss plot's smoothing follows the
run length, raw lines everywhere, plain ticks, the semi-hard note and the active-triplet share,
read-outs cleared on a new run."""

from __future__ import annotations

import numpy as np
from tests_workbench_helpers import flat_history
from wb2_helpers import trained_tiny

from siam_workbench.app.history import History, auto_smoothing, read_metrics
from siam_workbench.app.plots import READOUT_HINT, TrainingPlots
from siam_workbench.app.train_tab import loss_note
from siam_workbench.project.config import Config, paper_defaults


def test_loss_plot_smoothing_raw_lines_plain_ticks_and_active_share(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(1000, 600)
    plots.show()
    plots.set_epochs(2, 40)
    h = flat_history()
    plots.show_history(h, force=True)

    # Smoothing follows the run: 80 iterations are smoothed far less than the old 0.90.
    assert plots.smoothing_auto and plots.factor() == auto_smoothing(80) < 0.8
    assert "(auto)" in plots.smoothing_label.text()
    assert auto_smoothing(10_000) > auto_smoothing(500) > auto_smoothing(80)
    plots.smoothing.setValue(50)  # a user's choice is kept from then on
    assert not plots.smoothing_auto and plots.factor() == 0.5
    plots.show_history(flat_history(), force=True)
    assert plots.factor() == 0.5

    # Raw lines in every plot: the total and each part.
    assert len(plots.loss_curve.getData()[1]) == 80
    for key in ("g1", "g2"):
        raw = plots.part_raws[key].getData()[1]
        np.testing.assert_allclose(raw, plots._history.parts[key].view())
        assert plots.part_plots[key].isVisible()
    # Plain tick labels (no "x0.001").
    for plot in (plots.loss_plot, plots.speed_plot, *plots.part_plots.values()):
        assert not plot.getPlotItem().getAxis("left").autoSIPrefix

    # The share of active triplets beside the loss, in the read-out too.
    assert plots.active_plot.isVisible()
    np.testing.assert_allclose(plots.active_raw.getData()[1], plots._history.active.view())
    vb = plots.loss_plot.getPlotItem().vb
    pos = vb.mapViewToScene(vb.mapToView(vb.rect().center()))
    plots._hover(plots.loss_plot, pos)
    assert "active triplets" in plots.readout.text()

    # A new run clears the read-out of the last one.
    plots.show_history(History(), force=True)
    assert plots.readout.text() == READOUT_HINT
    assert not any(line.isVisible() for line in plots.hover_lines)
    assert not plots.active_plot.isVisible()


def test_semihard_note_and_active_share_logged_by_the_trainer():
    semi = Config().replace({"mining": {"batch": "semihard"}, "loss": {"kind": "triplet",
                                                                         "alpha": 0.4}})
    note = loss_note(semi)
    assert "α/2 = 0.2" in note and "active triplets" in note
    assert loss_note(Config().replace(paper_defaults())) == ""  # every triplet kept: no note
    # The trainer logs the share per iteration (events and metrics.jsonl agree).
    tiny = trained_tiny()
    shares = [e.active for e in tiny.events if type(e).__name__ == "IterationFinished"]
    assert shares and all(0.0 <= s <= 1.0 for s in shares)
    h = read_metrics(tiny.run_dir)
    np.testing.assert_allclose(h.active.view(), shares, rtol=1e-5)
    assert np.all(np.diff(h.images.view()) > 0) and np.all(np.diff(h.seconds.view()) >= 0)


def test_changed_settings_marked_and_confirmed_on_start(qtbot, tmp_path, recorder):
    """Issue 21 #3: values that differ from the defaults or the last run are marked, listed
    beside the form and confirmed when Start is pressed; undo clears the mark."""
    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.train_tab import TrainTab
    from siam_workbench.project.project import load_project

    root = trained_tiny().copy_to(tmp_path / "p")
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    tab = TrainTab(doc)
    qtbot.addWidget(tab)
    tab.show()
    form = tab.form
    assert form.reference is not None and form.reference_name == "run-ap-ac"
    assert form.differences("last") == {}
    # The metric loss in the project: off the default, marked (but not against the last run).
    assert "loss.kind" in form.differences("default")
    assert "●" in form.editors["loss.kind"].label.text()
    assert "●" not in form.editors["train.seed"].label.text()
    assert "differ" not in tab.changes_label.text()

    spin = form.editors["train.seed"].widget
    spin.lineEdit().selectAll()
    spin.lineEdit().insert("7")
    assert doc.config.train.seed == 7
    assert set(form.differences("last")) == {"train.seed"}
    assert "●" in form.editors["train.seed"].label.text()
    assert "last run run-ap-ac" in form.editors["train.seed"].label.toolTip()
    assert "1 setting(s) differ from the last run" in tab.changes_label.text()

    # Start lists the difference and asks; "no" starts nothing.
    recorder.ask_answer = False
    assert not tab.start()
    ask = recorder.shown[-1]
    assert ask.kind == "ask" and "Random seed (train.seed): 0 → 7" in ask.text, ask.text
    assert not tab.busy
    # "Don't ask again": no question, the changes still go to the log.
    tab.confirm_check.setChecked(False)
    n = len(recorder.shown)
    assert tab._confirm_changes() == ["Random seed (train.seed): 0 → 7"]
    assert len(recorder.shown) == n
    tab.confirm_check.setChecked(True)

    doc.undo_stack.undo()
    assert doc.config.train.seed == 0 and form.differences("last") == {}
    assert "●" not in form.editors["train.seed"].label.text()


def test_project_tree_tells_runs_apart_and_elides_at_the_end(qtbot, tmp_path):
    """Issue 21 #4: runs differ in time and miner, so names are cut at the end (never the
    middle) and the miner and loss get a line of their own; counts are one fact a line."""
    import json

    from conftest import write_project
    from PySide6.QtCore import Qt

    from siam_workbench.app.project_panel import DETAIL_ROLE, ProjectPanel
    from siam_workbench.data.glyphs import GlyphWriter
    from siam_workbench.project.project import load_project

    root = write_project(tmp_path / "p")
    long_id = "20261206-211533-auto-probabilistic-auto-clustering-semihard-triplet"
    for run, kind, batch in (("run-ap-ac", "metric", "all"), (long_id, "triplet", "semihard")):
        d = root / "runs" / run
        d.mkdir(parents=True)
        (d / "config.toml").write_text(
            f'[mining]\npositive = "auto-probabilistic"\nnegative = "auto-clustering"\n'
            f'batch = "{batch}"\n[loss]\nkind = "{kind}"\n', encoding="utf-8")
        (d / "status.json").write_text(json.dumps({"status": "finished", "epoch": 2,
                                                   "epochs": 2, "best_top1": 0.8}))
    project = load_project(root)
    project.dataset_paths()["train"].parent.mkdir(parents=True, exist_ok=True)
    with GlyphWriter(project.dataset_paths()["train"], [f"c{i}" for i in range(62)], ["f"],
                     8, alphabet="latin", force=True) as w:
        w.append(np.zeros((5642, 8, 8), np.uint8), np.arange(5642) % 62,
                 np.zeros(5642, int))
    panel = ProjectPanel()
    qtbot.addWidget(panel)
    panel.resize(210, 600)
    panel.show()
    panel.refresh(project)
    assert panel.tree.textElideMode() == Qt.TextElideMode.ElideRight
    texts = {it.text(0).split("\n")[0]: it.text(0).split("\n") for it in panel.run_items()}
    assert set(texts) == {"run-ap-ac", long_id}
    assert texts[long_id][1].strip().endswith("triplet") and "ap / ac" in texts[long_id][1]
    assert texts["run-ap-ac"][1].strip().endswith("metric")
    # Each miner by the short name it declares (the run id's tokens).
    assert texts[long_id][1].strip() == "ap / ac · semi · triplet", texts
    assert all(it.data(0, DETAIL_ROLE).startswith("finished") for it in panel.run_items())
    train = panel.datasets.child(0)
    fm = panel.tree.fontMetrics()
    lines = train.text(0).split("\n")
    assert lines[1].strip() == "5,642 samples" and lines[2].strip() == "62 classes"
    assert all(fm.horizontalAdvance(line) < 180 for line in lines), lines


def test_log_keeps_following_and_notice_text_follows_the_run(qtbot, tmp_path):
    """Issue 21 #5: the event log follows its end after a notice card appears; a notice's
    figures are replaced when the advice is given again (the run went on)."""
    from conftest import write_project

    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.train_tab import TrainTab
    from siam_workbench.infer.advice import Notice
    from siam_workbench.project.project import load_project

    doc = ProjectDocument()
    doc.set_project(load_project(write_project(tmp_path / "p")))
    tab = TrainTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    for i in range(120):
        tab._append_log(f"iteration {i}")
    sb = tab.log.verticalScrollBar()
    assert sb.maximum() > 0 and sb.value() == sb.maximum()
    old = Notice("val-plateau", "Validation stalled", "81.7 % after 2 epochs",
                 {"train": {"lr": 0.001}})
    tab._show_notices([old])
    qtbot.waitUntil(lambda: tab.notices_panel.isVisible(), timeout=10_000)
    for i in range(30):
        tab._append_log(f"more {i}")
    qtbot.wait(50)
    tab._append_log("last line")
    assert sb.value() == sb.maximum(), (sb.value(), sb.maximum())
    # A user who scrolled up is left there.
    sb.triggerAction(sb.SliderAction.SliderPageStepSub)
    qtbot.wait(20)
    tab._append_log("after scrolling up")
    assert sb.value() < sb.maximum()

    new = Notice("val-plateau", "Validation stalled", "86.3 % after 4 epochs",
                 {"train": {"lr": 0.0005}})
    tab._show_notices([new])
    card = tab.notices_panel.cards["val-plateau"]
    assert card.detail.text() == "86.3 % after 4 epochs" and "0.0005" in card.change.text()


def test_class_thumbnails_framed_as_the_run_frames_them(qtbot, tmp_path):
    """Issue 21 #6: in em mode the Draw / Evaluate class thumbnails keep case and size —
    x is smaller than X, o than O — where fit framing drew both at capital size."""
    from conftest import TINY

    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.glyph_cache import GlyphCache
    from siam_workbench.project.project import load_project

    def ink_height(img) -> int:
        rows = np.flatnonzero((img > 127).any(axis=1))
        return int(rows[-1] - rows[0] + 1)

    heights = {}
    for mode in ("em", "fit"):
        root = tmp_path / mode
        root.mkdir()
        toml = TINY.format(epochs=1, iterations=1).replace(
            'alphabet = "digits"', 'alphabet = "latin-digits"\nsize_mode = "' + mode + '"')
        (root / "project.toml").write_text(toml, encoding="utf-8")
        doc = ProjectDocument()
        doc.set_project(load_project(root))
        cache = GlyphCache.for_document(doc)
        qtbot.waitUntil(lambda c=cache: c.resolved, timeout=60_000)
        assert cache.mode == mode
        heights[mode] = {c: ink_height(cache.image(c, 40)) for c in "xXoO0"}
        assert not cache.pixmap("x", 40).isNull()
    em, fit = heights["em"], heights["fit"]
    assert em["x"] < 0.85 * em["X"] and em["o"] < 0.85 * em["O"], em
    assert abs(fit["x"] - fit["X"]) <= 2, fit  # fit fills the square: case hidden


def test_bad_face_flagged_excluded_whole_undoable_and_find_kept(qtbot, tmp_path):
    """Issue 21 #8 / #12: the glyph browser scores a synthetic broken face, flags its column
    and the face list, excludes the whole face in one undoable edit (clearly marked), and a
    re-read keeps the Find highlight."""
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QUndoStack

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "data"))
    from conftest import write_project
    from test_outliers import CLASSES, GOOD, _faces

    from siam_workbench.app.font_model import COL_COVERAGE, FontRow, FontTableModel
    from siam_workbench.app.glyph_browser import GlyphBrowser
    from siam_workbench.data.glyphs import GlyphFile, GlyphWriter
    from siam_workbench.project.project import load_project

    root = write_project(tmp_path / "p")
    project = load_project(root)
    path = project.dataset_paths()["train"]
    path.parent.mkdir(parents=True, exist_ok=True)
    images, labels, sources, names = _faces()
    with GlyphWriter(path, [f"c{i}" for i in range(CLASSES)], names, 37) as w:
        w.append(images, labels, sources)

    browser = GlyphBrowser()
    qtbot.addWidget(browser)
    browser.undo_stack = stack = QUndoStack()
    scores: list[dict] = []
    browser.outliersReady.connect(scores.append)
    browser.resize(900, 600)
    browser.show()
    browser.set_project(project)
    qtbot.waitUntil(lambda: bool(scores) and not browser.busy(), timeout=60_000)
    assert scores[0]["broken.ttf#0"] >= 0.8
    model = browser.model
    cols = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert cols[GOOD].startswith("⚠") and not any(c.startswith("⚠") for c in cols[:GOOD])
    assert "FLAGGED" in model.headerData(GOOD, Qt.Orientation.Horizontal,
                                         Qt.ItemDataRole.ToolTipRole)

    # The face list says it too.
    fonts = FontTableModel()
    face = SimpleNamespace(id="broken.ttf#0", family="Broken", style="Regular",
                           full_name="Broken", path=path)
    fonts.set_rows([FontRow(face=face, token="broken.ttf", coverage=1.0, role="train")])
    fonts.set_outliers(scores[0])
    assert "odd" in fonts.data(fonts.index(0, COL_COVERAGE))

    # Exclude the whole face: one undoable edit, visible in every cell of its column.
    assert browser.set_face_excluded(GOOD) == CLASSES
    with GlyphFile(path) as gf:
        assert gf.excluded.sum() == CLASSES and gf.excluded[sources == GOOD].all()
    cell = model.index(0, GOOD)
    assert model.data(cell, Qt.ItemDataRole.DisplayRole) == "✕"
    assert model.data(cell, Qt.ItemDataRole.BackgroundRole) is not None
    assert stack.count() == 1 and "broken" in stack.undoText()
    stack.undo()
    with GlyphFile(path) as gf:
        assert gf.excluded.sum() == 0
    assert model.data(cell, Qt.ItemDataRole.DisplayRole) is None
    stack.redo()
    with GlyphFile(path) as gf:
        assert gf.excluded.sum() == CLASSES
    browser.toggle_excluded(0)  # a single glyph is undoable too
    assert stack.count() == 2
    stack.undo()

    # Find, then re-read the file (as after re-rendering): the highlight stays.
    browser.search.setText("c3")
    browser._find()
    qtbot.waitUntil(lambda: browser.highlighted() == 3 and not browser.busy(), timeout=30_000)
    browser.reload()
    qtbot.waitUntil(lambda: not browser.busy() and browser.model.page is not None,
                    timeout=30_000)
    assert browser.highlighted() == 3


def test_runs_tab_overlays_runs_on_a_chosen_x_axis(qtbot, tmp_path):
    """Runs tab: ticked runs share one plot (opened with runs ticked); the x-axis is
    iteration, images through the network or wall time."""
    import shutil

    from siam_workbench.app.document import ProjectDocument
    from siam_workbench.app.runs_tab import RunsTab
    from siam_workbench.project.project import load_project

    root = trained_tiny().copy_to(tmp_path / "p")
    shutil.copytree(root / "runs" / "run-ap-ac", root / "runs" / "run-copy")
    import json

    status = root / "runs" / "run-copy" / "status.json"  # the newer run scored lower
    st = json.loads(status.read_text(encoding="utf-8"))
    st["best_top1"] = 0.01
    status.write_text(json.dumps(st), encoding="utf-8")
    doc = ProjectDocument()
    doc.set_project(load_project(root))
    tab = RunsTab(doc)
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    qtbot.waitUntil(lambda: len(tab.summaries) == 2, timeout=60_000)  # ticked on opening
    assert set(tab.checked_ids()) == {"run-ap-ac", "run-copy"}
    from siam_workbench.infer.runs import best_run

    best = best_run(doc.project, doc.project.runs())
    assert best.id == "run-ap-ac"
    assert tab.evaluate_panel.run_combo.currentData() == str(best.path)  # Evaluate: ★ best
    h = read_metrics(root / "runs" / "run-ap-ac")

    def loss_x() -> list[np.ndarray]:
        return [c.getData()[0] for c in tab.loss_plot.getPlotItem().listDataItems()
                if c.getData()[0] is not None and len(c.getData()[0])]

    assert tab.plotted_runs() == 2
    for x in loss_x():
        np.testing.assert_allclose(x, h.steps.view())
    tab.x_combo.setCurrentIndex(tab.x_combo.findData("images"))
    for x in loss_x():
        np.testing.assert_allclose(x, h.images.view())
    assert "images" in tab.loss_plot.getPlotItem().getAxis("bottom").labelText
    tab.x_combo.setCurrentIndex(tab.x_combo.findData("seconds"))
    xs = loss_x()
    assert len(xs) == 2 and all(x[0] == 0 and np.all(np.diff(x) >= 0) for x in xs)
    acc = [c.getData()[0] for c in tab.acc_plot.getPlotItem().listDataItems()]
    assert all(np.all(np.isfinite(x)) and np.all(x <= xs[0][-1] + 60) for x in acc)
    assert "solid = top-1, dashed = top-5" in tab.legend.text()


def test_automatic_eta_shows_the_value_used():
    """Issue 21 #10: "the η = 0 closest pairs" read as zero; η = 0 means automatic."""
    from siam_workbench.infer.miner_effect import formula_text
    from siam_workbench.parts.miners.auto_clustering import default_eta

    cfg = Config().replace({"mining": {"negative": "auto-clustering", "eta": 0}})
    text = formula_text(cfg, "auto-probabilistic", "auto-clustering", 62)
    assert f"η = {default_eta(62)}" in text and "automatic" in text and "η = 0" not in text
    fixed = Config().replace({"mining": {"negative": "auto-clustering", "eta": 250}})
    assert "η = 250" in formula_text(fixed, "random", "auto-clustering", 62)


def test_cluster_size_ticks_are_whole_numbers():
    from siam_workbench.app.cluster_graph import _int_ticks

    for top in (1, 3, 5, 17, 250):
        ticks = _int_ticks(top)
        assert all(float(v).is_integer() and label == str(int(v)) for v, label in ticks)
        assert ticks[-1][0] >= top and len(ticks) <= 10
