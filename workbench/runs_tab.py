"""The Runs tab: compare runs — overlaid loss and accuracy curves (one colour per run, the legend
names its miners and loss) and the comparison table of ``core.infer.analysis.comparison_table``
(final / best top-1 / top-5, epochs, wall time and the settings that differ), exportable as CSV;
the plots are saved as PNG.

Reading ``metrics.jsonl`` of many long runs is I/O and JSON parsing, so the summaries are built
on a worker thread; a run whose files are broken is reported by name and the others still show.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.atomic import write_text_atomic
from core.errors import SiamError
from core.infer.analysis import RunSummary, comparison_table, summarize_run, table_csv
from core.train.project import Project, RunInfo
from workbench.document import ProjectDocument
from workbench.plots import COLORS, themed_plot
from workbench.workers import run_in_thread

DEFAULT_CHECKED = 3  # newest runs ticked when a project opens
SMOOTHING = 0.9
_PCT_COLUMNS = {"final_top1", "final_top5", "best_top1", "best_top5"}


def ema(values: np.ndarray, factor: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average (bias-corrected) so noisy per-iteration loss reads as a trend."""
    out = np.empty(len(values))
    acc = 0.0
    weight = 0.0
    for i, v in enumerate(values):
        acc = factor * acc + (1 - factor) * v
        weight = factor * weight + (1 - factor)
        out[i] = acc / weight
    return out


def summarize_many(paths: list[Path]) -> tuple[list[RunSummary], list[str]]:
    """Summaries of the runs that read, and one message per run that did not (worker thread)."""
    out, errors = [], []
    for p in paths:
        try:
            out.append(summarize_run(p))
        except (SiamError, OSError, ValueError) as exc:
            errors.append(f"{p.name}: {exc}")
    return out, errors


def format_cell(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column in _PCT_COLUMNS and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


class RunsTab(QWidget):
    """Pick runs, compare their curves and final numbers.

    Public: ``RunsTab(doc, parent=None)``; :meth:`refresh` re-lists runs; :meth:`set_checked`
    ticks runs by id; :meth:`export_csv` / :meth:`export_png` write files (the buttons ask for a
    path first). Signal ``compared()`` after the plots and table show the ticked runs.
    """

    compared = Signal()

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.summaries: list[RunSummary] = []
        self.header: list[str] = []
        self.rows: list[list[Any]] = []
        self._runs: list[RunInfo] = []
        self._tag = 0
        self._filling = False
        pal = self.palette()
        self._bg = pal.color(QPalette.ColorRole.Base)
        self._fg = pal.color(QPalette.ColorRole.Text)

        self.run_list = QListWidget()
        self.run_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.run_list.itemChanged.connect(self._item_changed)
        self.run_list.setMinimumWidth(215)
        self.run_list.setWordWrap(True)
        all_btn = QToolButton()
        all_btn.setText("All")
        all_btn.clicked.connect(lambda: self._check_all(True))
        none_btn = QToolButton()
        none_btn.setText("None")
        none_btn.clicked.connect(lambda: self._check_all(False))
        refresh_btn = QToolButton()
        refresh_btn.setText("Refresh")
        refresh_btn.setToolTip("Re-read the project's runs")
        refresh_btn.clicked.connect(lambda: self.refresh())
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Runs to compare:"))
        ll.addWidget(self.run_list, 1)
        lb = QHBoxLayout()
        for b in (all_btn, none_btn, refresh_btn):
            lb.addWidget(b)
        lb.addStretch(1)
        ll.addLayout(lb)

        self.loss_plot = self._plot("Loss per iteration (smoothed)", "iteration", "loss")
        self.acc_plot = self._plot("Accuracy per epoch (top-1; dashed: top-5)", "epoch",
                                   "accuracy")
        self.acc_plot.getPlotItem().setToolTip("Validation accuracy (held-out fonts) where the "
                                               "run has a validation file, else training")
        self.acc_plot.setYRange(0, 1.0, padding=0.02)
        self.smooth_check = QCheckBox("smooth loss")
        self.smooth_check.setChecked(True)
        self.smooth_check.toggled.connect(lambda _on: self._draw())
        self.log_check = QCheckBox("log loss axis")
        self.log_check.setToolTip("Runs with different losses have different scales; a log "
                                  "axis shows both (on by default when the losses differ)")
        self.log_check.toggled.connect(lambda on: self.loss_plot.setLogMode(y=on))
        # The legend lives outside the plots so it never hides a curve; one line per run.
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.plots = QWidget()
        pl = QVBoxLayout(self.plots)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.legend)
        row = QHBoxLayout()
        row.addWidget(self.loss_plot, 1)
        row.addWidget(self.acc_plot, 1)
        pl.addLayout(row, 1)

        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.csv_btn = QPushButton("Export table as CSV…")
        self.csv_btn.clicked.connect(self._ask_csv)
        self.png_btn = QPushButton("Save plots as PNG…")
        self.png_btn.clicked.connect(self._ask_png)
        self.message = QLabel()
        self.message.setWordWrap(True)
        tools = QHBoxLayout()
        tools.addWidget(self.smooth_check)
        tools.addWidget(self.log_check)
        tools.addStretch(1)
        tools.addWidget(self.csv_btn)
        tools.addWidget(self.png_btn)

        self.compare_view = QSplitter(Qt.Orientation.Vertical)
        self.compare_view.addWidget(self.plots)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addLayout(tools)
        bl.addWidget(self.message)
        bl.addWidget(self.table, 1)
        self.compare_view.addWidget(bottom)
        self.compare_view.setStretchFactor(0, 3)
        self.compare_view.setStretchFactor(1, 2)
        self.compare_view.setSizes([470, 300])
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right = QStackedWidget()
        self.right.addWidget(self.empty)
        self.right.addWidget(self.compare_view)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 850])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        doc.projectChanged.connect(lambda: self._reload(choose_default=True))
        self._reload(choose_default=True)

    def _plot(self, title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
        return themed_plot(title, xlabel, ylabel, self._fg, self._bg, min_height=180,
                           si_prefix=True)

    # -- runs --------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    def refresh(self) -> None:
        """Re-list the project's runs, keeping the ticks (new runs start unticked)."""
        self._reload(False)

    def _reload(self, choose_default: bool) -> None:
        p = self.project
        checked = set(self.checked_ids())
        try:
            self._runs = p.runs() if p is not None else []
        except OSError:
            self._runs = []
        if choose_default:
            finished = [r.id for r in self._runs if r.status == "finished"] or \
                [r.id for r in self._runs]
            checked = set(finished[-DEFAULT_CHECKED:])
        self._filling = True
        self.run_list.clear()
        for r in reversed(self._runs):
            acc = "" if r.best_top1 is None else f", best {r.best_top1:.1%}"
            item = QListWidgetItem(f"{r.id}\n{r.status}, {r.epoch}/{r.epochs} epochs{acc}")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if r.id in checked
                               else Qt.CheckState.Unchecked)
            if r.message:
                item.setToolTip(r.message)
            self.run_list.addItem(item)
        self._filling = False
        self.compare()

    def checked_ids(self) -> list[str]:
        out = []
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_checked(self, ids: list[str]) -> None:
        """Tick exactly the runs named in ``ids`` and compare them."""
        self._filling = True
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._filling = False
        self.compare()

    def _check_all(self, on: bool) -> None:
        self.set_checked([r.id for r in self._runs] if on else [])

    def _item_changed(self, _item: QListWidgetItem) -> None:
        if not self._filling:
            self.compare()

    # -- comparing ---------------------------------------------------------------------------
    def compare(self) -> None:
        """Summarise the ticked runs on a worker thread, then draw."""
        self._tag += 1
        tag = self._tag
        if self.project is None:
            self._show_empty("<h3>Runs</h3><p>Open a project to compare its runs.</p>")
            return
        if not self._runs:
            self._show_empty("<h3>No runs yet</h3><p>Runs appear under <code>runs/</code> as "
                             "you train (Train tab). Tick two or more here to overlay their "
                             "loss and accuracy and compare their final numbers.</p>")
            return
        ids = self.checked_ids()
        if not ids:
            self._show_empty("<p>Tick the runs to compare in the list on the left.</p>")
            return
        paths = [r.path for r in self._runs if r.id in ids]
        self.message.setText("Reading metrics…")
        run_in_thread(lambda: (tag, *summarize_many(paths)), self, "siam-runs-summary",
                      self._summarized, lambda m, d: self.message.setText(m))

    def _show_empty(self, html: str) -> None:
        self.summaries, self.header, self.rows = [], [], []
        self.empty.setText(html)
        self.right.setCurrentWidget(self.empty)
        self.compared.emit()

    def _summarized(self, result: tuple[int, list[RunSummary], list[str]]) -> None:
        tag, summaries, errors = result
        if tag != self._tag:
            return
        self.summaries = summaries
        self.header, self.rows = comparison_table(summaries) if summaries else ([], [])
        kinds = {s.config.loss.kind for s in summaries if s.config is not None}
        self.log_check.setChecked(len(kinds) > 1)
        self.right.setCurrentWidget(self.compare_view)
        self._draw()
        self._fill_table()
        diff = self.header[8:] if self.header else []
        msg = (f"{len(summaries)} run(s)" + (f"; differing settings: {', '.join(diff)}"
                                             if diff else "; same settings"))
        if errors:
            msg += " — could not read: " + "; ".join(errors)
        self.message.setText(msg)
        self.compared.emit()

    def _draw(self) -> None:
        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        lp.clear()
        ap.clear()
        entries = []
        for i, s in enumerate(self.summaries):
            color = COLORS[i % len(COLORS)]
            entries.append(f'<span style="color:{color}; font-size:14pt">&#9632;</span>&nbsp;'
                           f'{html.escape(s.label)}')
            it = [r for r in s.iterations if r.get("loss") is not None]
            if it:
                x = np.array([float(r.get("step", j)) for j, r in enumerate(it)])
                y = np.array([float(r["loss"]) for r in it])
                if self.smooth_check.isChecked():
                    y = ema(y)
                curve = lp.plot(x, y, pen=pg.mkPen(color, width=2), name=s.label)
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
            ep = s.epochs
            if ep:
                x = np.array([float(r.get("epoch", j)) + 1 for j, r in enumerate(ep)])
                for key, style, name in (("top1", Qt.PenStyle.SolidLine, s.label),
                                         ("top5", Qt.PenStyle.DashLine, None)):
                    vals = [r.get(f"val_{key}") if r.get(f"val_{key}") is not None
                            else r.get(key) for r in ep]
                    y = np.array([np.nan if v is None else float(v) for v in vals])
                    ok = np.isfinite(y)
                    if ok.any():
                        ap.plot(x[ok], y[ok], pen=pg.mkPen(color, width=2, style=style),
                                symbol="o" if key == "top1" else None, symbolSize=5,
                                symbolBrush=color, name=name)
        ap.setYRange(0, 1.0, padding=0.02)
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(entries))

    def _fill_table(self) -> None:
        header, rows = self.header, self.rows
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([h.replace("_", " ") for h in header])
        for r, row in enumerate(rows):
            color = COLORS[r % len(COLORS)]
            for c, value in enumerate(row):
                item = QTableWidgetItem(format_cell(header[c], value))
                if c == 0:
                    item.setForeground(pg.mkColor(color))
                    item.setToolTip(self.summaries[r].label)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    # -- export ------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        """Write the comparison table (``core.infer.analysis.table_csv``) to ``path``."""
        path = Path(path)
        write_text_atomic(path, table_csv(self.header, self.rows))
        return path

    def export_png(self, path: str | Path) -> Path:
        """Save both plots, as shown, to ``path``."""
        path = Path(path)
        if not self.plots.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        return path

    def _default_dir(self) -> str:
        p = self.project
        return str(p.root) if p is not None else str(Path.home())

    def _ask_csv(self) -> None:
        if not self.rows:
            self.message.setText("Nothing to export: tick some runs first.")
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export comparison table",
                                              str(Path(self._default_dir()) / "runs.csv"),
                                              "CSV (*.csv)")
        if name:
            try:
                self.message.setText(f"Wrote {self.export_csv(name)}")
            except (OSError, SiamError) as exc:
                self.message.setText(f"Cannot write the CSV: {exc}")

    def _ask_png(self) -> None:
        if not self.summaries:
            self.message.setText("Nothing to save: tick some runs first.")
            return
        name, _ = QFileDialog.getSaveFileName(self, "Save plots",
                                              str(Path(self._default_dir()) / "runs.png"),
                                              "PNG image (*.png)")
        if name:
            try:
                self.message.setText(f"Wrote {self.export_png(name)}")
            except OSError as exc:
                self.message.setText(f"Cannot write the image: {exc}")

    def plotted_runs(self) -> int:
        """How many runs have a loss curve in the plot (tests, screenshots)."""
        return sum(1 for item in self.loss_plot.getPlotItem().listDataItems()
                   if item.xData is not None and len(item.xData))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1080, 760)
