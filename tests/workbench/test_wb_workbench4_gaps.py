"""Workbench IV (issue 21): behaviours the audit found without a test of their own — no empty
block under the loss plot (item 11) for a loss without parts or active share."""

from __future__ import annotations

from siam_workbench.app.history import History
from siam_workbench.app.plots import TrainingPlots


def _history(parts: bool, active: bool) -> History:
    h = History()
    for i in range(40):
        h.add_iteration(i + 1, 0.5, {"g1": 0.2, "g2": 0.3} if parts else {}, 100.0, epoch=0,
                        active=0.5 if active else None, images=10 * (i + 1), seconds=0.1 * i)
    return h


def test_no_empty_block_under_the_loss_plot(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.show_history(_history(parts=True, active=True), force=True)
    qtbot.wait(20)
    with_row = plots.loss_plot.height()
    parts = [p for p in plots.part_plots.values() if p.isVisible()]
    assert parts and plots.active_plot.isVisible()
    # Nothing to show under the loss (no parts, no active share): the loss plot takes the row.
    plots.show_history(_history(parts=False, active=False), force=True)
    qtbot.wait(20)
    assert not any(p.isVisible() for p in plots.part_plots.values())
    assert not plots.active_plot.isVisible()
    below = plots.height() - (plots.loss_plot.mapTo(plots, plots.loss_plot.rect().bottomLeft())
                              .y())
    assert plots.loss_plot.height() > 1.4 * with_row
    assert below < 0.2 * plots.height(), below  # only the read-out line under it
    # And back: a run with parts shows its row again.
    plots.show_history(_history(parts=False, active=True), force=True)
    qtbot.wait(20)
    assert plots.active_plot.isVisible() and plots.loss_plot.height() < 1.2 * with_row
