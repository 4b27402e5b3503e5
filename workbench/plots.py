"""Live training curves (pyqtgraph).

Curves are created once and only ever updated with ``setData`` from a :class:`History`; the
plots never see individual events, so the caller decides the redraw rate (the Train tab flushes
at ≤ 10 Hz). Colours come from the widget palette so dark and light themes both read well.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.history import History

# Colour-blind-safe qualitative palette (Okabe–Ito), legible on dark and light backgrounds.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]


def _pen(color: str, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine,
         alpha: int = 255) -> pg.mkPen:
    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=width, style=style)


def themed_plot(title: str, xlabel: str, ylabel: str, fg: QColor, bg: QColor,
                min_height: int = 140, si_prefix: bool = True) -> pg.PlotWidget:
    """A plot in the window's palette colours, for the tabs that build their own plot grids."""
    w = pg.PlotWidget(background=bg)
    item = w.getPlotItem()
    if title:
        item.setTitle(title, color=fg.name(), size="10pt")
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
    item.setLabel("bottom", xlabel, color=fg.name())
    item.setLabel("left", ylabel, color=fg.name())
    item.showGrid(x=True, y=True, alpha=0.2)
    # pyqtgraph's "×0.001" axis prefix misleads on probabilities.
    item.getAxis("left").enableAutoSIPrefix(si_prefix)
    w.setMinimumHeight(min_height)
    return w


class ThemedPlot(pg.PlotWidget):
    """A plot coloured from the widget palette, whose legend is a line of coloured text in the
    title: a legend box inside the view always ends up on top of some curve."""

    def __init__(self, title: str, xlabel: str, ylabel: str) -> None:
        super().__init__()
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.entries: list[tuple[str, str, bool]] = []  # name, colour, dashed
        self.getPlotItem().showGrid(x=True, y=True, alpha=0.2)
        self.setMinimumHeight(140)
        self._fg = QColor("black")

    def add_entry(self, name: str, color: str, dashed: bool = False) -> None:
        self.entries.append((name, color, dashed))
        self._set_title()

    def _set_title(self) -> None:
        keys = "&nbsp;&nbsp;".join(
            f"<span style='color:{c}'>{'╌╌' if dashed else '━━'}</span>&nbsp;{name}"
            for name, c, dashed in self.entries)
        html = f"<b>{self.title}</b>" + (f"&nbsp;&nbsp;&nbsp;&nbsp;{keys}" if keys else "")
        self.getPlotItem().setTitle(html, color=self._fg.name(), size="9pt")

    def apply_palette(self, pal: QPalette) -> None:
        """Colour from ``pal`` (again whenever the system theme changes)."""
        bg = pal.color(QPalette.ColorRole.Base)
        self._fg = fg = pal.color(QPalette.ColorRole.Text)
        self.setBackground(bg)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
        item.setLabel("bottom", self.xlabel, color=fg.name())
        item.setLabel("left", self.ylabel, color=fg.name())
        self._set_title()


class TrainingPlots(QWidget):
    """Loss (total, smoothed, parts) per iteration; accuracy per epoch; throughput."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = ThemedPlot("Loss", "iteration", "loss")
        self.acc_plot = ThemedPlot("Accuracy", "epoch", "nearest-center accuracy")
        self.speed_plot = ThemedPlot("Throughput", "iteration", "triplets / s")
        for w in (self.loss_plot, self.acc_plot, self.speed_plot):
            w.apply_palette(self.palette())
        self.speed_plot.setXLink(self.loss_plot)
        self.acc_plot.setYRange(0, 1.0, padding=0.02)

        lp = self.loss_plot.getPlotItem()
        self.loss_curve = lp.plot(pen=_pen(COLORS[7], 1, alpha=150))
        self.smooth_curve = lp.plot(pen=_pen(COLORS[0], 2.5))
        self.loss_plot.add_entry("loss", COLORS[7])
        self.loss_plot.add_entry("smoothed", COLORS[0])
        self.part_curves: dict[str, pg.PlotDataItem] = {}
        ap = self.acc_plot.getPlotItem()
        dash = Qt.PenStyle.DashLine
        self.acc_curves = {
            "top1": ap.plot(pen=_pen(COLORS[0], 2), symbol="o", symbolSize=6,
                            symbolBrush=COLORS[0]),
            "top5": ap.plot(pen=_pen(COLORS[0], 1.5, dash)),
            "val_top1": ap.plot(pen=_pen(COLORS[1], 2), symbol="s", symbolSize=6,
                                symbolBrush=COLORS[1]),
            "val_top5": ap.plot(pen=_pen(COLORS[1], 1.5, dash)),
        }
        for name, color, dashed in (("train top-1", COLORS[0], False),
                                    ("train top-5", COLORS[0], True),
                                    ("val top-1", COLORS[1], False),
                                    ("val top-5", COLORS[1], True)):
            self.acc_plot.add_entry(name, color, dashed)
        self.speed_curve = self.speed_plot.getPlotItem().plot(pen=_pen(COLORS[2], 1.5))
        self._epochs_total = 0
        for curve in [self.loss_curve, self.smooth_curve, self.speed_curve]:
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")

        self.log_y = QCheckBox("log loss axis")
        self.log_y.toggled.connect(lambda on: self.loss_plot.setLogMode(y=on))
        self.summary = QLabel("No run yet")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(self.log_y)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.loss_plot, 3)
        lay.addWidget(self.acc_plot, 2)
        lay.addWidget(self.speed_plot, 1)
        self._version = -1

    def _part_curve(self, key: str) -> pg.PlotDataItem:
        curve = self.part_curves.get(key)
        if curve is None:  # created once per part name, then only setData
            color = COLORS[(len(self.part_curves) + 3) % 6]
            curve = self.loss_plot.getPlotItem().plot(pen=_pen(color, 1.2), connect="finite")
            self.loss_plot.add_entry(key, color)
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self.part_curves[key] = curve
        return curve

    def show_history(self, h: History, force: bool = False) -> None:
        """Redraw from ``h`` (cheap no-op if nothing changed since the last call)."""
        if h.version == self._version and not force:
            return
        self._version = h.version
        x = h.steps.view()
        self.loss_curve.setData(x, h.loss.view())
        self.smooth_curve.setData(x, h.smooth.view())
        for key, g in h.parts.items():
            self._part_curve(key).setData(x, g.view())
        for key, curve in self.part_curves.items():
            if key not in h.parts:
                curve.setData([], [])
        speed = h.throughput.view()
        finite = np.isfinite(speed)
        self.speed_curve.setData(x[finite], speed[finite])
        ex = h.epochs.view()
        for key, curve in self.acc_curves.items():
            y = h.epoch_values[key].view()
            ok = np.isfinite(y)
            curve.setData(ex[ok], y[ok])
        self._epoch_axis(int(max(ex.max() if len(ex) else 0, self._epochs_total, 1)))

    def set_epochs(self, total: int) -> None:
        """Show the whole run's epoch range from the start (set when a run starts)."""
        self._epochs_total = int(total)
        self._epoch_axis(max(1, self._epochs_total))

    def _epoch_axis(self, n: int) -> None:
        self.acc_plot.setXRange(0.5, n + 0.5, padding=0)
        axis = self.acc_plot.getPlotItem().getAxis("bottom")
        step = max(1, -(-n // 20))  # at most ~20 integer ticks: epochs are whole numbers
        axis.setTicks([[(float(i), str(i)) for i in range(step, n + 1, step)]])

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            for w in (self.loss_plot, self.acc_plot, self.speed_plot):
                w.apply_palette(self.palette())
        super().changeEvent(event)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)
