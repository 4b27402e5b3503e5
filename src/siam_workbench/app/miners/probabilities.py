"""Miners › Probabilities: the sorted curve of every class's sampling probability with the
uniform 1/C reference, the top-N classes as bars, the searchable class table, and the selected
class's probability over the epochs beside its nearest classes.

A view only: it draws the :class:`siam_workbench.app.miners_model.ProbabilityView` and
:class:`~siam_workbench.app.miners_model.SelectionView` the model derives, and forwards what the
user does (a class picked, the log scale, top N, the series) as signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.miners.bars import ProbabilityBars
from siam_workbench.app.miners.class_table import ArrowStyle, ClassTableModel
from siam_workbench.app.miners.neighbors import NeighborStrip
from siam_workbench.app.miners_model import (
    PROBABILITY_TITLE,
    TOP_N,
    ProbabilityView,
    SelectionView,
    decade_label,
)
from siam_workbench.app.plots import COLORS, themed_plot
from siam_workbench.project.runfolder import MINING


def fixed_lines(label: QLabel, lines: int) -> None:
    """A label whose text changes on every hover / epoch gets a fixed height: a height that
    follows the text would re-lay out (and repaint) every plot below it each time."""
    label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


class ProbabilitiesPanel(QSplitter):
    """The Probabilities page: plots on the left, table and selected class on the right.

    Signals: ``classPicked(int)`` (a bar, a table row, a search with one hit),
    ``logToggled(bool)``, ``topChanged(int)``, ``seriesChanged(str)``.
    """

    classPicked = Signal(int)
    logToggled = Signal(bool)
    topChanged = Signal(int)
    seriesChanged = Signal(str)

    def __init__(self, glyphs: GlyphCache, fg: QColor, bg: QColor,
                 details: Callable[[int], str], parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._fg, self._bg = fg, bg
        self.details = details  # class index → its tooltip text (the model's)
        self.curve_order: np.ndarray | None = None
        self.curve_values: np.ndarray | None = None
        self.log = True
        self.showing_series = False  # a plug-in series is on the curve
        self._curve_range: Any = None

        self.curve_plot = self._plot(PROBABILITY_TITLE, "class rank", "probability")
        self.curve = self.curve_plot.getPlotItem().plot(pen=pg.mkPen(COLORS[0], width=2),
                                                        name="P(class)")
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.uniform_line = pg.InfiniteLine(angle=0, movable=False,
                                            pen=pg.mkPen(COLORS[5], width=1.5,
                                                         style=Qt.PenStyle.DashLine),
                                            label="uniform 1/C",
                                            labelOpts={"position": 0.85, "color": COLORS[5],
                                                       "anchors": [(1, 1), (1, 1)]})
        self.curve_plot.addItem(self.uniform_line)
        self.hover_marker = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(COLORS[1]), pen=None)
        self.curve_plot.addItem(self.hover_marker)
        self.curve_plot.scene().sigMouseMoved.connect(self.hover)
        self.log_check = QCheckBox("log scale")
        self.log_check.setChecked(True)
        self.log_check.toggled.connect(self._log_toggled)
        self.curve_plot.setLogMode(y=True)
        self.hover_label = QLabel("Hover the curve or a bar for a class's details.")
        self.hover_label.setWordWrap(True)
        fixed_lines(self.hover_label, 2)
        self.bars = ProbabilityBars(glyphs)
        self.bars.classClicked.connect(self.classPicked.emit)
        self.top_spin = QSpinBox()
        self.top_spin.setRange(5, 80)
        self.top_spin.setValue(TOP_N)
        self.top_spin.setPrefix("top ")
        self.top_spin.valueChanged.connect(self.topChanged)
        self.prob_plots = QWidget()
        pl = QVBoxLayout(self.prob_plots)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.hover_label, 1)
        self.series_combo = QComboBox()
        self.series_combo.addItem("probability", "probabilities")
        self.series_combo.setToolTip("The per-class series to plot: the positive miner's "
                                     "probability, or a series a miner plug-in records "
                                     f"({MINING} /extra/<name>)")
        self.series_combo.currentIndexChanged.connect(
            lambda _i: self.seriesChanged.emit(self.series_combo.currentData()
                                               or "probabilities"))
        row.addWidget(self.series_combo)
        row.addWidget(self.log_check)
        row.addWidget(self.top_spin)
        pl.addWidget(self.curve_plot, 3)
        pl.addLayout(row)
        pl.addWidget(self.bars, 2)
        self.prob_message = QLabel()
        self.prob_message.setWordWrap(True)
        self.prob_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prob_stack = QStackedWidget()
        self.prob_stack.addWidget(self.prob_plots)
        self.prob_stack.addWidget(self.prob_message)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Find class: 가, A, U+AC00 or a class number")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.table_model = ClassTableModel(glyphs, self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(ClassTableModel.COL_P,
                                                       Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(ClassTableModel.GLYPH_PX + 4)
        self.table.setIconSize(QSize(ClassTableModel.GLYPH_PX, ClassTableModel.GLYPH_PX))
        hh = self.table.horizontalHeader()
        self._arrow_style = ArrowStyle(hh.style().name())
        hh.setStyle(self._arrow_style)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        for col, w in enumerate((36, 50, 50, 90, 72, 78, 56, 58)):
            self.table.setColumnWidth(col, w)
        hh.setSectionResizeMode(ClassTableModel.COL_CLASS, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._table_row)
        self.history_plot = self._plot("Probability of the selected class over the epochs",
                                       "epoch", "probability")
        self.history_plot.setMinimumHeight(120)
        self.history_curve = self.history_plot.getPlotItem().plot(
            pen=pg.mkPen(COLORS[0], width=2), symbol="o", symbolSize=5,
            symbolBrush=COLORS[0])
        self.history_uniform = self.history_plot.getPlotItem().plot(
            pen=pg.mkPen(COLORS[5], width=1.2, style=Qt.PenStyle.DashLine))
        self.history_marker = pg.InfiniteLine(angle=90, movable=False,
                                              pen=pg.mkPen(fg, width=1,
                                                           style=Qt.PenStyle.DotLine))
        self.history_plot.addItem(self.history_marker)
        self.neighbors = NeighborStrip(glyphs)
        self.detail_title = QLabel("Select a class in the table (or click a bar).")
        self.detail_title.setWordWrap(True)
        fixed_lines(self.detail_title, 2)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.search)
        rl.addWidget(self.table, 3)
        rl.addWidget(self.detail_title)
        rl.addWidget(self.history_plot, 2)
        rl.addWidget(self.neighbors)
        self.addWidget(self.prob_stack)
        self.addWidget(right)
        self.setStretchFactor(0, 5)
        self.setStretchFactor(1, 4)
        self.setSizes([520, 520])

    def _plot(self, title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
        return themed_plot(title, xlabel, ylabel, self._fg, self._bg, min_height=140,
                           si_prefix=False)

    # -- input -------------------------------------------------------------------------------
    def _log_toggled(self, on: bool) -> None:
        self.curve_plot.setLogMode(y=on)
        self.logToggled.emit(on)

    def _search(self, text: str) -> None:
        self.table_model.set_filter(text)
        if self.table_model.rowCount() == 1:
            self.table.selectRow(0)

    def _table_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.classPicked.emit(self.table_model.class_at(current.row()))

    def set_series(self, names: list[str], current: str) -> None:
        """The series the chooser offers (the probability, then each plug-in's)."""
        have = [self.series_combo.itemData(i) for i in range(self.series_combo.count())]
        if names != have:
            self.series_combo.blockSignals(True)
            self.series_combo.clear()
            for name in names:
                self.series_combo.addItem("probability" if name == "probabilities"
                                          else f"{name} (plug-in)", name)
            self.series_combo.setCurrentIndex(max(0, self.series_combo.findData(current)))
            self.series_combo.blockSignals(False)
        self.series_combo.setVisible(len(names) > 1)

    def current_series(self) -> str:
        return self.series_combo.currentData() or "probabilities"

    # -- drawing -----------------------------------------------------------------------------
    def show_view(self, view: ProbabilityView, selected: int | None) -> None:
        """Draw one epoch: the table always, then the curve and bars or the message."""
        p, d, c, delta = view.table
        self.table_model.set_epoch(view.classes, p, d, c, delta)
        if view.series != "probabilities":
            self._show_series(view)
            return
        if self.showing_series:
            self.curve_plot.getPlotItem().setTitle(PROBABILITY_TITLE, color=self._fg.name(),
                                                   size="10pt")
            self.uniform_line.label.setFormat("uniform 1/C")
            self.curve_plot.setLogMode(y=view.log)
            self._curve_range = None
        self.showing_series = False
        if view.message:
            self.prob_message.setText(view.message)
            self.prob_stack.setCurrentWidget(self.prob_message)
            return
        self.prob_stack.setCurrentWidget(self.prob_plots)
        self.log = view.log
        self.curve_order, self.curve_values = view.order, view.values
        self.curve.setData(np.arange(len(view.values)), view.values)
        u = view.reference
        self.uniform_line.setPos(np.log10(u) if view.log else u)
        if view.curve_range is not None:
            self._set_curve_range(view.curve_range)
        self.hover_marker.clear()
        self.bars.selected = selected
        self.bars.set_data(view.classes, view.bars, view.top_n, u, self.details)

    def _show_series(self, view: ProbabilityView) -> None:
        self.showing_series = True
        self.prob_stack.setCurrentWidget(self.prob_plots)
        self.log = view.log
        self.curve_order, self.curve_values = view.order, view.values
        self.curve_plot.setLogMode(y=view.log)
        self.curve.setData(np.arange(len(view.values)), view.values)
        mean = view.reference
        self.uniform_line.setPos(np.log10(mean) if view.log and mean > 0 else mean)
        self.uniform_line.label.setFormat(view.reference_label)
        self.curve_plot.getPlotItem().setTitle(view.title, color=self._fg.name(), size="10pt")
        self.curve_plot.getPlotItem().vb.enableAutoRange()
        self.bars.set_data(view.classes, view.bars, view.top_n, mean, self.details)

    def _set_curve_range(self, key: tuple[int, float, float, bool]) -> None:
        """Set only when the rounded range changed (pyqtgraph then keeps its axis pictures)."""
        vb = self.curve_plot.getPlotItem().vb
        vb.disableAutoRange()
        if self._curve_range == key:
            return
        self._curve_range = key
        n, y0, y1, log = key
        vb.setRange(xRange=(0, max(n - 1, 1)), yRange=(y0, y1), padding=0.02)
        # On the log axis label the decades only (pyqtgraph's minor labels pile up).
        axis = self.curve_plot.getPlotItem().getAxis("left")
        axis.setTicks([[(float(k), decade_label(int(k))) for k in np.arange(y0, y1 + 1)],
                       [(float(k + np.log10(m)), "") for k in np.arange(y0, y1)
                        for m in range(2, 10)]] if log else None)

    def reset_range(self) -> None:
        """Forget the curve's range (the log scale changed): the next draw sets it."""
        self._curve_range = None

    def show_selection(self, view: SelectionView) -> None:
        """The selected class's probability over the epochs (and its title)."""
        if view.title:
            self.detail_title.setText(view.title)
        self.history_curve.setData(view.x, view.y)
        self.history_uniform.setData(view.x, view.uniform)
        if view.x_range is not None:
            self.history_plot.setXRange(*view.x_range, padding=0)
        if view.y_range is not None:
            self.history_plot.setYRange(*view.y_range, padding=0)
        if view.marker is not None:
            self.history_marker.setPos(view.marker)
        if view.index is not None:
            self.history_plot.getPlotItem().getAxis("bottom").setTicks(
                [view.ticks] if view.ticks is not None else None)

    def select_row(self, index: int) -> None:
        """Show class ``index`` selected in the table and the bars, without echoing it back."""
        row = self.table_model.row_of(index)
        if row is not None:
            cur = self.table.currentIndex()
            if not cur.isValid() or cur.row() != row:
                self.table.selectionModel().blockSignals(True)
                self.table.selectRow(row)
                self.table.selectionModel().blockSignals(False)
                self.table.scrollTo(self.table_model.index(row, 0))
        self.bars.selected = index
        self.bars.update()

    def hover(self, pos: Any) -> None:
        """The class under the mouse on the curve: marker, read-out and tooltip."""
        order = self.curve_order
        if order is None or self.prob_stack.currentWidget() is not self.prob_plots:
            return
        vb = self.curve_plot.getPlotItem().vb
        if not self.curve_plot.sceneBoundingRect().contains(pos):
            return
        rank = int(round(vb.mapSceneToView(pos).x()))
        if not 0 <= rank < len(order):
            self.hover_marker.clear()
            return
        idx = int(order[rank])
        ys = self.curve_values
        if ys is not None and rank < len(ys):
            y = float(ys[rank])  # the marker is in view coordinates: log10 on a log axis
            self.hover_marker.setData([rank], [np.log10(y) if self.log_check.isChecked() else y])
        text = self.details(idx)
        self.hover_label.setText(f"rank {rank + 1}: " + text.replace("\n", " · "))
        view = self.curve_plot.mapFromScene(pos)
        QToolTip.showText(self.curve_plot.mapToGlobal(view), text, self.curve_plot)
