"""Workbench IV (issue 21): behaviours the audit found without a test of their own — no empty
block under the loss plot (item 11) for a loss without parts or active share."""

from __future__ import annotations

from tests_workbench_helpers import flat_history

from siam_workbench.app.plots import TrainingPlots


def test_no_empty_block_under_the_loss_plot(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.show_history(flat_history(40, parts=True, active=True), force=True)
    qtbot.wait(20)
    with_row = plots.loss_plot.height()
    parts = [p for p in plots.part_plots.values() if p.isVisible()]
    assert parts and plots.active_plot.isVisible()
    # Nothing to show under the loss (no parts, no active share): the loss plot takes the row.
    plots.show_history(flat_history(40, parts=False, active=False), force=True)
    qtbot.wait(20)
    assert not any(p.isVisible() for p in plots.part_plots.values())
    assert not plots.active_plot.isVisible()
    below = plots.height() - (plots.loss_plot.mapTo(plots, plots.loss_plot.rect().bottomLeft())
                              .y())
    assert plots.loss_plot.height() > 1.4 * with_row
    assert below < 0.2 * plots.height(), below  # only the read-out line under it
    # And back: a run with parts shows its row again.
    plots.show_history(flat_history(40, parts=False, active=True), force=True)
    qtbot.wait(20)
    assert plots.active_plot.isVisible() and plots.loss_plot.height() < 1.2 * with_row


def test_cluster_labels_never_cover_each_other(qtbot):
    """Item 10: "cluster labels overlap" — nodes packed closer than a label is wide get a
    label only where it covers no other; the selected class keeps its label."""
    import numpy as np
    from PySide6.QtGui import QPixmap

    from siam_workbench.app.cluster_graph import LABEL_MAX, ClusterGraph

    class Glyphs:
        def pixmap(self, text: str, size: int) -> QPixmap:
            return QPixmap(size, size)

    graph = ClusterGraph(Glyphs())
    qtbot.addWidget(graph)
    graph.resize(900, 600)
    graph.show()
    n = min(LABEL_MAX, 120)
    rng = np.random.default_rng(1)
    pos = rng.normal(scale=0.05, size=(n, 2))  # a tight crowd: labels would pile up
    classes = [f"class{i:03d}" for i in range(n)]
    clusters = np.arange(n) // 4
    edges = np.array([[i, i + 1] for i in range(0, n - 1, 4)])
    graph.set_data(classes, pos, clusters, np.full(n, 1 / n), edges)
    graph.select_class(7)
    qtbot.waitUntil(lambda: graph.labelled() > 0, timeout=10_000)
    qtbot.wait(50)  # painted: the labels' real extents on screen
    shown = [t for t in graph.labels if t.isVisible()]
    assert 0 < len(shown) < n  # some left out, not all drawn on top of each other
    def text_box(t):  # the glyphs' own box: the text item's empty document margin left out
        m = t.textItem.document().documentMargin()
        return t.textItem.mapRectToScene(t.textItem.boundingRect().adjusted(m, m, -m, -m))

    rects = [text_box(t) for t in shown]
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            inter = rects[a].intersected(rects[b])
            assert inter.width() * inter.height() < 4.0, (shown[a].toPlainText(),
                                                          shown[b].toPlainText())
    assert any(t.toPlainText() == "class007" for t in shown)  # the selected one is labelled


def test_accuracy_legend_names_line_styles_and_the_baseline_sits_in_it(qtbot):
    """Item 9: the legend says solid = top-1, dashed = top-5; the pixel 1-NN baseline is a
    legend entry (a label on the line sat on the curves and was clipped), the axis names the
    measure, not one set."""
    import pyqtgraph as pg

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(1280, 500)
    plots.show()
    h = flat_history(40, parts=False, active=True)
    h.baselines["pixel-1nn val"] = 0.42
    plots.show_history(h, force=True)
    entries = {name: dashed for name, _c, dashed in plots.acc_plot.entries}
    assert entries.get("top-1") is False and entries.get("top-5") is True
    assert entries.get("pixel NN 42%") is True
    assert plots.acc_plot.ylabel in ("accuracy", "accuracy (train)")
    assert "val" not in plots.acc_plot.ylabel
    items = plots.acc_plot.getPlotItem().vb.addedItems
    assert not any(isinstance(i, pg.TextItem) and "pixel" in i.toPlainText() for i in items)
