"""Big alphabets in the Runs › Evaluate table: every class is in the model, but glyph icons are
drawn only for rows on screen, and sorting works on the numbers (benchmarks/gui_scale.py
measures the GUI-thread time at 11,172 classes)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap

from siam_workbench.app.evaluate_panel import EvaluatePanel
from siam_workbench.infer.evaluate import ClassScore


class CountingGlyphs:
    """A glyph cache stand-in that counts the thumbnails asked for."""

    def __init__(self) -> None:
        self.calls = 0

    def pixmap(self, text: str, px: int = 32) -> QPixmap:
        self.calls += 1
        pm = QPixmap(px, px)
        pm.fill(Qt.GlobalColor.white)
        return pm


def test_per_class_table_of_11172_classes_draws_only_visible_rows(qtbot):
    glyphs = CountingGlyphs()
    panel = EvaluatePanel(glyphs)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.show()
    n = 11_172
    rng = np.random.default_rng(0)
    top1 = rng.random(n)
    rows = [ClassScore(i, chr(0xAC00 + i), 2, float(top1[i]), float(min(1.0, top1[i] + 0.1)),
                       chr(0xAC00 + (i + 1) % n), 1) for i in np.argsort(top1)]
    panel._fill({"per_class": rows, "pairs": []})
    qtbot.wait(200)  # paint
    model = panel.model
    assert model.rowCount() == n
    assert 0 < glyphs.calls < 400, glyphs.calls  # the visible rows' icons, not 2 × 11,172
    first = model.index(0, 2)
    assert model.data(first, Qt.ItemDataRole.UserRole) == top1.min()  # worst first
    assert model.data(first) == f"{top1.min():.1%}"
    panel.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, 2), Qt.ItemDataRole.UserRole) == top1.max()
    assert model.data(model.index(0, 0)) == chr(0xAC00 + int(np.argmax(top1)))
    panel.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert model.data(model.index(0, 0)) == chr(0xAC00)
