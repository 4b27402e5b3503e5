"""Miners › History: a heat map of a per-class series over epochs × classes.

Rows are classes ranked by their final probability and labelled *by class* — the glyph text
on the axis whenever few enough rows are in view (zoom in at 2,350 or 11,172 classes), rank
numbers otherwise. The series are the miners' own (probability, mean distance to center) and
any per-class series a miner plug-in writes under the mining log's ``/extra/<name>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.miners_model import is_uniform
from siam_workbench.app.plots import themed_plot
from siam_workbench.infer.mining_log import MiningHistory
from siam_workbench.project.runfolder import MINING

LABEL_ROWS = 60  # at most this many rows in view: label each with its class
BUILTIN = (("probability", "probabilities"), ("mean distance to center", "mean_distance"))


def _fmt(v: float) -> str:
    return "–" if v != v else f"{v:.3g}"


class ClassAxis(pg.AxisItem):
    """A left axis whose ticks at row centres read as the class of that row when zoomed in."""

    def __init__(self) -> None:
        super().__init__("left")
        self.names: list[str] = []  # class text per row (rank order)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802,N803
        lo, hi = max(0, int(np.floor(minVal))), min(len(self.names), int(np.ceil(maxVal)))
        if self.names and 0 < hi - lo <= LABEL_ROWS:
            step = max(1, (hi - lo) // max(1, int(size // 14)))
            return [(1.0, [r + 0.5 for r in range(lo, hi, step)])]
        return super().tickValues(minVal, maxVal, size)

    def tickStrings(self, values: list, scale: float, spacing: float) -> list:  # noqa: N802
        lo_hi = [v for v in values if abs(v - np.floor(v) - 0.5) < 1e-6]
        if self.names and len(lo_hi) == len(values) and values:
            return [self.names[int(v)] if 0 <= int(v) < len(self.names) else "" for v in values]
        return [f"{int(v) + 1:,}" if v >= 0 else "" for v in values]


class HeatmapPanel(QWidget):
    """The History page. ``set_data(history, epoch_index)`` draws; ``set_epoch`` moves the
    epoch marker only."""

    def __init__(self, fg: QColor, bg: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fg = fg
        self.history: MiningHistory | None = None
        self.epoch_index = 0
        self.order: np.ndarray | None = None
        self.axis = ClassAxis()
        self.heat_plot = themed_plot("", "epoch", "class (ranked by final probability)", fg, bg)
        self.heat_plot.getPlotItem().setAxisItems({"left": self.axis})
        self.axis.setPen(pg.mkPen(fg))
        self.axis.setTextPen(pg.mkPen(fg))
        self.axis.setLabel("class (ranked by final probability)", color=fg.name())
        self.heat_plot.getPlotItem().invertY(True)
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_image.setAutoDownsample(True)
        self.heat_plot.addItem(self.heat_image)
        self.heat_epoch_line = pg.InfiniteLine(angle=90, movable=False,
                                               pen=pg.mkPen(fg, width=1,
                                                            style=Qt.PenStyle.DashLine))
        self.heat_plot.addItem(self.heat_epoch_line)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False,
                                        width=14)
        self.colorbar.setImageItem(self.heat_image, insert_in=self.heat_plot.getPlotItem())
        self.heat_plot.scene().sigMouseMoved.connect(self._hover)
        self.heat_kind = QComboBox()
        for text, key in BUILTIN:
            self.heat_kind.addItem(text, key)
        self.heat_kind.currentIndexChanged.connect(lambda _i: self.redraw())
        self.heat_log = QCheckBox("log₁₀")
        self.heat_log.setChecked(True)
        self.heat_log.toggled.connect(lambda _on: self.redraw())
        self.heat_hover = QLabel("Hover the map for a class and epoch; scroll to zoom in until "
                                 "the rows are labelled by class.")
        self.heat_hover.setFixedHeight(self.heat_hover.fontMetrics().lineSpacing() + 6)
        self.heat_message = QLabel()
        self.heat_message.setWordWrap(True)
        self.heat_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Show:"))
        controls.addWidget(self.heat_kind)
        controls.addWidget(self.heat_log)
        controls.addWidget(self.heat_hover, 1)
        self.heat_stack = QStackedWidget()
        self.heat_stack.addWidget(self.heat_plot)
        self.heat_stack.addWidget(self.heat_message)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(controls)
        lay.addWidget(self.heat_stack, 1)

    def _sync_kinds(self, h: MiningHistory) -> None:
        want = [(t, k) for t, k in BUILTIN] + [(f"{name} (miner plug-in)", name)
                                                for name in sorted(h.extra)]
        have = [(self.heat_kind.itemText(i), self.heat_kind.itemData(i))
                for i in range(self.heat_kind.count())]
        if want != have:
            current = self.heat_kind.currentData()
            self.heat_kind.blockSignals(True)
            self.heat_kind.clear()
            for text, key in want:
                self.heat_kind.addItem(text, key)
            i = self.heat_kind.findData(current)
            self.heat_kind.setCurrentIndex(max(i, 0))
            self.heat_kind.blockSignals(False)

    def set_data(self, history: MiningHistory, epoch_index: int) -> None:
        self.history, self.epoch_index = history, epoch_index
        self._sync_kinds(history)
        self.redraw()

    def redraw(self) -> None:
        h = self.history
        if h is None:
            return
        kind = self.heat_kind.currentData()
        arr = h.series(kind)
        if arr is None:
            self.heat_message.setText(f"This run's {MINING} has no /{kind}; choose another "
                                      "quantity above.")
            self.heat_stack.setCurrentWidget(self.heat_message)
            return
        if kind == "probabilities" and (h.positive == "random" or is_uniform(arr)):
            self.heat_message.setText(
                "The positive miner is <b>random</b>: the probability of every class is 1/C at "
                "every epoch (uniform), so the map would be one flat colour. Choose <i>mean "
                "distance to center</i> above to see how the classes developed.")
            self.heat_stack.setCurrentWidget(self.heat_message)
            return
        self.heat_stack.setCurrentWidget(self.heat_plot)
        final = h.probabilities[-1] if h.probabilities is not None else arr[-1]
        order = np.argsort(-np.nan_to_num(final, nan=-1.0), kind="stable")
        self.order = order
        self.axis.names = [h.classes[int(i)] for i in order]
        img = np.asarray(arr[:, order], dtype=np.float64).T  # [C, E]: row = class rank
        use_log = self.heat_log.isChecked()
        if use_log:
            positive = img[img > 0]
            floor = float(positive.min()) if positive.size else 1e-12
            img = np.log10(np.maximum(np.nan_to_num(img, nan=floor), floor))
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-9
        n_epochs, n_classes = arr.shape
        self.heat_image.setImage(np.ascontiguousarray(img, dtype=np.float32), autoLevels=False,
                                 levels=(lo, hi))
        first = float(h.epochs[0]) + 0.5 if len(h.epochs) else 0.5
        self.heat_image.setRect(first, 0, n_epochs, n_classes)
        self.colorbar.setLevels((lo, hi))
        label = self.heat_kind.currentText()
        self.heat_plot.getPlotItem().setTitle(
            f"{'log₁₀ ' if use_log else ''}{label} per class (rows) and epoch",
            color=self._fg.name(), size="10pt")
        self.set_epoch(self.epoch_index)
        vb = self.heat_plot.getPlotItem().vb
        vb.setLimits(xMin=first - 1, xMax=first + n_epochs + 1, yMin=-n_classes * 0.05,
                     yMax=n_classes * 1.05)
        vb.setRange(xRange=(first, first + n_epochs), yRange=(0, n_classes), padding=0.02)
        self.heat_plot.getPlotItem().getAxis("bottom").setTicks(
            [[(float(e) + 1, str(int(e) + 1)) for e in h.epochs]] if n_epochs <= 30 else None)

    def set_epoch(self, index: int) -> None:
        self.epoch_index = index
        h = self.history
        if h is not None and 0 <= index < len(h.epochs):
            self.heat_epoch_line.setPos(float(h.epochs[index]) + 1)

    def _hover(self, pos: Any) -> None:
        h, order = self.history, self.order
        if h is None or order is None or self.heat_stack.currentWidget() is not self.heat_plot:
            return
        pt = self.heat_plot.getPlotItem().vb.mapSceneToView(pos)
        rank = int(np.floor(pt.y()))
        e = int(np.floor(pt.x() - (float(h.epochs[0]) + 0.5)))
        if not (0 <= rank < len(order) and 0 <= e < h.num_epochs):
            return
        i = int(order[rank])
        kind = self.heat_kind.currentData()
        arr = h.series(kind)
        value = float(arr[e, i]) if arr is not None else float("nan")
        self.heat_hover.setText(f"epoch {int(h.epochs[e]) + 1} · {h.classes[i]} (class {i}, "
                                f"final rank {rank + 1}) · {self.heat_kind.currentText()} "
                                f"{_fmt(value)}")
