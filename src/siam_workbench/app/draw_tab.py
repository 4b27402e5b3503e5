"""The Draw tab: draw a character, see what the network sees and which classes it is nearest to,
label the drawing and keep it in the project's ``drawn.h5``.

Everything slow runs on worker threads (``siam_workbench.app.workers.run_in_thread``): loading a
run's
model (``siam_workbench.infer.evaluate.load_run``), each query (debounced 150 ms after the last pen
movement; while one query runs, newer strokes only mark a follow-up, so queries never pile up) and
"Evaluate" over all drawings. The preview is ``siam_workbench.infer.query.prepare`` of the canvas —
exactly the image the network is given. Drawings are stored through
``siam_workbench.data.drawn.DrawnStore``; a file that
cannot be read is never overwritten (saving is disabled and the reason is shown).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.canvas import CANVAS_PX, DrawingCanvas
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.draw.enrol_box import ENROLLED_MARK, EnrolBox
from siam_workbench.app.draw.eval_panel import DrawingsEvalPanel
from siam_workbench.app.font_model import glyph_pixmap
from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.style import role, set_role
from siam_workbench.app.workers import run_in_thread
from siam_workbench.base.errors import SiamError
from siam_workbench.data.framing import Preprocess, size_mode_of
from siam_workbench.project.project import Project, RunInfo
from siam_workbench.project.runfolder import RunFolder

DEBOUNCE_MS = 150
PREVIEW_PX = 148
MAX_K = 20
RESULT_GLYPH_PX = 40
THUMB_PX = 44
SAVE_KEYS = ("Ctrl+Return", "Ctrl+Enter")
SAVE_TIP = ("Add the drawing with this label to the project's drawn.h5 (Enter in the label "
            "field, or Ctrl+Enter anywhere in the tab)")


def has_checkpoint(run: RunInfo) -> bool:
    return RunFolder(run.path).has_checkpoint()


def parse_label(text: str) -> str:
    """What the user typed as a label: the text itself, or ``U+XXXX`` as its character."""
    text = text.strip()
    if text.upper().startswith("U+") and len(text) > 2:
        try:
            return chr(int(text[2:], 16))
        except ValueError:
            return text
    return text


def _gray_pixmap(img: np.ndarray, px: int) -> QPixmap:
    """The network's view (ink 255) as ink-on-paper, scaled without smoothing: every pixel
    of the 37×37 input stays visible as a square."""
    arr = np.ascontiguousarray(255 - np.asarray(img, dtype=np.uint8))
    h, w = arr.shape
    qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimg).scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation)


class ResultRow(QWidget):
    """One of the top-k classes: a glyph button (click = use as label), distance, confidence."""

    chosen = Signal(str)

    def __init__(self, rank: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = ""
        self.rank = QLabel(f"{rank}.")
        self.rank.setFixedWidth(22)
        self.button = QToolButton()
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setIconSize(QSize(RESULT_GLYPH_PX, RESULT_GLYPH_PX))
        self.button.setMinimumWidth(92)
        self.button.setToolTip("Use this class as the drawing's label")
        self.button.clicked.connect(lambda: self.chosen.emit(self.label))
        self.distance = QLabel()
        self.distance.setMinimumWidth(70)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setMaximumHeight(18)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.rank)
        lay.addWidget(self.button)
        lay.addWidget(self.distance)
        lay.addWidget(self.bar, 1)

    def set_match(self, label: str, distance: float, confidence: float, icon: QPixmap,
                  enrolled: bool = False) -> None:
        self.label = label
        self.button.setIcon(QIcon(icon))
        self.button.setText(f" {label} {ENROLLED_MARK}" if enrolled else f" {label}")
        self.button.setToolTip("An enrolled class (siam enrol): use it as the drawing's label"
                               if enrolled else "Use this class as the drawing's label")
        self.distance.setText(f"d = {distance:.3g}")
        self.bar.setValue(int(round(confidence * 1000)))
        self.bar.setFormat(f"{confidence:.0%}")


class DrawTab(QWidget):
    """Canvas → network input → top-k classes → label → ``drawn.h5``.

    Public: ``DrawTab(doc, parent=None)``, :meth:`refresh` (re-list the runs), attributes
    ``canvas``, ``run_model`` (the loaded :class:`siam_workbench.infer.evaluate.RunModel` or None),
    ``matches`` (last query's :class:`siam_workbench.infer.query.Match` list), ``store`` (the
    DrawnStore). Signals: ``queried`` after each query result, ``modelLoaded(str)`` (run id or ""),
    ``drawingsChanged`` after a save / relabel / delete, ``evaluated(dict)``.
    """

    queried = Signal()
    modelLoaded = Signal(str)
    drawingsChanged = Signal()
    evaluated = Signal(object)

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.glyphs = GlyphCache.for_document(doc)
        self.run_model: Any = None
        self.matches: list[Any] = []
        self.prepared: np.ndarray | None = None
        self.store: Any = None
        self._runs: list[RunInfo] = []
        self._load_tag = 0
        self._query_runner: Any = None
        self._query_pending = False
        self._query_tag = 0
        self._label_from_user = False
        self._setting_label = False
        self._image_size = 37
        self._loaded_at = 0.0

        # -- model row -------------------------------------------------------------------------
        self.run_combo = QComboBox()
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setMinimumContentsLength(28)
        self.run_combo.setToolTip("The trained run whose network answers (its best checkpoint)")
        self.run_combo.currentIndexChanged.connect(self._run_chosen)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, MAX_K)
        self.k_spin.setValue(5)
        self.k_spin.setPrefix("top ")
        self.k_spin.setToolTip("How many nearest classes to list")
        self.k_spin.valueChanged.connect(lambda _v: self._schedule_query(0))
        self.model_status = QLabel()
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.run_combo)
        top.addWidget(self.k_spin)
        top.addWidget(self.model_status, 1)

        # -- canvas column ---------------------------------------------------------------------
        self.canvas = DrawingCanvas(CANVAS_PX)
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 60)
        self.width_spin.setValue(int(self.canvas.pen_width))
        self.width_spin.setSuffix(" px")
        self.width_spin.setToolTip("Pen width (a tablet's pressure scales it)")
        self.width_spin.valueChanged.connect(self.canvas.set_pen_width)
        self.eraser_btn = QToolButton()
        self.eraser_btn.setText("Eraser")
        self.eraser_btn.setCheckable(True)
        self.eraser_btn.toggled.connect(self.canvas.set_eraser)
        self.undo_btn = QToolButton()
        self.undo_btn.setText("Undo")
        self.undo_btn.clicked.connect(self.canvas.undo)
        self.redo_btn = QToolButton()
        self.redo_btn.setText("Redo")
        self.redo_btn.clicked.connect(self.canvas.redo)
        self.clear_btn = QToolButton()
        self.clear_btn.setText("Clear")
        self.clear_btn.setToolTip("Wipe the canvas (Undo brings it back)")
        self.clear_btn.clicked.connect(self.canvas.clear)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Pen"))
        tools.addWidget(self.width_spin)
        for b in (self.eraser_btn, self.undo_btn, self.redo_btn, self.clear_btn):
            tools.addWidget(b)
        tools.addStretch(1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        canvas_col = QVBoxLayout()
        canvas_col.addLayout(tools)
        canvas_col.addWidget(self.canvas, 1)  # grows with the window (issue 21, item 11)
        canvas_col.addWidget(self.hint)

        # -- what the network sees + results ----------------------------------------------------
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_PX + 2, PREVIEW_PX + 2)
        self.preview.setFrameShape(QFrame.Shape.Box)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_caption = QLabel("What the network sees")
        self.preview_caption.setWordWrap(True)
        self.result_rows = [ResultRow(i + 1) for i in range(MAX_K)]
        self.results_message = QLabel()
        self.results_message.setWordWrap(True)
        results_box = QGroupBox("Nearest classes")
        rl = QVBoxLayout(results_box)
        rl.addWidget(self.results_message)
        for row in self.result_rows:
            row.chosen.connect(self.set_label)
            row.hide()
            rl.addWidget(row)
        rl.addStretch(1)
        mid = QVBoxLayout()
        prev_row = QHBoxLayout()
        prev_row.addWidget(self.preview)
        prev_row.addWidget(self.preview_caption, 1)
        mid.addLayout(prev_row)
        mid.addWidget(results_box, 1)

        # -- label & save ------------------------------------------------------------------------
        self.label_combo = QComboBox()
        self.label_combo.setEditable(True)
        self.label_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.label_combo.setMaxVisibleItems(20)
        self.label_combo.lineEdit().setPlaceholderText("type or pick a class (가, A, U+AC00)")
        self._class_model = QStringListModel(self)
        self.label_combo.setModel(self._class_model)
        # Inline completion, not a popup: a completer popup grabs the mouse, and the click
        # meant for "Save drawing" only closed it (issue 21: 11 of 12 typed labels lost).
        completer = QCompleter(self._class_model, self)
        completer.setCompletionMode(QCompleter.CompletionMode.InlineCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
        self.label_combo.setCompleter(completer)
        self.label_combo.editTextChanged.connect(self._label_edited)
        self.label_combo.lineEdit().returnPressed.connect(self.save_drawing)
        self.save_btn = QPushButton("Save drawing")
        self.save_btn.setToolTip(SAVE_TIP)
        self.save_btn.clicked.connect(self.save_drawing)
        for keys in SAVE_KEYS:
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.save_drawing)
        self.label_note = QLabel()
        self.label_note.setWordWrap(True)
        label_box = QGroupBox("Label")
        lb = QGridLayout(label_box)
        lb.addWidget(self.label_combo, 0, 0)
        lb.addWidget(self.save_btn, 0, 1)
        lb.addWidget(self.label_note, 1, 0, 1, 2)

        # -- saved drawings ----------------------------------------------------------------------
        self.drawings_list = QListWidget()
        self.drawings_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.drawings_list.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.drawings_list.setGridSize(QSize(THUMB_PX + 22, THUMB_PX + 24))
        self.drawings_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.drawings_list.setMovement(QListWidget.Movement.Static)
        self.drawings_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.drawings_list.itemSelectionChanged.connect(self._update_buttons)
        self.relabel_btn = QPushButton("Relabel")
        self.relabel_btn.setToolTip("Give the selected drawings the label above")
        self.relabel_btn.clicked.connect(self.relabel_selected)
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.clicked.connect(self.delete_selected)
        self.include_check = QCheckBox("Add drawings to the training data")
        self.include_check.setToolTip("data.include_drawn: the trainer merges the drawings of "
                                      "known classes into the training set (next run)")
        self.include_check.toggled.connect(self._include_toggled)
        self.store_message = QLabel()
        self.store_message.setWordWrap(True)
        self.drawings_box = QGroupBox("Saved drawings")
        db = QVBoxLayout(self.drawings_box)
        db.addWidget(self.store_message)
        db.addWidget(self.drawings_list, 1)
        btns = QHBoxLayout()
        btns.addWidget(self.relabel_btn)
        btns.addWidget(self.delete_btn)
        btns.addStretch(1)
        db.addLayout(btns)
        db.addWidget(self.include_check)
        self.enrol_box = EnrolBox(lambda: (self.run_model, self.store, self.selected_rows(),
                                           self.label()))
        self.enrol_box.enrolled.connect(self.load_model)
        db.addWidget(self.enrol_box)

        # -- evaluate ----------------------------------------------------------------------------
        self.eval_panel = DrawingsEvalPanel()
        self.eval_panel.eval_btn.clicked.connect(self.evaluate)
        self.eval_panel.evaluated.connect(self.evaluated.emit)
        self.eval_panel.finished.connect(self._update_buttons)
        eval_box = self.eval_panel
        # The panel's widgets, as tests and the window know them.
        self.eval_btn, self.eval_label = self.eval_panel.eval_btn, self.eval_panel.eval_label
        self.missed_list = self.eval_panel.missed_list

        right = QVBoxLayout()
        right.addWidget(label_box)
        right.addWidget(self.drawings_box, 1)
        right.addWidget(eval_box)

        body = QHBoxLayout()
        body.addLayout(canvas_col, 4)
        body.addSpacing(8)
        body.addLayout(mid, 4)
        body.addSpacing(8)
        body.addLayout(right, 5)

        self.content = QWidget()
        cl = QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(top)
        cl.addLayout(body, 1)
        self.empty = QLabel("<h3>Draw</h3><p>Open a project to draw characters, ask a trained "
                            "network what they are and label them.</p>")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.empty)
        lay.addWidget(self.content, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start_query)
        self.canvas.changed.connect(self._canvas_changed)
        self.canvas.historyChanged.connect(self._update_buttons)
        self.glyphs.ready.connect(self._refresh_glyphs)
        doc.projectChanged.connect(self._project_changed)
        doc.configChanged.connect(self._config_changed)
        self._project_changed()

    # -- project -----------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    def drawn_path(self) -> Path | None:
        p = self.project
        return None if p is None else p.resolve(p.config.data.drawn)

    def _project_changed(self) -> None:
        p = self.project
        self.empty.setVisible(p is None)
        self.content.setVisible(p is not None)
        self._load_tag += 1
        self.run_model = None
        self.matches = []
        self.canvas.reset()
        self.eval_label.clear()
        self.missed_list.clear()
        if p is not None:
            self._image_size = int(p.config.data.image_size)
            self._sync_include()
        self._apply_framing()
        self.load_store()
        self._set_classes(self._alphabet_classes())
        self._reload(select_default=True)
        self._canvas_changed()

    def framing(self) -> tuple[int, str]:
        """(margin, size mode) drawings are framed with: the loaded run's (what its network
        was trained on), else the project's ``data.margin`` / ``data.size_mode``."""
        if self.run_model is not None:
            pre = self.run_model.preprocess
            return pre.margin, pre.size_mode
        p = self.project
        if p is None:
            return Preprocess().margin, Preprocess().size_mode
        return int(p.config.data.margin), size_mode_of(p.config.data)

    def _apply_framing(self) -> None:
        from siam_workbench.data.imaging import baseline_fraction

        _margin, mode = self.framing()
        self.glyphs.set_mode(mode)  # class thumbnails framed like the drawing and the run
        self.canvas.set_baseline(baseline_fraction() if mode == "em" else None)
        if self.store is not None:
            self.store.margin, self.store.mode = self.framing()

    def _config_changed(self, keys: frozenset[str]) -> None:
        if "data.size_mode" in keys or "data.margin" in keys:
            self._apply_framing()
        if "data.include_drawn" in keys:
            self._sync_include()
        if "data.drawn" in keys or "data.image_size" in keys:
            p = self.project
            if p is not None:
                self._image_size = int(p.config.data.image_size)
            self.load_store()

    def _sync_include(self) -> None:
        p = self.project
        self.include_check.blockSignals(True)
        self.include_check.setChecked(bool(p and p.config.data.include_drawn))
        self.include_check.blockSignals(False)

    def _include_toggled(self, on: bool) -> None:
        try:
            self.doc.set_values({"data": {"include_drawn": bool(on)}},
                                "Add drawings to the training data" if on
                                else "Keep drawings out of the training data")
        except SiamError as exc:
            dialogs.error(self, "Cannot change the setting", str(exc))
            self._sync_include()

    def _alphabet_classes(self) -> list[str]:
        p = self.project
        if p is None:
            return []
        try:
            from siam_workbench.data.alphabets import resolve_alphabet

            return list(resolve_alphabet(p.config.data.alphabet, base=p.root).classes)
        except SiamError:
            return []

    def _set_classes(self, classes: list[str]) -> None:
        text = self.label_combo.currentText()
        self._setting_label = True
        self._class_model.setStringList(list(classes))
        self.label_combo.setCurrentIndex(-1)
        self.label_combo.setEditText(text)
        self._setting_label = False

    # -- runs & model ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the project's runs (a run appeared or finished); keeps the chosen one."""
        self._reload(False)

    def _reload(self, select_default: bool) -> None:
        p = self.project
        current = self.run_combo.currentData()
        try:
            runs = [r for r in (p.runs() if p else []) if has_checkpoint(r)]
        except OSError:
            runs = []
        self._runs = runs
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        from siam_workbench.infer.runs import best_run

        best = best_run(p, runs) if p is not None and runs else None
        for r in reversed(runs):
            acc = "" if r.best_top1 is None else f", best top-1 {r.best_top1:.0%}"
            star = "★ " if best is not None and r.path == best.path else ""
            self.run_combo.addItem(f"{star}{r.id} ({r.status}{acc})", str(r.path))
        if not runs:
            self.run_combo.addItem("no trained run yet", None)
        idx = self.run_combo.findData(current) if current else -1
        if idx < 0 or select_default:
            idx = self._default_run_index()
        self.run_combo.setCurrentIndex(max(idx, 0))
        self.run_combo.blockSignals(False)
        self.run_combo.setEnabled(bool(runs))
        if self.run_combo.currentData() != current or select_default or self.run_model is None \
                or self._checkpoint_changed():
            self._run_chosen()

    def _checkpoint_changed(self) -> bool:
        """True when the loaded run has written a newer checkpoint (it is still training)."""
        model = self.run_model
        if model is None:
            return False
        try:
            return Path(model.meta.get("checkpoint", "")).stat().st_mtime > self._loaded_at
        except OSError:
            return False

    def _default_run_index(self) -> int:
        """The best run (highest best top-1, ``siam_workbench.infer.runs.best_run``), else the
        newest."""
        from siam_workbench.infer.runs import best_run

        p = self.project
        best = best_run(p, self._runs) if p is not None else None
        if best is not None:
            i = self.run_combo.findData(str(best.path))
            if i >= 0:
                return i
        return 0

    def _run_chosen(self, *_: object) -> None:
        path = self.run_combo.currentData()
        self._load_tag += 1
        self.run_model = None
        if not path:
            set_role(self.model_status, "hint")
            self.model_status.setText("Train a run (Train tab) to see the nearest classes; "
                                      "you can draw and label already.")
            self._show_matches([])
            self.modelLoaded.emit("")
            return
        self.load_model(Path(path))

    def load_model(self, run_dir: Path) -> None:
        """Load ``run_dir``'s best checkpoint on a worker thread; errors are shown inline."""
        from siam_workbench.infer.evaluate import load_run

        self._load_tag += 1
        tag = self._load_tag
        self.run_model = None
        set_role(self.model_status, "hint")
        self.model_status.setText(f"Loading {run_dir.name}…")
        self.results_message.setText("Loading the model…")

        def work() -> tuple[int, Any]:
            return tag, load_run(run_dir, "best", device="cpu")

        self._loaded_at = time.time()

        run_in_thread(work, self, "siam-load-run", self._model_loaded,
                      lambda m, d: self._model_failed(tag, run_dir, m))

    def _model_loaded(self, result: tuple[int, Any]) -> None:
        tag, model = result
        if tag != self._load_tag:
            return
        self.run_model = model
        epoch = model.meta.get("epoch")
        set_role(self.model_status)
        self.model_status.setToolTip("")
        self.model_status.setText(
            f"{model.run_dir.name}: {len(model.classes):,} classes, "
            f"{Path(model.meta.get('checkpoint', '')).name} after epoch {epoch}")
        self._image_size = model.image_size
        self._apply_framing()
        self._set_classes(model.classes)
        self.modelLoaded.emit(model.run_dir.name)
        self._update_buttons()
        # The message written while no model was there ("No trained run yet", "Loading…")
        # must not outlive it when the canvas is empty and no query follows.
        self._show_matches(self.matches)
        self._schedule_query(0)

    def _model_failed(self, tag: int, run_dir: Path, message: str) -> None:
        if tag != self._load_tag:
            return
        self.run_model = None
        set_role(self.model_status, "error")
        short = message if len(message) <= 160 else message[:157] + "…"
        self.model_status.setText(f"Cannot load {run_dir.name}: {short}")
        self.model_status.setToolTip(message)
        self._show_matches([])
        self.results_message.setText("No model: choose another run.")
        self.modelLoaded.emit("")
        self._update_buttons()

    # -- querying ----------------------------------------------------------------------------
    def _canvas_changed(self) -> None:
        if self.canvas.is_empty():
            self._timer.stop()
            self._query_tag += 1  # results of a query still running are stale
            self.prepared = None
            self.matches = []
            self.preview.setPixmap(QPixmap())
            self.preview.setText("(empty)")
            set_role(self.hint, "hint")
            self.hint.setText("Draw a character in the box with the mouse or a pen. The nearest "
                              "classes update as you draw.")
            self._show_matches([])
            if not self._label_from_user:
                self._put_label("")
        else:
            self.hint.setText("")
            self._schedule_query(DEBOUNCE_MS)
        self._update_buttons()

    def _schedule_query(self, delay: int) -> None:
        if self.canvas.is_empty():
            return
        self._timer.start(delay)

    def _start_query(self) -> None:
        if self._query_runner is not None:
            self._query_pending = True  # one follow-up with the newest drawing
            return
        if self.canvas.is_empty():
            return
        from siam_workbench.infer.query import prepare, query

        image = self.canvas.image()
        run, k, size = self.run_model, self.k_spin.value(), self._image_size
        margin, mode = self.framing()
        self._query_tag += 1
        tag = self._query_tag

        def work() -> tuple[int, np.ndarray, list[Any]]:
            prepared = prepare(image, size, name="drawing", margin=margin, mode=mode)
            matches = query(run, [image], k=k)[0] if run is not None else []
            return tag, prepared, matches

        self._query_pending = False
        runner = run_in_thread(work, self, "siam-query", self._query_done, self._query_failed)
        runner.finished.connect(self._query_finished)
        self._query_runner = runner

    def _query_done(self, result: tuple[int, np.ndarray, list[Any]]) -> None:
        tag, prepared, matches = result
        if tag != self._query_tag:
            return
        self.prepared = prepared
        self.preview.setPixmap(_gray_pixmap(prepared, PREVIEW_PX))
        how = ("the whole box scaled as a font's em box: size and baseline kept, ink "
               "centred sideways" if self.framing()[1] == "em"
               else "ink cropped, padded square and resized to fill")
        self.preview_caption.setText(f"What the network sees: {prepared.shape[1]}×"
                                     f"{prepared.shape[0]}, {how}")
        self.matches = list(matches)
        self._show_matches(self.matches)
        if self.run_model is None and role(self.model_status) != "error":
            self.results_message.setText("Loading the model…" if self.run_combo.currentData()
                                         else "No trained run yet: only the normalised image.")
        if self.matches and not self._label_from_user:
            self._put_label(self.matches[0].label)
        self.queried.emit()

    def _query_failed(self, message: str, _details: str) -> None:
        set_role(self.hint, "error")
        self.hint.setText(message)
        self.queried.emit()

    def _query_finished(self) -> None:
        self._query_runner = None
        if self._query_pending:
            self._query_pending = False
            self._start_query()

    def _show_matches(self, matches: list[Any]) -> None:
        for i, row in enumerate(self.result_rows):
            if i < len(matches):
                m = matches[i]
                row.set_match(m.label, m.distance, m.confidence,
                              self.glyphs.pixmap(m.label, RESULT_GLYPH_PX),
                              m.label in getattr(self.run_model, "enrolled", ()))
                row.show()
            else:
                row.hide()
        if matches:
            self.results_message.setText("Click a class to use it as the label.")
        elif self.run_model is None:
            if role(self.model_status) == "error":
                self.results_message.setText("No model: choose another run.")
            elif self.run_combo.currentData():
                self.results_message.setText("Loading the model…")
            else:
                self.results_message.setText("No trained run yet: train one in the Train tab "
                                             "to see the nearest classes.")
        elif self.canvas.is_empty():
            self.results_message.setText("Draw a character to see its nearest classes.")
        else:
            self.results_message.setText("")

    def _refresh_glyphs(self) -> None:
        self._show_matches(self.matches)

    # -- labeling ----------------------------------------------------------------------------
    def label(self) -> str:
        return parse_label(self.label_combo.currentText())

    def set_label(self, text: str) -> None:
        """Choose ``text`` as the label (a result row, or a test)."""
        self._put_label(text)
        self._label_from_user = True
        self._update_buttons()

    def _put_label(self, text: str) -> None:
        self._setting_label = True
        self.label_combo.setEditText(text)
        self._setting_label = False
        self._update_label_note()

    def _label_edited(self, _text: str) -> None:
        if not self._setting_label:
            self._label_from_user = bool(self.label_combo.currentText().strip())
        self._update_label_note()
        self._update_buttons()

    def _update_label_note(self) -> None:
        label = self.label()
        classes = self.run_model.classes if self.run_model is not None else \
            self._class_model.stringList()
        if not label:
            self.label_note.setText("The top class is proposed; type or click another to "
                                    "correct it.")
        elif classes and label not in classes:
            self.label_note.setText(f"“{label}” is not a class of "
                                    f"{'this run' if self.run_model else 'the alphabet'}; it is "
                                    "kept, but training skips unknown classes.")
        else:
            cp = " ".join(f"U+{ord(c):04X}" for c in label)
            self.label_note.setText(f"Label “{label}” ({cp})")

    def load_store(self) -> None:
        """(Re)open ``drawn.h5``; a file that cannot be read is reported and left untouched."""
        from siam_workbench.data.drawn import DrawnStore

        self.store = None
        path = self.drawn_path()
        set_role(self.store_message)
        if path is None:
            self.store_message.clear()
            self._fill_drawings()
            return
        try:
            margin, mode = self.framing()
            self.store = DrawnStore(path, image_size=self._image_size, margin=margin, mode=mode,
                                    root=self.project.root if self.project else None)
        except (SiamError, OSError) as exc:
            set_role(self.store_message, "error")
            self.store_message.setText(f"Cannot read the drawings: {exc}. Saving is off so the "
                                       "file is not overwritten; move it away or fix it.")
        else:
            if self.store.warning:
                set_role(self.store_message, "warning")
                self.store_message.setText(self.store.warning)
            else:
                self.store_message.setText(
                    f"{len(self.store)} drawing(s) in {path.name}" if len(self.store) else
                    f"No drawings yet: draw, label and save one ({path.name}).")
        self._fill_drawings()

    def _fill_drawings(self) -> None:
        self.drawings_list.clear()
        if self.store is not None:
            for i, d in enumerate(self.store.drawings):
                item = QListWidgetItem(QIcon(glyph_pixmap(d.image, THUMB_PX)), d.label)
                item.setData(Qt.ItemDataRole.UserRole, i)
                item.setToolTip(f"drawing {i}: “{d.label}”"
                                + (" (excluded)" if d.excluded else ""))
                self.drawings_list.addItem(item)
            self.drawings_box.setTitle(f"Saved drawings ({len(self.store)})")
        else:
            self.drawings_box.setTitle("Saved drawings")
        self._update_buttons()

    def _store_changed(self, message: str, count: bool = True) -> None:
        path = self.drawn_path()
        set_role(self.store_message)
        where = path.name if path else "drawn.h5"
        self.store_message.setText(f"{message} — {len(self.store)} drawing(s) in {where}"
                                   if count else f"{message} {where}")
        self._fill_drawings()
        self.drawingsChanged.emit()

    def save_drawing(self) -> bool:
        """Store the canvas under the current label; True if it was written."""
        label = self.label()
        if self.store is None or self.canvas.is_empty() or not label:
            return False
        try:
            row = self.store.add(self.canvas.image(), label)
        except (SiamError, OSError) as exc:
            set_role(self.store_message, "error")
            self.store_message.setText(f"Not saved: {exc}")
            return False
        n = len(self.store)
        self._store_changed(f"Saved as “{label}” ({n} drawing{'s' if n != 1 else ''}) "
                            f"— row {row} of", count=False)
        self._label_from_user = False
        self.canvas.reset()
        return True

    def selected_rows(self) -> list[int]:
        return sorted(int(it.data(Qt.ItemDataRole.UserRole))
                      for it in self.drawings_list.selectedItems())

    def relabel_selected(self) -> bool:
        label = self.label()
        rows = self.selected_rows()
        if self.store is None or not rows or not label:
            return False
        try:
            for r in rows:
                self.store.relabel(r, label)
        except (SiamError, OSError) as exc:
            set_role(self.store_message, "error")
            self.store_message.setText(f"Relabel failed: {exc}")
            self.load_store()
            return False
        self._store_changed(f"Relabelled {len(rows)} drawing(s) as “{label}”")
        return True

    def delete_selected(self) -> bool:
        rows = self.selected_rows()
        if self.store is None or not rows:
            return False
        if not dialogs.ask(self, "Delete drawings",
                           f"Delete {len(rows)} drawing(s) from the project's drawings?"):
            return False
        try:
            for r in reversed(rows):
                self.store.delete(r)
        except (SiamError, OSError) as exc:
            set_role(self.store_message, "error")
            self.store_message.setText(f"Delete failed: {exc}")
            self.load_store()
            return False
        self._store_changed(f"Deleted {len(rows)} drawing(s)")
        return True

    # -- evaluate ----------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Run the loaded model on every saved drawing (worker thread)."""
        path = self.drawn_path()
        if self.run_model is None or path is None or self.store is None \
                or not len(self.store):
            return False
        started = self.eval_panel.evaluate(self.run_model, path, list(self.store.drawings))
        self._update_buttons()
        return started

    # -- buttons -----------------------------------------------------------------------------
    def _update_buttons(self, *_: object) -> None:
        has_store = self.store is not None
        drawn = not self.canvas.is_empty()
        self.save_btn.setEnabled(has_store and drawn and bool(self.label()))
        if not has_store:
            self.save_btn.setToolTip("The drawings file cannot be read; saving is off")
        elif not drawn:
            self.save_btn.setToolTip("Draw something first")
        elif not self.label():
            self.save_btn.setToolTip("Type or pick a label first")
        else:
            self.save_btn.setToolTip(SAVE_TIP)
        selected = bool(self.drawings_list.selectedItems())
        self.relabel_btn.setEnabled(has_store and selected and bool(self.label()))
        self.delete_btn.setEnabled(has_store and selected)
        self.eval_btn.setEnabled(self.run_model is not None and has_store
                                 and bool(self.store and len(self.store))
                                 and not self.eval_panel.busy())
        self.undo_btn.setEnabled(self.canvas.can_undo())
        self.redo_btn.setEnabled(self.canvas.can_redo())
        self.clear_btn.setEnabled(drawn)
        if hasattr(self, "enrol_box"):  # not yet while __init__ builds the widgets
            self.enrol_box.refresh()

    def busy(self) -> bool:
        return self._query_runner is not None or self.eval_panel.busy() or \
            self._timer.isActive()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1000, 700)


__all__ = ["DrawTab", "parse_label", "has_checkpoint"]
