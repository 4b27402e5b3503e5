"""Evaluate a run from the GUI: on the project's test, validation or training file, the drawings
or any glyph file — with progress and Cancel — and read where it fails: a per-class accuracy
table (worst first) and the most-confused class pairs drawn as glyph pairs. The result is kept
with the run (``evaluations.json``), which fills the Runs table's test column.

The work is :func:`siam_workbench.infer.evaluate.evaluate` on a worker thread (``EvaluateJob``); the
panel only shows its results. ``siam eval RUN --split … --per-class CSV --confused N`` is the
command-line twin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.fewshot_box import TOP_PAIRS, EpisodeJob, FewShotBox, summary_html
from siam_workbench.app.workers import Job, JobRunner, RunEvaluationJob

SPLITS = (("test", "test file"), ("val", "validation file"), ("train", "training file"),
          ("drawn", "drawings"))
SPLIT_TIPS = {"test": "held-out font families, distorted (data.test)",
              "val": "held-out font families, clean (data.val)",
              "train": "the training fonts (data.train)",
              "drawn": "your labelled drawings (data.drawn, the Draw tab)"}
OTHER_FILE = "__file__"
GLYPH_PX = 28


class EvaluateJob(RunEvaluationJob):
    """Evaluate the run on one glyph file with progress, and build the tables."""

    def evaluate(self, run: Any) -> Any:
        from siam_workbench.infer.evaluate import confused_pairs, evaluate, per_class_table

        result = evaluate(run, self.data, keep_predictions=True, progress=self._progress,
                          cancel=self._cancel)
        return {"result": result, "classes": list(run.classes),
                "per_class": per_class_table(result, run.classes),
                "pairs": confused_pairs(result, run.classes, TOP_PAIRS)}


def pair_icon(glyphs: Any, a: str, b: str, px: int = GLYPH_PX) -> QIcon:
    """Two glyphs side by side with an arrow between them."""
    pm = QPixmap(px * 2 + 14, px)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.drawPixmap(0, 0, glyphs.pixmap(a, px))
    p.drawText(px, 0, 14, px, Qt.AlignmentFlag.AlignCenter, "↔")
    p.drawPixmap(px + 14, 0, glyphs.pixmap(b, px))
    p.end()
    return QIcon(pm)


class EvaluatePanel(QWidget):
    """Run + data chooser, Evaluate / Cancel with progress, per-class table, confused pairs.

    ``evaluated(run_dir)`` fires after a result was kept with the run.
    """

    evaluated = Signal(object)

    def __init__(self, glyphs: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self.project: Any = None
        self.runner: JobRunner | None = None
        self.job: Job | None = None
        self.last: dict[str, Any] | None = None
        self._split = "test"
        self._file: Path | None = None

        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(12)
        self.run_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.data_combo = QComboBox()
        for key, text in SPLITS:
            self.data_combo.addItem(text, key)
            self.data_combo.setItemData(self.data_combo.count() - 1, SPLIT_TIPS[key],
                                        Qt.ItemDataRole.ToolTipRole)
        self.data_combo.addItem("other file…", OTHER_FILE)
        self.data_combo.activated.connect(self._data_chosen)
        self.ckpt_combo = QComboBox()
        self.ckpt_combo.addItem("last", "last")
        self.ckpt_combo.addItem("best", "best")
        self.ckpt_combo.setToolTip("Which checkpoint: the last epoch's weights (as siam eval), "
                                   "or the epoch that scored best on val — chosen on val, so "
                                   "its val figure is optimistic")
        self.eval_btn = QPushButton("Evaluate")
        self.eval_btn.clicked.connect(lambda: self.start())
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.summary = QLabel("Choose a run and the data to evaluate it on.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        # A model, not a QTableWidget: at 11,172 classes, 67,000 items and a glyph pixmap per
        # row took seconds of the GUI thread; the model draws the rows on screen only.
        self.model = ClassScoreModel(glyphs, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setIconSize(QSize(GLYPH_PX, GLYPH_PX))
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(GLYPH_PX + 4)
        self.table.setSortingEnabled(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for col, width in enumerate((90, 70, 60, 60, 130)):
            self.table.setColumnWidth(col, width)
        self.pairs = QListWidget()
        self.pairs.setIconSize(QSize(GLYPH_PX * 2 + 14, GLYPH_PX))
        self.pairs.setSpacing(1)
        self.fewshot = FewShotBox()

        row = QHBoxLayout()
        row.addWidget(QLabel("Run:"))
        row.addWidget(self.run_combo, 2)
        row.addWidget(QLabel("on"))
        row.addWidget(self.data_combo, 2)
        row.addWidget(self.ckpt_combo)
        row.addWidget(self.eval_btn)
        row.addWidget(self.cancel_btn)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Per class</b> (worst first; click a header to sort)"))
        ll.addWidget(self.table, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel(f"<b>Most-confused pairs</b> (top {TOP_PAIRS})"))
        rl.addWidget(self.pairs, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.tables = split
        # Few-shot episodes fill the same tables, over every episode's queries: say what a
        # row counts there (each query is read among its episode's W classes only).
        self.fewshot_note = QLabel()
        self.fewshot_note.setWordWrap(True)
        self.fewshot_note.setProperty("role", "hint")
        self.fewshot_note.hide()
        self.fewshot.enabled_box.toggled.connect(self._sync_mode)
        self.fewshot.way.valueChanged.connect(self._sync_mode)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.fewshot)
        lay.addWidget(self.bar)
        lay.addWidget(self.summary)
        lay.addWidget(self.fewshot_note)
        lay.addWidget(split, 1)

    def _sync_mode(self, *_: object) -> None:
        episodes = self.fewshot.active()
        way = self.fewshot.way.value()
        self.fewshot_note.setText(
            f"<b>Few-shot:</b> the tables count the queries of every episode, each read among "
            f"its episode's {way} classes (the nearest support center); Top-5 is among "
            f"{min(5, way)} of them.")
        self.fewshot_note.setVisible(episodes)

    # -- choices -----------------------------------------------------------------------------
    def set_runs(self, project: Any, runs: list[Any], current: str | None = None) -> None:
        from siam_workbench.infer.runs import has_checkpoint

        self.project = project
        keep = current or self.run_combo.currentData()
        self.run_combo.clear()
        for r in reversed(runs):
            if has_checkpoint(r.path):
                self.run_combo.addItem(r.id, str(r.path))
        i = self.run_combo.findData(keep) if keep else -1
        self.run_combo.setCurrentIndex(max(i, 0))
        self._update_buttons()

    def select_run(self, run_dir: Path) -> None:
        i = self.run_combo.findData(str(run_dir))
        if i >= 0:
            self.run_combo.setCurrentIndex(i)

    def select_split(self, split: str) -> None:
        i = self.data_combo.findData(split)
        if i >= 0:
            self.data_combo.setCurrentIndex(i)
            self._split = split

    def _data_chosen(self, index: int) -> None:
        key = self.data_combo.itemData(index)
        if key == OTHER_FILE:
            start = str(self.project.root) if self.project is not None else str(Path.home())
            name, _ = QFileDialog.getOpenFileName(self, "Glyph file to evaluate on", start,
                                                  "Glyph files (*.h5);;All files (*)")
            if name:
                self.set_file(Path(name))
            else:
                self.select_split(self._split)
        else:
            self._split, self._file = str(key), None

    def set_file(self, path: Path) -> None:
        """Evaluate on any glyph file (the "another glyph file…" choice)."""
        self._file = Path(path)
        i = self.data_combo.findData(OTHER_FILE)
        self.data_combo.setItemText(i, f"file: {self._file.name}")
        self.data_combo.setCurrentIndex(i)

    def data_path(self) -> tuple[str, Path] | None:
        if self._file is not None:
            return self._file.name, self._file
        if self.project is None:
            return None
        from siam_workbench.infer.runs import split_path

        return self._split, split_path(self.project, self._split)

    # -- running -----------------------------------------------------------------------------
    def busy(self) -> bool:
        return self.runner is not None

    def start(self) -> bool:
        run = self.run_combo.currentData()
        target = self.data_path()
        if self.runner is not None or not run or target is None:
            return False
        split, data = target
        if not data.exists():
            self.summary.setText(f"<b>{data.name} does not exist "
                                 "yet (render the data, or save drawings first).</b>")
            return False
        episodes = self.fewshot.active()
        job: Job = (EpisodeJob(Path(run), data, self.ckpt_combo.currentData(),
                               self.fewshot.options()) if episodes
                    else EvaluateJob(Path(run), data, self.ckpt_combo.currentData()))
        runner = JobRunner(job, "siam-evaluate", self)
        job.progress.connect(self._progress)
        if episodes:
            runner.succeeded.connect(lambda out, r=run: self._episodes_done(Path(r), out))
        else:
            runner.succeeded.connect(lambda out, s=split, r=run: self._done(Path(r), s, out))
        runner.failed.connect(self._failed)
        runner.cancelled.connect(lambda: self.summary.setText("Cancelled."))
        runner.finished.connect(self._finished)
        self.job, self.runner = job, runner
        self.bar.setRange(0, 0)
        self.bar.setFormat("loading the run…")
        self.summary.setText(f"Evaluating {Path(run).name} on {data.name}…")
        self._update_buttons()
        runner.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_btn.setEnabled(False)

    def _progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        unit = "episodes" if isinstance(self.job, EpisodeJob) else "images"
        self.bar.setFormat(f"{done:,} / {total:,} {unit}")

    def _failed(self, message: str, _details: str) -> None:
        self.summary.setText(f"<b>{message}</b>")

    def _finished(self) -> None:
        self.job = self.runner = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if self.last else 0)
        self.bar.setFormat("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.eval_btn.setEnabled(self.runner is None and self.run_combo.count() > 0)
        self.cancel_btn.setEnabled(self.runner is not None)

    def _done(self, run_dir: Path, split: str, out: dict[str, Any]) -> None:
        from siam_workbench.base.errors import SiamError
        from siam_workbench.infer.runs import save_evaluation

        self.last = out
        r = out["result"]
        note = ""
        try:
            save_evaluation(run_dir, split, r,
                            checkpoint=r.get("checkpoint") or self.ckpt_combo.currentData())
        except SiamError as exc:
            note = f" (not kept: {exc})"
        unknown = r.get("unknown_classes", 0)
        which = r.get("checkpoint") or self.ckpt_combo.currentData()
        self.summary.setText(
            f"<b>{run_dir.name}</b> on <b>{split}</b> ({Path(r['data']).name}): top-1 "
            f"<b>{r['top1']:.1%}</b>, top-5 {r['top5']:.1%} of {r['n']:,} images, checkpoint "
            f"{which} (epoch {r.get('epoch')}{', chosen on val' if which == 'best' else ''})"
            + (f"; {unknown:,} of classes the run does not know were skipped" if unknown
               else "") + note
            + (f"<br><b>Warning:</b> {r['warning']}" if r.get("warning") else ""))
        self._fill(out)
        self.evaluated.emit(run_dir)

    def _episodes_done(self, run_dir: Path, out: dict[str, Any]) -> None:
        """Few-shot mode: the mean ± interval beside pixel 1-NN, and the per-class table and
        most-confused pairs over every episode's queries."""
        result = out["result"]
        self.last = {"episodes": result, "per_class": out["per_class"], "pairs": out["pairs"]}
        self.summary.setText(summary_html(run_dir, result))
        self._sync_mode()
        self._fill(out)

    def _fill(self, out: dict[str, Any]) -> None:
        self.model.set_rows(out["per_class"])
        self.table.horizontalHeader().setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        self.pairs.clear()
        for p in out["pairs"]:
            item = QListWidgetItem(pair_icon(self.glyphs, p.a_name, p.b_name),
                                   f"{p.a_name} ↔ {p.b_name}: {p.count}×  ({p.a_name}→"
                                   f"{p.b_name} {p.a_as_b}, {p.b_name}→{p.a_name} {p.b_as_a})")
            self.pairs.addItem(item)
        if not out["pairs"]:
            self.pairs.addItem("No confusions: every image's nearest class is its own.")


class ClassScoreModel(QAbstractTableModel):
    """The per-class table (:class:`siam_workbench.infer.evaluate.ClassScore` rows); glyph icons are
    drawn when a row is shown (the glyph cache keeps them), sorting is one Python sort."""

    HEADERS = ("Class", "Samples", "Top-1", "Top-5", "Most often read as", "Times")
    _KEYS = ("name", "n", "top1", "top5", "confused_with", "confused_count")

    def __init__(self, glyphs: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self.rows: list[Any] = []

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def value(self, row: int, column: int) -> Any:
        return getattr(self.rows[row], self._KEYS[column])

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        v = self.value(r, c)
        if role == Qt.ItemDataRole.DisplayRole:
            if c in (2, 3):
                return f"{v:.1%}"
            if c in (1, 5):
                return f"{v:,}"
            return v
        if role == Qt.ItemDataRole.UserRole:
            return v
        if role == Qt.ItemDataRole.DecorationRole and c in (0, 4) and v:
            return QIcon(self.glyphs.pixmap(v, GLYPH_PX))
        if role == Qt.ItemDataRole.TextAlignmentRole and c in (1, 2, 3, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self._KEYS[column]
        self.layoutAboutToBeChanged.emit()
        self.rows.sort(key=lambda s: (getattr(s, key), s.index),
                       reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()
