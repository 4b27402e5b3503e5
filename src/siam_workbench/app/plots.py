"""Live training curves (pyqtgraph), readable the way TensorBoard's are.

* The total loss and each of its parts (g1, g2, g3 of the metric loss …) get their own plot and
  y axis: g1 (~0.01) would vanish next to g2 (~100) on a shared one.
* Distinct colours (Okabe–Ito, colour-blind safe), epoch boundaries as dotted lines (the loss
  jumps when the miners re-weight at an epoch end), a hover read-out of every curve at the
  step under the mouse, and a smoothing control for the loss.
* Accuracy names the set it is measured on and shows the pixel 1-NN baseline as a reference.
* Throughput has one definition (siam_workbench.infer.curves.THROUGHPUT_EMA).

Curves are created once and only ever updated with ``setData`` from a :class:`History`; the
plots never see individual events, so the caller decides the redraw rate (≤ 10 Hz).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.history import History, auto_smoothing

# Colour-blind-safe qualitative palette (Okabe–Ito), legible on dark and light backgrounds.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"]
LOSS_RAW = "#9A9A9A"
LOSS_SMOOTH = "#0072B2"
ACTIVE_COLOR = "#D55E00"
READOUT_HINT = "Hover a plot for the values at that iteration."
PART_COLORS = ["#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"]
TRAIN_COLOR, VAL_COLOR, BASELINE_COLOR = "#0072B2", "#E69F00", "#D55E00"
MAX_EPOCH_LINES = 200
PART_POOL = 3  # part plots built up front (the metric loss has g1, g2, g3)


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

    def __init__(self, title: str, xlabel: str, ylabel: str, min_height: int = 110) -> None:
        super().__init__()
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.entries: list[tuple[str, str, bool]] = []  # name, colour, dashed
        self.legend_below = False
        self.getPlotItem().showGrid(x=True, y=True, alpha=0.2)
        # Plain tick labels: "loss (x0.001)" over ticks 250–500 read as a loss of 250.
        for name in ("left", "bottom"):
            self.getPlotItem().getAxis(name).enableAutoSIPrefix(False)
        self.setMinimumHeight(min_height)
        self._fg = QColor("black")

    def add_entry(self, name: str, color: str, dashed: bool = False) -> None:
        self.entries.append((name, color, dashed))
        self._set_title()

    def set_title(self, title: str) -> None:
        self.title = title
        self._set_title()

    def _set_title(self) -> None:
        keys = [f"<span style='color:{c}'>{'╌╌' if dashed else '━━'}</span>&nbsp;{name}"
                for name, c, dashed in self.entries]
        # A long legend wraps rather than widen (and clip) the plot.
        if self.legend_below and len(keys) > 2:  # the sets beside the title, the rest below
            keys = keys[:2] + ["<br>" + keys[2]] + keys[3:]
        text = "&nbsp;&nbsp;".join(keys).replace("&nbsp;&nbsp;<br>", "<br>")
        html = f"<b>{self.title}</b>" + (f"&nbsp;&nbsp;&nbsp;{text}" if text else "")
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


class EpochLines:
    """Dotted vertical lines at epoch boundaries, created once per boundary and reused."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot = plot
        self.lines: list[pg.InfiniteLine] = []

    def set_positions(self, xs: list[float]) -> None:
        xs = xs[-MAX_EPOCH_LINES:]
        pen = pg.mkPen(QColor(128, 128, 128, 150), width=1, style=Qt.PenStyle.DotLine)
        while len(self.lines) < len(xs):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
            line.setZValue(-5)
            self.plot.addItem(line)
            self.lines.append(line)
        for i, line in enumerate(self.lines):
            if i < len(xs):
                line.setPos(xs[i])
                line.show()
            else:
                line.hide()


class TrainingPlots(QWidget):
    """Loss (total, smoothed) and each loss part on its own axes, accuracy per epoch with its
    set and the pixel 1-NN baseline, throughput; epoch lines, hover read-out, smoothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = ThemedPlot("Loss", "iteration", "loss")
        self.acc_plot = ThemedPlot("Accuracy", "epoch", "top-1 / top-5")
        self.speed_plot = ThemedPlot("Throughput", "iteration", "images / s")
        self.part_plots: dict[str, ThemedPlot] = {}
        for w in (self.loss_plot, self.acc_plot, self.speed_plot):
            w.apply_palette(self.palette())
            w.setMinimumWidth(160)
        self.acc_plot.setYRange(0, 1.0, padding=0.02)
        self.acc_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)

        lp = self.loss_plot.getPlotItem()
        self.loss_curve = lp.plot(pen=_pen(LOSS_RAW, 1, alpha=140))
        self.smooth_curve = lp.plot(pen=_pen(LOSS_SMOOTH, 2.5))
        self.loss_plot.add_entry("raw", LOSS_RAW)
        self.loss_plot.add_entry("smoothed", LOSS_SMOOTH)
        self.part_curves: dict[str, pg.PlotDataItem] = {}
        self.part_raws: dict[str, pg.PlotDataItem] = {}
        ap = self.acc_plot.getPlotItem()
        dash = Qt.PenStyle.DashLine
        self.acc_curves = {
            "top1": ap.plot(pen=_pen(TRAIN_COLOR, 2), symbol="o", symbolSize=6,
                            symbolBrush=TRAIN_COLOR),
            "top5": ap.plot(pen=_pen(TRAIN_COLOR, 1.5, dash)),
            "val_top1": ap.plot(pen=_pen(VAL_COLOR, 2), symbol="s", symbolSize=6,
                                symbolBrush=VAL_COLOR),
            "val_top5": ap.plot(pen=_pen(VAL_COLOR, 1.5, dash)),
        }
        # The legend says what line style means (solid top-1, dashed top-5) and carries the
        # baseline's value: a label on the line sat on the curves and was clipped at 1280×720.
        self.acc_plot.legend_below = True
        for name, color, dashed in (("train", TRAIN_COLOR, False), ("val", VAL_COLOR, False),
                                    ("top-1", "#808080", False), ("top-5", "#808080", True)):
            self.acc_plot.add_entry(name, color, dashed)
        self.acc_plot.setToolTip("Nearest-center accuracy per epoch: solid top-1, dashed top-5; "
                                 "train = the un-augmented training images, val = the "
                                 "validation file (fonts never seen in training); pixel NN = the "
                                 "pixel 1-NN baseline on the validation file")
        self.baseline_line = pg.InfiniteLine(
            angle=0, movable=False, pen=_pen(BASELINE_COLOR, 1.2, Qt.PenStyle.DashDotLine))
        self.baseline_line.hide()
        ap.addItem(self.baseline_line)
        self.speed_curve = self.speed_plot.getPlotItem().plot(pen=_pen(COLORS[2], 1.5))
        self._epochs_total = 0
        for curve in [self.loss_curve, self.smooth_curve, self.speed_curve]:
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
        self.epoch_lines = [EpochLines(self.loss_plot), EpochLines(self.speed_plot)]
        self.hover_lines: list[pg.InfiniteLine] = []
        for plot in (self.loss_plot, self.speed_plot):
            self._add_hover_line(plot)

        self.log_y = QCheckBox("log loss axes")
        self.log_y.toggled.connect(self._set_log)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(0)
        self.smoothing.setFixedWidth(110)
        self.smoothing.setToolTip("Smoothing of the loss curves: exponential moving average "
                                  "factor (0 = raw, 0.99 = very smooth). Until moved it follows "
                                  "the run's length (a window of ~1/25 of the run); the raw "
                                  "line is always drawn behind it")
        self.smoothing_label = QLabel("smoothing 0.98 (auto)")
        self.smoothing_label.setMinimumWidth(self.smoothing_label.sizeHint().width())
        self.smoothing_auto = True  # follows the run length until the user moves the slider
        self._run_iterations = 0
        self._setting_smoothing = False
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.summary = QLabel("No run yet")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long run name must not widen the window: the label wraps, within three lines (at
        # 1280 × 720 the run id, status and best top-1 take three; two cut the figure off).
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.summary.setFixedHeight(3 * self.summary.fontMetrics().lineSpacing() + 4)
        self.readout = QLabel(READOUT_HINT)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setObjectName("plot-readout")
        self.readout.setFixedHeight(self.readout.fontMetrics().lineSpacing() + 6)
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(self.smoothing_label)
        head.addWidget(self.smoothing)
        head.addWidget(self.log_y)
        self.parts_row = QHBoxLayout()
        self.parts_row.setSpacing(4)
        parts_box = QWidget()
        parts_box.setLayout(self.parts_row)
        self.parts_row.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        grid.setSpacing(4)
        self._grid, self._parts_box = grid, parts_box
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.acc_plot, 0, 1)
        grid.addWidget(parts_box, 1, 0)
        grid.addWidget(self.speed_plot, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addLayout(grid, 1)
        lay.addWidget(self.readout)
        self._part_pool: list[tuple[ThemedPlot, pg.PlotDataItem]] = []
        self.part_raw: list[pg.PlotDataItem] = []  # raw line of each pooled part plot
        # The share of candidate triplets inside the margin: it moves when the loss cannot.
        self.active_plot = ThemedPlot("Active triplets", "iteration", "share in margin")
        self.active_plot.apply_palette(self.palette())
        self.active_plot.setMinimumWidth(90)
        self.active_plot.setToolTip(
            "Share of the batch's candidate triplets whose negative is not yet α farther than "
            "the positive (d_an < d_ap + α). It falls as the network separates the classes — "
            "the progress signal when the loss of the kept triplets cannot move.")
        self.active_raw = self.active_plot.getPlotItem().plot(
            pen=_pen(ACTIVE_COLOR, 1, alpha=110), connect="finite")
        self.active_curve = self.active_plot.getPlotItem().plot(
            pen=_pen(ACTIVE_COLOR, 1.8), connect="finite")
        self.active_plot.hide()
        self.parts_row.addWidget(self.active_plot)
        self.epoch_lines.append(EpochLines(self.active_plot))
        self._add_hover_line(self.active_plot)
        self.active_plot.scene().sigMouseMoved.connect(
            lambda pos: self._hover(self.active_plot, pos))
        # Top right, fixed in pixels: a falling loss leaves that corner empty.
        self.loss_note = pg.TextItem("", color=LOSS_SMOOTH, anchor=(1, 0))
        vb = self.loss_plot.getPlotItem().vb
        self.loss_note.setParentItem(vb)
        vb.sigResized.connect(self._place_loss_note)
        for _ in range(PART_POOL):
            self._new_part_plot()
        self._version = -1
        self._history: History | None = None
        for plot in (self.loss_plot, self.speed_plot):
            plot.scene().sigMouseMoved.connect(lambda pos, p=plot: self._hover(p, pos))

    # -- parts -------------------------------------------------------------------------------
    def _fill_parts_row(self, any_shown: bool) -> None:
        """A loss without parts and without the active share leaves no empty block under the
        loss plot (issue 21, item 11): the loss plot then takes the row as well."""
        if self._parts_box.isHidden() == (not any_shown):
            return
        self._grid.removeWidget(self.loss_plot)
        self._grid.addWidget(self.loss_plot, 0, 0, 1 if any_shown else 2, 1)
        self._parts_box.setVisible(any_shown)

    def _add_hover_line(self, plot: pg.PlotWidget) -> None:
        line = pg.InfiniteLine(angle=90, movable=False,
                               pen=pg.mkPen(QColor(120, 120, 120, 200), width=1))
        line.hide()
        plot.addItem(line, ignoreBounds=True)
        self.hover_lines.append(line)

    def _new_part_plot(self) -> tuple[ThemedPlot, pg.PlotDataItem]:
        color = PART_COLORS[len(self._part_pool) % len(PART_COLORS)]
        plot = ThemedPlot("", "iteration", "")
        plot.apply_palette(self.palette())
        plot.getPlotItem().getAxis("left").setWidth(42)
        plot.setMinimumWidth(90)
        plot.setToolTip("This loss part on its own axis: raw (faint) and smoothed like the loss")
        raw = plot.getPlotItem().plot(pen=_pen(color, 1, alpha=110), connect="finite")
        curve = plot.getPlotItem().plot(pen=_pen(color, 1.8), connect="finite")
        for c in (raw, curve):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        self.part_raw.append(raw)
        plot.hide()
        self.parts_row.insertWidget(len(self._part_pool), plot)  # before the active plot
        self.epoch_lines.append(EpochLines(plot))
        self._add_hover_line(plot)
        plot.scene().sigMouseMoved.connect(lambda pos, p=plot: self._hover(p, pos))
        self._part_pool.append((plot, curve))
        return plot, curve

    def _part_curve(self, key: str) -> pg.PlotDataItem:
        curve = self.part_curves.get(key)
        if curve is None:  # a plot from the pool (made up front: building one stalls ~50 ms)
            i = len(self.part_curves)
            plot, curve = self._part_pool[i] if i < len(self._part_pool) \
                else self._new_part_plot()
            self.part_raws[key] = self.part_raw[i]
            plot.set_title(key)
            plot.setLogMode(y=self.log_y.isChecked())
            plot.show()
            self.part_plots[key] = plot
            self.part_curves[key] = curve
        return curve

    def _set_log(self, on: bool) -> None:
        for plot in [self.loss_plot, *self.part_plots.values()]:
            plot.setLogMode(y=on)

    def _smoothing_changed(self, value: int) -> None:
        if not self._setting_smoothing:
            self.smoothing_auto = False
        self.smoothing_label.setText(f"smoothing {value / 100:.2f}"
                                     + (" (auto)" if self.smoothing_auto else ""))
        if self._history is not None:
            self.show_history(self._history, force=True)

    def factor(self) -> float:
        return self.smoothing.value() / 100.0

    def _auto_smooth(self, iterations: int) -> None:
        if not self.smoothing_auto:
            return
        self._setting_smoothing = True
        self.smoothing.setValue(int(round(100 * auto_smoothing(iterations))))
        self._setting_smoothing = False
        self.smoothing_label.setText(f"smoothing {self.factor():.2f} (auto)")

    def _place_loss_note(self, *_: object) -> None:
        r = self.loss_plot.getPlotItem().vb.boundingRect()
        self.loss_note.setPos(r.width() - 4, 2)

    def set_loss_note(self, text: str) -> None:
        """A line written on the loss plot itself (e.g. why a semi-hard loss cannot fall)."""
        self.loss_note.setText(text)
        self._place_loss_note()
        self.loss_plot.setToolTip(text or "")

    # -- drawing -----------------------------------------------------------------------------
    def show_history(self, h: History, force: bool = False) -> None:
        """Redraw from ``h`` (cheap no-op if nothing changed since the last call)."""
        if h is self._history and h.version == self._version and not force:
            return
        if h is not self._history:  # another run: nothing read out of the last one stays
            self.clear_readout()
        self._history = h
        self._auto_smooth(max(len(h), self._run_iterations))
        self._version = h.version
        x = h.steps.view()
        self.loss_curve.setData(x, h.loss.view())
        factor = self.factor()
        self.smooth_curve.setData(x, h.smoothed(factor))
        if set(h.parts) - set(self.part_curves) and set(self.part_curves) - set(h.parts):
            # Another loss (another run): give the pooled part plots new names.
            for plot in self.part_plots.values():
                plot.hide()
            self.part_plots, self.part_curves, self.part_raws = {}, {}, {}
        for key in h.parts:
            self._part_curve(key).setData(x, h.smoothed(factor, key))
            self.part_raws[key].setData(x, h.parts[key].view())
        for key, curve in self.part_curves.items():
            visible = key in h.parts
            self.part_plots[key].setVisible(visible)
            if not visible:
                curve.setData([], [])
                self.part_raws[key].setData([], [])
        active = h.active.view()
        has_active = bool(np.isfinite(active).any())
        self.active_plot.setVisible(has_active)
        self._fill_parts_row(has_active or any(k in h.parts for k in self.part_plots))
        if has_active:
            self.active_raw.setData(x, active)
            self.active_curve.setData(x, h.smoothed(factor, "active"))
            self.active_plot.setYRange(0, 1.0, padding=0.02)
        else:
            self.active_raw.setData([], [])
            self.active_curve.setData([], [])
        speed = h.throughput.view()
        finite = np.isfinite(speed)
        self.speed_curve.setData(x[finite], speed[finite])
        ex = h.epochs.view()
        for key, curve in self.acc_curves.items():
            y = h.epoch_values[key].view()
            ok = np.isfinite(y)
            curve.setData(ex[ok], y[ok])
        for lines in self.epoch_lines:
            lines.set_positions(h.epoch_starts)
        base = h.baselines.get("pixel-1nn val")
        if base is not None:
            self.baseline_line.setPos(base)
        self.baseline_line.setVisible(base is not None)
        self.acc_plot.entries = [e for e in self.acc_plot.entries
                                 if not e[0].startswith("pixel NN")]
        if base is not None:
            # "pixel NN": nearest neighbour on raw pixels of the validation file (tooltip)
            self.acc_plot.entries.append((f"pixel NN {base:.0%}", BASELINE_COLOR, True))
        self.acc_plot._set_title()
        # The axis holds train and val curves alike: it names the measure, the legend the sets.
        self.acc_plot.ylabel = "accuracy" if h.accuracy_set == "val" else "accuracy (train)"
        self.acc_plot.setToolTip(
            "Accuracy per epoch on the validation file: fonts held out of training"
            if h.accuracy_set == "val" else
            "Accuracy per epoch on training images only: the project has no validation file")
        self.acc_plot.getPlotItem().setLabel("left", self.acc_plot.ylabel,
                                             color=self.acc_plot._fg.name())
        self._epoch_axis(int(max(ex.max() if len(ex) else 0, self._epochs_total, 1)))

    def set_epochs(self, total: int, iterations: int | None = None) -> None:
        """Show the whole run's epoch range from the start (set when a run starts);
        ``iterations`` per epoch scales the automatic smoothing to the run's length."""
        self._epochs_total = int(total)
        if iterations is not None:
            self._run_iterations = int(total) * int(iterations)
        self._epoch_axis(max(1, self._epochs_total))

    def _epoch_axis(self, n: int) -> None:
        self.acc_plot.setXRange(0.5, n + 0.5, padding=0)
        axis = self.acc_plot.getPlotItem().getAxis("bottom")
        step = max(1, -(-n // 12))  # at most ~12 integer ticks: epochs are whole numbers
        axis.setTicks([[(float(i), str(i)) for i in range(step, n + 1, step)]])

    # -- hover -------------------------------------------------------------------------------
    def clear_readout(self) -> None:
        self.readout.setText(READOUT_HINT)
        for line in self.hover_lines:
            line.hide()

    def _hover(self, plot: pg.PlotWidget, pos: object) -> None:
        h = self._history
        if h is None or not len(h) or not plot.sceneBoundingRect().contains(pos):
            return
        x = plot.getPlotItem().vb.mapSceneToView(pos).x()
        steps = h.steps.view()
        i = int(np.clip(np.searchsorted(steps, x), 0, len(steps) - 1))
        if i > 0 and abs(steps[i - 1] - x) < abs(steps[i] - x):
            i -= 1
        step = float(steps[i])
        for line in self.hover_lines:
            line.setPos(step)
            line.show()
        epoch = 1 + sum(1 for s in h.epoch_starts if s < step)
        parts = " · ".join(f"{k} {g.view()[i]:.4g}" for k, g in h.parts.items()
                           if i < len(g) and np.isfinite(g.view()[i]))
        rate = h.throughput.view()[i]
        act = h.active.view()[i] if i < len(h.active) else np.nan
        if np.isfinite(act):
            parts = " · ".join(p for p in (parts, f"active triplets {act:.0%}") if p)
        self.readout.setText(
            f"iteration {int(step):,} (epoch {epoch}) · loss {h.loss.view()[i]:.4g} "
            f"(smoothed {h.smoothed(self.factor())[i]:.4g})" + (f" · {parts}" if parts else "")
            + (f" · {rate:,.0f} images/s" if np.isfinite(rate) else ""))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            for w in (self.loss_plot, self.acc_plot, self.speed_plot,
                      *self.part_plots.values()):
                w.apply_palette(self.palette())
        super().changeEvent(event)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)
        self.summary.setToolTip(text)
