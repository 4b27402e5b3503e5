"""Miners › Why: does the miner push the classes the network gets wrong?

Each class is a point: its sampling probability (x, log) against its validation error (y,
1 − top-1 on held-out fonts, measured with the run's last checkpoint). The verdict, the rank
correlation and the probability ratio come from
:func:`siam_workbench.infer.miner_effect.miner_effect`; the selected class's confusers (what its
validation images are read as) from :func:`siam_workbench.infer.miner_effect.confusers`. Above
it the miners' formulas with the run's γ, w, θ, η
(:func:`siam_workbench.infer.miner_effect.formula_text`).

Measuring the errors is an evaluation pass over the validation file (a worker thread, with
progress); it runs when the page is first shown for a run and again on request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.miners_model import scatter_labels
from siam_workbench.app.plots import COLORS, themed_plot
from siam_workbench.app.workers import Job, JobRunner, _Throttle
from siam_workbench.infer.miner_effect import MinerEffect, confusers, formula_text, miner_effect
from siam_workbench.project.runfolder import RunFolder

CONFUSERS = 6


def log_ticks(lo: float, hi: float) -> list[list[tuple[float, str]]]:
    """Ticks for an axis holding log₁₀ values, labelled with the values themselves: every
    decade, and 2 and 5 × the decade when the data span less than two decades (2…9 all
    labelled crowd into each other near the top of a decade); 3, 4, 6…9 × get a bare tick."""
    k0, k1 = int(np.floor(lo)), int(np.ceil(hi))
    major = [(float(k), f"{10.0 ** k:g}") for k in range(k0, k1 + 1)]
    minor = [(float(k + np.log10(m)), f"{m * 10.0 ** k:g}" if hi - lo < 2 and m in (2, 5)
              else "")
             for k in range(k0, k1) for m in range(2, 10)]
    return [major, minor]


class ClassErrorJob(Job):
    """Evaluate a run's last checkpoint on a glyph file; per-class error and predictions."""

    progress = Signal(int, int)

    def __init__(self, run_dir: Path, data: Path) -> None:
        super().__init__()
        self.run_dir, self.data = Path(run_dir), Path(data)
        self._throttle = _Throttle(0.1)

    def work(self) -> Any:
        from siam_workbench.infer.evaluate import evaluate, load_run, per_class_accuracy

        run = load_run(self.run_dir, which="last", enrolled=False)  # the trained classes
        res = evaluate(run, self.data, keep_predictions=True, cancel=self._cancel,
                       progress=lambda d, t: self.progress.emit(d, t)
                       if self._throttle.ready(force=d >= t) else None)
        acc = per_class_accuracy(res["labels"], res["pred"], len(run.classes))
        return {"run": self.run_dir, "classes": list(run.classes), "error": 1.0 - acc,
                "labels": res["labels"], "pred": res["pred"], "top1": res["top1"],
                "n": res["n"], "epoch": run.meta.get("epoch")}


class WhyPanel(QWidget):
    """Probability vs. validation error per class, the verdict, the formula, the confusers."""

    classClicked = Signal(int)

    def __init__(self, glyphs: Any, fg: QColor, bg: QColor, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self._fg = fg
        self.source: Path | None = None
        self.data_path: Path | None = None
        self.measured: dict[str, Any] | None = None
        self.probabilities: np.ndarray | None = None
        self.classes: list[str] = []
        self.effect: MinerEffect | None = None
        self.selected: int | None = None
        self.runner: JobRunner | None = None
        self.job: ClassErrorJob | None = None

        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.formula.setObjectName("miner-formula")
        self.verdict = QLabel("Measure the validation error of every class to see whether the "
                              "miner samples the hard ones more.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.measure_btn = QPushButton("Measure validation error")
        self.measure_btn.setToolTip("Evaluate the run's last checkpoint on the validation file "
                                    "(held-out fonts)")
        self.measure_btn.clicked.connect(lambda: self.measure())
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setMaximumWidth(220)
        self.bar.setFormat("")
        self.plot = themed_plot("Sampling probability vs. validation error, one point per class",
                                "sampling probability (log scale)",
                                "validation error (1 − top-1)", fg, bg, min_height=200,
                                si_prefix=False)
        self.plot.getPlotItem().getAxis("bottom").enableAutoSIPrefix(False)
        self.scatter = pg.ScatterPlotItem(size=6, pen=None, hoverable=True, tip=self._tip,
                                          brush=pg.mkBrush(QColor(COLORS[0]).lighter(110)))
        self.scatter.sigClicked.connect(self._clicked)
        self.point_labels: list[pg.TextItem] = []  # classes written beside the outliers
        self.mark = pg.ScatterPlotItem(size=14, brush=None, pen=pg.mkPen(COLORS[5], width=2))
        self.plot.addItem(self.scatter)
        self.plot.addItem(self.mark)
        self.selected_title = QLabel("Click a point (or select a class) for its confusers.")
        self.selected_title.setWordWrap(True)
        self.selected_title.setFixedHeight(3 * self.selected_title.fontMetrics().lineSpacing()
                                           + 6)
        self.selected_title.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.confuser_list = QListWidget()
        self.confuser_list.setIconSize(QSize(30, 30))
        self.confuser_list.itemClicked.connect(
            lambda it: self.classClicked.emit(int(it.data(Qt.ItemDataRole.UserRole))))

        row = QHBoxLayout()
        row.addWidget(self.verdict, 1)
        row.addWidget(self.bar)
        row.addWidget(self.measure_btn)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.selected_title)
        sl.addWidget(QLabel("<b>Read as</b> (its validation images' wrong answers)"))
        sl.addWidget(self.confuser_list, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.formula)
        lay.addLayout(row)
        lay.addWidget(split, 1)

    # -- data --------------------------------------------------------------------------------
    def set_run(self, source: Path | None, data_path: Path | None, config: Any,
                positive: str, negative: str, num_classes: int | None = None) -> None:
        """The run whose miners are shown (``source`` None: live, nothing measured yet)."""
        self.formula.setText(formula_text(config, positive, negative, num_classes))
        if source != self.source or data_path != self.data_path:
            self.source, self.data_path = source, data_path
            self.measured = None
            self.scatter.clear()
            self.mark.clear()
            self.confuser_list.clear()
            self.verdict.setText("Measure the validation error of every class to see whether "
                                 "the miner samples the hard ones more.")
        self._update_button()

    def set_probabilities(self, classes: list[str], probabilities: np.ndarray | None) -> None:
        self.classes = classes
        self.probabilities = probabilities
        self._draw()

    def wants_measure(self) -> bool:
        return self.measured is None and self.runner is None and self._can_measure()

    def _can_measure(self) -> bool:
        return (self.source is not None and self.data_path is not None
                and self.data_path.exists()
                and RunFolder(self.source).last.exists())

    def _update_button(self) -> None:
        self.measure_btn.setEnabled(self.runner is None and self._can_measure())
        if self.source is not None and self.data_path is not None \
                and not self.data_path.exists():
            self.measure_btn.setToolTip("This project has no validation file to measure on")

    # -- measuring ---------------------------------------------------------------------------
    def measure(self) -> bool:
        if self.runner is not None or not self._can_measure():
            return False
        assert self.source is not None and self.data_path is not None
        job = ClassErrorJob(self.source, self.data_path)
        runner = JobRunner(job, "siam-why", self)
        job.progress.connect(self._progress)
        src = self.source
        runner.succeeded.connect(lambda out: self._measured(src, out))
        runner.failed.connect(lambda m, _d: self.verdict.setText(
            f"<b>Cannot measure: {m}</b>"))
        runner.finished.connect(self._finished)
        self.job, self.runner = job, runner
        self.bar.setRange(0, 0)
        self.verdict.setText(f"Evaluating {src.name} on {self.data_path.name}…")
        self._update_button()
        runner.start()
        return True

    def _progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"{done:,}/{total:,}")

    def _finished(self) -> None:
        self.job = self.runner = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if self.measured else 0)
        self.bar.setFormat("measured" if self.measured else "")
        self._update_button()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _measured(self, source: Path, out: dict[str, Any]) -> None:
        if source != self.source:
            return
        self.measured = out
        self._draw()
        if self.selected is not None:
            self.select_class(self.selected)

    # -- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        m, p = self.measured, self.probabilities
        if m is None or p is None:
            return
        err = np.asarray(m["error"], dtype=np.float64)
        if len(err) != len(p):
            self.verdict.setText("The checkpoint's classes differ from the mining log's.")
            return
        ok = np.isfinite(err) & np.isfinite(p) & (p > 0)
        idx = np.flatnonzero(ok)
        x = np.log10(p[idx])
        self.scatter.setData(x=x, y=err[idx], data=idx)
        for item in self.point_labels:
            self.plot.removeItem(item)
        self.point_labels = []
        for i in scatter_labels(p, err):
            text = pg.TextItem(self.classes[i] if i < len(self.classes) else str(i),
                               color=COLORS[0], anchor=(0.5, 1.1))
            text.setPos(float(np.log10(p[i])), float(err[i]))
            self.plot.addItem(text)
            self.point_labels.append(text)
        self.plot.getPlotItem().getAxis("bottom").setTicks(log_ticks(float(x.min()),
                                                                     float(x.max())))
        self.effect = miner_effect(p, err)
        epoch = m.get("epoch")
        self.verdict.setText(
            f"<b>Does the miner push the classes the network gets wrong?</b> "
            f"{self.effect.verdict} <small>({self.effect.n:,} classes; errors of the "
            f"checkpoint after epoch {epoch} on {Path(self.data_path or '').name}, "
            f"top-1 {m['top1']:.1%})</small>")
        self.plot.getPlotItem().vb.autoRange()

    def _tip(self, x: float, y: float, data: Any) -> str:
        i = int(data)
        name = self.classes[i] if i < len(self.classes) else str(i)
        p = self.probabilities[i] if self.probabilities is not None else float("nan")
        return f"{name} (class {i})\nprobability {p:.3g}\nvalidation error {y:.0%}"

    def _clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            i = int(points[0].data())
            self.select_class(i)
            self.classClicked.emit(i)

    def select_class(self, index: int) -> None:
        self.selected = index
        m, p = self.measured, self.probabilities
        self.confuser_list.clear()
        if m is None or p is None or not 0 <= index < len(self.classes):
            self.mark.clear()
            return
        err = float(m["error"][index])
        name = self.classes[index]
        if np.isfinite(err) and p[index] > 0:
            self.mark.setData([np.log10(p[index])], [err])
        else:
            self.mark.clear()
        self.selected_title.setText(
            f"<b>{name}</b>: sampling probability {p[index]:.3g} "
            f"({p[index] * len(p):.2f}× uniform), validation error "
            + ("–" if not np.isfinite(err) else f"{err:.0%}"))
        for j, count in confusers(m["labels"], m["pred"], index, CONFUSERS):
            other = self.classes[j]
            item = QListWidgetItem(QIcon(self.glyphs.pixmap(other, 30)),
                                   f"{other}  ×{count}  (P = {p[j]:.3g})")
            item.setData(Qt.ItemDataRole.UserRole, j)
            self.confuser_list.addItem(item)
        if not self.confuser_list.count():
            self.confuser_list.addItem("No wrong answers for this class.")
