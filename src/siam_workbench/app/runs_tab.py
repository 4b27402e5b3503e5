"""The Runs tab: manage and compare a project's runs, and evaluate or export any of them.

* **Compare** — accuracy per epoch first (runs with different losses or miners are compared by
  accuracy: their losses are on different scales, and random mining shows a lower loss *and* a
  lower accuracy), with the set each curve is measured on and the pixel 1-NN baseline; the
  loss below, with that caveat spelled out when it applies; the comparison table of
  ``siam_workbench.infer.compare.comparison_table`` (final / best / test top-1 / top-5, wall time
  and the settings that differ), exportable as CSV; the plots saved as PNG.
* **Evaluate** — :class:`siam_workbench.app.evaluate_panel.EvaluatePanel` (test / val / drawings /
any glyph file, per-class table, most-confused pairs).
* The selected run: notes, rename, delete (confirmed), export (TorchScript); the best run is
  marked ★ (``siam_workbench.infer.runs``, the same as ``siam run …``).

Reading ``metrics.jsonl`` of many long runs is I/O and JSON parsing, so the summaries are built
on a worker thread; a run whose files are broken is reported by name and the others still show.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.evaluate_panel import EvaluatePanel
from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.plots import BASELINE_COLOR, COLORS, themed_plot
from siam_workbench.app.workers import run_in_thread
from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.infer.compare import RunSummary, comparison_table, summarize_run, table_csv
from siam_workbench.project.project import Project, RunInfo

DEFAULT_CHECKED = 3  # newest runs ticked when a project opens
SMOOTHING = 0.9
_PCT_COLUMNS = {"final_top1", "final_top5", "best_top1", "best_top5", "test_top1",
                "test_top5"}


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


X_AXES = (("x: iteration", "step"), ("x: images", "images"), ("x: wall time (s)", "seconds"))
X_LABELS = {"step": ("iteration", "epoch"), "images": ("images through the network",) * 2,
            "seconds": ("wall time (s)",) * 2}


def _run_clock(records: list[dict[str, Any]]) -> Any:
    """(record times, their training seconds) of a run's iteration records, for wall time."""
    from siam_workbench.infer.curves import elapsed_seconds

    t = np.array([float(r["time"]) if isinstance(r.get("time"), (int, float)) else np.nan
                  for r in records])
    return t, elapsed_seconds(t)


def _x_values(records: list[dict[str, Any]], axis: str, clock: Any) -> np.ndarray:
    """x of each record (iteration or epoch) on the chosen axis; NaN where a run lacks it."""
    if axis == "step":
        return np.array([float(r.get("step", j)) + 1 for j, r in enumerate(records)])
    if axis == "images":
        return np.array([float(r["images"]) if isinstance(r.get("images"), (int, float))
                         else np.nan for r in records])
    times, secs = clock
    t = np.array([float(r["time"]) if isinstance(r.get("time"), (int, float)) else np.nan
                  for r in records])
    if not len(times) or not np.isfinite(times).any():
        return np.full(len(records), np.nan)
    # An epoch record's time maps onto the training clock of the last iteration before it.
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    return np.where(np.isfinite(t), secs[idx] + np.clip(t - times[idx], 0, 60.0), np.nan)


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
    """Pick runs, compare their curves and final numbers, manage and evaluate them.

    Public: ``RunsTab(doc, parent=None)``; :meth:`refresh` re-lists runs; :meth:`set_checked`
    ticks runs by id; :meth:`export_csv` / :meth:`export_png` write files; :meth:`rename`,
    :meth:`delete`, :meth:`save_notes`, :meth:`export_model` manage the selected run. Signal
    ``compared()`` after the plots and table show the ticked runs; ``runsChanged()`` after a
    run was renamed or deleted.
    """

    compared = Signal()
    runsChanged = Signal()
    showRun = Signal(object)  # Path: plot this run in the Train tab

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.glyphs = GlyphCache.for_document(doc)
        self.summaries: list[RunSummary] = []
        self.header: list[str] = []
        self.rows: list[list[Any]] = []
        self._runs: list[RunInfo] = []
        self._best: str | None = None
        self._tag = 0
        self._filling = False
        #: The run this window is training now (set by the main window): never deleted.
        self.active_run: Callable[[], Path | None] = lambda: None
        pal = self.palette()
        self._bg = pal.color(QPalette.ColorRole.Base)
        self._fg = pal.color(QPalette.ColorRole.Text)

        self.run_list = QListWidget()
        self.run_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.run_list.itemChanged.connect(self._item_changed)
        self.run_list.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.run_list.setMinimumWidth(210)
        self.run_list.setWordWrap(True)
        self.run_list.setToolTip("Tick runs to compare them; select one to manage it")
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

        self.selected_title = QLabel("Select a run")
        self.selected_title.setWordWrap(True)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Notes on this run (saved in its notes.md)")
        self.notes.setMaximumHeight(90)
        self.notes.textChanged.connect(lambda: self.notes_btn.setEnabled(
            self.current_run() is not None))
        self.notes_btn = QPushButton("Save notes")
        self.notes_btn.clicked.connect(lambda: self.save_notes())
        self.rename_btn = QPushButton("Rename…")
        self.rename_btn.clicked.connect(self._ask_rename)
        self.delete_btn = QPushButton("Delete…")
        self.delete_btn.clicked.connect(lambda: self.delete())
        self.export_btn = QPushButton("Export…")
        self.export_btn.setToolTip("Save the network, its class centers and class list as one "
                                   "TorchScript file (siam export)")
        self.export_btn.clicked.connect(self._ask_export)
        self.eval_btn = QPushButton("Evaluate…")
        self.eval_btn.setToolTip("Evaluate this run (Evaluate page)")
        self.eval_btn.clicked.connect(self._evaluate_selected)
        self.train_btn = QPushButton("Plot in Train")
        self.train_btn.clicked.connect(self._show_in_train)
        manage = QGroupBox("Selected run")
        ml = QVBoxLayout(manage)
        ml.addWidget(self.selected_title)
        ml.addWidget(self.notes)
        grid = QGridLayout()
        for i, b in enumerate((self.notes_btn, self.rename_btn, self.delete_btn,
                               self.export_btn, self.eval_btn, self.train_btn)):
            grid.addWidget(b, i // 2, i % 2)
        ml.addLayout(grid)
        # What the buttons above did (export written, notes saved) shows here, beside them —
        # not on the Compare page, which may not be the one in view (issue 21, item 12).
        self.run_message = QLabel()
        self.run_message.setWordWrap(True)
        self.run_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ml.addWidget(self.run_message)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Runs (tick to compare; ★ best):"))
        ll.addWidget(self.run_list, 1)
        lb = QHBoxLayout()
        for b in (all_btn, none_btn, refresh_btn):
            lb.addWidget(b)
        lb.addStretch(1)
        ll.addLayout(lb)
        ll.addWidget(manage)

        self.acc_plot = self._plot("Accuracy per epoch", "epoch", "top-1, dashed top-5")
        self.acc_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        self.acc_plot.setYRange(0, 1.0, padding=0.02)
        self.loss_plot = self._plot("Loss per iteration", "iteration", "loss")
        self.smooth_check = QCheckBox("smooth loss")
        self.smooth_check.setChecked(True)
        self.smooth_check.toggled.connect(lambda _on: self._draw())
        self.log_check = QCheckBox("log loss axis")
        self.log_check.setToolTip("Runs with different losses have different scales; a log "
                                  "axis shows both (on by default when the losses differ)")
        self.log_check.toggled.connect(lambda on: self.loss_plot.setLogMode(y=on))
        # Every ticked run is overlaid on the same plots; the x-axis is the user's choice, as
        # in TensorBoard: runs of different batch sizes compare fairly by images seen.
        self.x_combo = QComboBox()
        for label, key in X_AXES:
            self.x_combo.addItem(label, key)
        self.x_combo.setToolTip("The x-axis of both plots: iterations (steps), images through "
                                "the network (the budget), or wall time (pauses squeezed out)")
        self.x_combo.currentIndexChanged.connect(lambda _i: self._draw())
        # The legend lives outside the plots so it never hides a curve; one line per run.
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.caveat = QLabel()
        self.caveat.setWordWrap(True)
        self.caveat.setProperty("role", "warning")
        self.caveat.hide()
        self.plots = QWidget()
        pl = QVBoxLayout(self.plots)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.legend)
        row = QHBoxLayout()
        row.addWidget(self.acc_plot, 1)
        row.addWidget(self.loss_plot, 1)
        pl.addLayout(row, 1)
        pl.addWidget(self.caveat)

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
        tools.addWidget(self.x_combo)
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
        self.compare_view.setSizes([470, 260])
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right = QStackedWidget()
        self.right.addWidget(self.empty)
        self.right.addWidget(self.compare_view)
        self.evaluate_panel = EvaluatePanel(self.glyphs)
        self.evaluate_panel.evaluated.connect(lambda _r: self.compare())
        self.pages = QTabWidget()
        self.pages.addTab(self.right, "Compare")
        self.pages.addTab(self.evaluate_panel, "Evaluate")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.pages)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([240, 850])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        doc.projectChanged.connect(lambda: self._reload(choose_default=True))
        self._reload(choose_default=True)

    def x_axis(self) -> str:
        return str(self.x_combo.currentData() or "step")

    def _plot(self, title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
        return themed_plot(title, xlabel, ylabel, self._fg, self._bg, min_height=170,
                           si_prefix=True)

    # -- runs --------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    def refresh(self) -> None:
        """Re-list the project's runs, keeping the ticks (new runs start unticked)."""
        self._reload(False)

    def _reload(self, choose_default: bool) -> None:
        from siam_workbench.infer.runs import best_run

        p = self.project
        checked = set(self.checked_ids())
        current = self.current_run()
        had_runs = bool(getattr(self, "_runs", None))
        try:
            self._runs = p.runs() if p is not None else []
        except OSError:
            self._runs = []
        best = best_run(p, self._runs) if p is not None else None
        self._best = best.id if best is not None else None
        if choose_default or (not had_runs and not checked):
            # Compare opens with something to compare: the ★ best run and the newest ones —
            # also when the first runs appear in a project that had none (issue 21, item 11).
            checked = set(self._default_ticks())
        self._filling = True
        self.run_list.clear()
        for r in reversed(self._runs):
            acc = "" if r.best_top1 is None else f", best {r.best_top1:.1%}"
            star = "★ " if r.id == self._best else ""
            item = QListWidgetItem(f"{star}{r.id}\n{r.status}, {r.epoch}/{r.epochs} epochs{acc}")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, str(r.path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if r.id in checked
                               else Qt.CheckState.Unchecked)
            tip = r.message or r.status
            if r.id == self._best:
                tip = "★ the best run (highest best top-1; the Draw tab loads it)\n" + tip
            item.setToolTip(tip)
            self.run_list.addItem(item)
            if current is not None and r.path == current:
                self.run_list.setCurrentItem(item)
        if self.run_list.currentItem() is None and self.run_list.count():
            # Start on the ★ best run (Evaluate follows the selection), else the newest.
            rows = [i for i in range(self.run_list.count())
                    if self.run_list.item(i).data(Qt.ItemDataRole.UserRole) == self._best]
            self.run_list.setCurrentRow(rows[0] if rows else 0)
        self._filling = False
        # Evaluate starts on the ★ best run (the one Draw loads), not merely the newest.
        first = best is not None and getattr(self, "_eval_best", None) != (p.root, best.id)
        if first:
            self._eval_best = (p.root, best.id)
        self.evaluate_panel.set_runs(p, self._runs, current=str(best.path) if first else None)
        self._selection_changed()
        self.compare()

    def _default_ticks(self) -> list[str]:
        """The ★ best run plus the newest finished runs (any runs if none finished)."""
        finished = [r.id for r in self._runs if r.status == "finished"] or \
            [r.id for r in self._runs]
        ids = finished[-DEFAULT_CHECKED:]
        if self._best is not None and self._best not in ids:
            ids = [self._best, *ids[-(DEFAULT_CHECKED - 1):]]
        return ids

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

    # -- the selected run --------------------------------------------------------------------
    def current_run(self) -> Path | None:
        item = self.run_list.currentItem() if hasattr(self, "run_list") else None
        return Path(item.data(Qt.ItemDataRole.UserRole + 1)) if item is not None else None

    def select_run(self, run_id: str) -> None:
        for i in range(self.run_list.count()):
            if self.run_list.item(i).data(Qt.ItemDataRole.UserRole) == run_id:
                self.run_list.setCurrentRow(i)
                return

    def _selection_changed(self) -> None:
        from siam_workbench.infer.runs import has_checkpoint, read_notes

        run = self.current_run()
        on = run is not None
        for b in (self.rename_btn, self.delete_btn, self.train_btn):
            b.setEnabled(on)
        self.export_btn.setEnabled(on and has_checkpoint(run))
        self.eval_btn.setEnabled(on and has_checkpoint(run))
        self.notes.setEnabled(on)
        self.notes.blockSignals(True)
        self.notes.setPlainText(read_notes(run) if on else "")
        self.notes.blockSignals(False)
        self.notes_btn.setEnabled(False)
        if on:
            star = " ★ best" if run.name == self._best else ""
            self.selected_title.setText(f"<b>{run.name}</b>{star}")
            self.evaluate_panel.select_run(run)
        else:
            self.selected_title.setText("Select a run")

    def save_notes(self, text: str | None = None) -> bool:
        from siam_workbench.infer.runs import write_notes

        run = self.current_run()
        if run is None:
            return False
        if text is not None:
            self.notes.setPlainText(text)
        try:
            write_notes(run, self.notes.toPlainText())
        except SiamError as exc:
            dialogs.error(self, "Cannot save the notes", str(exc))
            return False
        self.notes_btn.setEnabled(False)
        self.run_message.setText(f"Saved the notes of {run.name}.")
        return True

    def _is_training(self, run: Path) -> bool:
        active = self.active_run()
        return active is not None and Path(active).resolve() == run.resolve()

    def rename(self, new_name: str) -> Path | None:
        """Rename the selected run's folder (refused while it trains)."""
        from siam_workbench.infer.runs import rename_run

        run = self.current_run()
        if run is None:
            return None
        if self._is_training(run):
            dialogs.error(self, "Rename run", "This run is training; stop it first.")
            return None
        try:
            new = rename_run(run, new_name)
        except SiamError as exc:
            dialogs.error(self, "Rename run", str(exc))
            return None
        self._reload(False)
        self.select_run(new.name)
        self.runsChanged.emit()
        return new

    def _ask_rename(self) -> None:
        run = self.current_run()
        if run is None:
            return
        name, ok = QInputDialog.getText(self, "Rename run", "New name of the run folder:",
                                        text=run.name)
        if ok and name.strip() and name.strip() != run.name:
            self.rename(name.strip())

    def delete(self) -> bool:
        """Delete the selected run after asking (refused while it trains)."""
        from siam_workbench.infer.runs import delete_run

        run = self.current_run()
        if run is None:
            return False
        if self._is_training(run):
            dialogs.error(self, "Delete run", "This run is training; stop it first.")
            return False
        if not dialogs.ask(self, "Delete run",
                           f"Delete the run {run.name} — its checkpoints, curves, mining log "
                           "and notes? This cannot be undone."):
            return False
        try:
            delete_run(run)
        except SiamError as exc:
            dialogs.error(self, "Delete run", str(exc))
            return False
        self._reload(False)
        self.runsChanged.emit()
        return True

    def export_model(self, out: Path) -> Any:
        """Export the selected run (best checkpoint) as TorchScript on a worker thread; returns
        the runner (its ``finished`` fires when the file is written or the error shown)."""
        run = self.current_run()
        if run is None:
            return None

        def work() -> Path:
            from siam_workbench.infer.evaluate import load_run
            from siam_workbench.infer.export import export_run

            return export_run(load_run(run), out, force=True)

        self.run_message.setText(f"Exporting {run.name} …")
        return run_in_thread(work, self, "siam-export",
                             lambda p: self.run_message.setText(f"Wrote {p} (TorchScript: "
                                                                "network, centers, classes)"),
                             lambda m, _d: self.run_message.setText(f"Export failed: {m}"))

    def _ask_export(self) -> None:
        run = self.current_run()
        if run is None:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export run", str(run / f"{run.name}.pt"),
                                              "TorchScript (*.pt)")
        if name:
            self.export_model(Path(name))

    def _evaluate_selected(self) -> None:
        run = self.current_run()
        if run is not None:
            self.evaluate_panel.select_run(run)
            self.pages.setCurrentWidget(self.evaluate_panel)

    def _show_in_train(self) -> None:
        run = self.current_run()
        if run is not None:
            self.showRun.emit(run)

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
                             "accuracy and loss and compare their final numbers.</p>")
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
        fixed = self.header.index("wall_s") + 1 if "wall_s" in self.header else len(self.header)
        diff = self.header[fixed:]
        msg = (f"{len(summaries)} run(s)" + (f"; differing settings: {', '.join(diff)}"
                                             if diff else "; same settings"))
        if errors:
            msg += " — could not read: " + "; ".join(errors)
        self.message.setText(msg)
        self.compared.emit()

    def loss_caveat(self) -> str:
        """Why the loss curves must not be compared, when they must not ("" otherwise)."""
        cfgs = [s.config for s in self.summaries if s.config is not None]
        losses = {c.loss.kind for c in cfgs}
        miners = {(c.mining.positive, c.mining.negative) for c in cfgs}
        if len(losses) > 1:
            return ("These runs use different losses (" + ", ".join(sorted(losses)) + "): their "
                    "loss values are on different scales. Compare them by accuracy.")
        if len(miners) > 1:
            return ("These runs use different miners: a miner that picks harder triplets shows a "
                    "higher loss while it learns more (random mining shows a lower loss and a "
                    "lower accuracy). Compare them by accuracy.")
        return ""

    def _draw(self) -> None:
        lp, ap = self.loss_plot.getPlotItem(), self.acc_plot.getPlotItem()
        lp.clear()
        ap.clear()
        entries = []
        sets = set()
        baselines = set()
        for i, s in enumerate(self.summaries):
            color = COLORS[i % len(COLORS)]
            which = s.accuracy_set
            sets.add(which)
            star = " ★" if s.id == self._best else ""
            entries.append(f'<span style="color:{color}; font-size:14pt">&#9632;</span>&nbsp;'
                           f'{html.escape(s.label)}{star} <i>({which})</i>')
            if s.pixel_nn_val is not None:
                baselines.add(round(float(s.pixel_nn_val), 4))
            it = [r for r in s.iterations if r.get("loss") is not None]
            t_run = _run_clock(it)
            if it:
                x = _x_values(it, self.x_axis(), t_run)
                y = np.array([float(r["loss"]) for r in it])
                ok = np.isfinite(x)
                x, y = x[ok], y[ok]
                if self.smooth_check.isChecked():
                    y = ema(y)
                curve = lp.plot(x, y, pen=pg.mkPen(color, width=2), name=s.label)
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
            ep = s.epochs
            if ep:
                x = np.array([float(r.get("epoch", j)) + 1 for j, r in enumerate(ep)]) \
                    if self.x_axis() == "step" else _x_values(ep, self.x_axis(), t_run)
                for key, style, name in (("top1", Qt.PenStyle.SolidLine, s.label),
                                         ("top5", Qt.PenStyle.DashLine, None)):
                    vals = [r.get(f"val_{key}") if r.get(f"val_{key}") is not None
                            else r.get(key) for r in ep]
                    y = np.array([np.nan if v is None else float(v) for v in vals])
                    ok = np.isfinite(y) & np.isfinite(x)
                    if ok.any():
                        ap.plot(x[ok], y[ok], pen=pg.mkPen(color, width=2, style=style),
                                symbol="o" if key == "top1" else None, symbolSize=5,
                                symbolBrush=color, name=name)
        for b in sorted(baselines):
            line = pg.InfiniteLine(pos=b, angle=0, movable=False,
                                   pen=pg.mkPen(BASELINE_COLOR, width=1.2,
                                                style=Qt.PenStyle.DashDotLine),
                                   )
            ap.addItem(line)
        if baselines:  # in the legend, not on the curves (a label there was clipped)
            entries.append(f'<span style="color:{BASELINE_COLOR}">-·-</span>&nbsp;pixel 1-NN '
                           "val " + ", ".join(f"{b:.0%}" for b in sorted(baselines)))
        entries.append("solid = top-1, dashed = top-5")
        which = {"val": "val = held-out fonts", "train": "train set"}
        title = " / ".join(which[w] for w in sorted(sets, reverse=True)) or which["val"]
        ap.setTitle("Accuracy per epoch", color=self._fg.name(), size="10pt")
        ap.setLabel("left", f"accuracy ({title})", color=self._fg.name())
        ap.setYRange(0, 1.0, padding=0.02)
        n = max((len(s.epochs) for s in self.summaries), default=0)
        step = max(1, -(-n // 12))
        axis = self.x_axis()
        ap.getAxis("bottom").setTicks([[(float(i), str(i)) for i in range(1, n + 1, step)]]
                                      if n and axis == "step" else None)
        lx, ax = X_LABELS[axis]
        lp.setLabel("bottom", lx, color=self._fg.name())
        ap.setLabel("bottom", ax, color=self._fg.name())
        for item in (lp, ap):  # plain tick labels: no "loss (x0.001)"
            item.getAxis("bottom").enableAutoSIPrefix(False)
            item.getAxis("left").enableAutoSIPrefix(False)
        if axis != "step":
            ap.enableAutoRange(axis="x")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(entries))
        caveat = self.loss_caveat()
        self.caveat.setText("Loss: " + caveat if caveat else "")
        self.caveat.setVisible(bool(caveat))
        lp.setTitle("Loss (not comparable here)" if caveat else "Loss per iteration",
                    color=self._fg.name(), size="10pt")

    def _fill_table(self) -> None:
        header, rows = self.header, self.rows
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([h.replace("_", " ") for h in header])
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            color = COLORS[r % len(COLORS)]
            for c, value in enumerate(row):
                item = QTableWidgetItem(format_cell(header[c], value))
                if c == 0:
                    item.setForeground(pg.mkColor(color))
                    item.setToolTip(self.summaries[r].label)
                    if value == self._best:
                        item.setFont(bold)
                        item.setToolTip(f"★ best run — {self.summaries[r].label}")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        for c, h in enumerate(header):
            tip = {"test_top1": "top-1 on the test file, from the last evaluation (Evaluate "
                                "page or siam eval)",
                   "final_top1": "last epoch, on validation where the run has it",
                   "best_top1": "best epoch, on validation where the run has it"}.get(h)
            if tip:
                self.table.horizontalHeaderItem(c).setToolTip(tip)

    # -- export ------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        """Write the comparison table (``siam_workbench.infer.compare.table_csv``) to ``path``."""
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
