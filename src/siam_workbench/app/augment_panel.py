"""The Train tab's augmentation preview: the project's training glyphs as ``[augment]`` with the
current settings distorts them — a few glyphs clean and as training draws them ("mixed"), and
each distortion alone at its configured strength. ``siam augment`` writes the same picture.

Both views come from :mod:`siam_workbench.train.augment_preview`, i.e. from the training augmenter
itself. The work (reading the glyph file, augmenting, tiling) runs on a worker thread; the GUI
thread only turns the finished uint8 arrays into images and paints them, magnified by an
integer factor with nearest-neighbour sampling so each glyph pixel stays a visible square.
Edits of any ``augment.*`` setting refresh it after a 300 ms pause (typing a value or holding a
spin-box arrow computes once, not per keystroke); a result that arrives after the settings
changed again is dropped, and at most one computation runs at a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread
from siam_workbench.base.errors import SiamError

DEBOUNCE_MS = 300
SAMPLES = 4  # training glyphs in the mixed view (rows), at least
MAX_SAMPLES = 12  # rows the mixed view grows to when the panel is tall (issue 21, item 11)
VARIANTS = 6  # augmented variants per glyph (columns after the clean one)
LABEL_GAP = 6  # pixels between a row label and its cells


@dataclass
class PreviewResult:
    """What the worker hands back: the two tiled pictures (uint8, ink dark on light paper),
    their row labels, and the thread that computed them (tests check it is not the GUI's)."""

    mixed: np.ndarray
    operations: np.ndarray
    mixed_labels: list[tuple[str, str]]  # (label, tooltip) per row
    operation_labels: list[tuple[str, str]]
    state: str  # on | disabled | inactive
    cell: int  # glyph side in pixels
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    thread: int = 0


def compute_preview(train: Path, settings: dict[str, Any], seed: int,
                    samples: int = SAMPLES, variants: int = VARIANTS) -> PreviewResult:
    """Everything the panel shows, from the glyph file and the ``[augment]`` values (runs on a
    worker thread; raises :class:`SiamError` for a missing or unusable file)."""
    from siam_workbench.train import augment_preview as ap

    glyphs, classes = ap.training_glyphs(train, samples, seed)
    preview = ap.build_preview(glyphs, settings, samples, variants, seed, classes)
    mixed = ap.tile(preview.mixed, 1, separator=True)
    ops = ap.tile(np.stack([preview.source] + [r.images for r in preview.operations]), 1)
    mixed_labels = [(c, f"training glyph of class {c!r}: clean (left of the rule), then "
                     f"{variants} variants as training draws them") for c in preview.classes]
    op_labels = [("source", "the glyphs each distortion starts from")]
    for r in preview.operations:
        name = r.operation.label if r.active else f"{r.operation.label} (off)"
        op_labels.append((name, f"{r.operation.label}: {r.detail} (augment.{r.operation.switch})"))
    return PreviewResult(mixed, ops, mixed_labels, op_labels, preview.state,
                         int(glyphs.shape[-1]), seed, dict(settings), threading.get_ident())


class GridView(QWidget):
    """A tiled glyph picture with a label per row, magnified by the largest integer factor that
    fits (nearest neighbour; below 1× it shrinks, still without smoothing)."""

    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.array: np.ndarray | None = None
        self.labels: list[tuple[str, str]] = []
        self.cell = 37
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_picture(self, array: np.ndarray | None, labels: list[tuple[str, str]],
                    cell: int) -> None:
        self.array = None if array is None else np.ascontiguousarray(array)
        self.labels, self.cell = labels, cell
        if self.array is None:
            self.image = None
        else:
            h, w = self.array.shape
            # QImage borrows the buffer: copy() owns its pixels once self.array is replaced.
            self.image = QImage(self.array.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        self.updateGeometry()
        self.update()

    def _label_width(self) -> int:
        fm = self.fontMetrics()
        return max((fm.horizontalAdvance(t) for t, _ in self.labels), default=0) + LABEL_GAP

    def scale(self) -> float:
        """The magnification the picture is painted at (integer when ≥ 1)."""
        if self.image is None:
            return 1.0
        room_w = max(1, self.width() - self._label_width())
        fit = min(room_w / self.image.width(), self.height() / self.image.height())
        return float(int(fit)) if fit >= 1 else max(0.25, fit)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        if self.image is None:
            return QSize(0, 0)
        return QSize(self._label_width() + self.image.width() // 2, self.image.height() // 2)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        if self.image is None:
            return QSize(0, 0)
        return QSize(self._label_width() + 2 * self.image.width(), 2 * self.image.height())

    def _row_rect(self, i: int, k: float) -> tuple[int, int]:
        from siam_workbench.train.augment_preview import GAP

        pitch = self.cell + GAP
        return int((GAP + i * pitch) * k), int(self.cell * k)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        if self.image is None:
            return
        k = self.scale()
        lw = self._label_width()
        target = QRect(lw, 0, int(self.image.width() * k), int(self.image.height() * k))
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(target, self.image)
        p.setPen(self.palette().windowText().color())
        for i, (text, _tip) in enumerate(self.labels):
            top, height = self._row_rect(i, k)
            p.drawText(QRect(0, top, lw - LABEL_GAP, height),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        p.end()

    def row_at(self, y: int) -> int | None:
        k = self.scale()
        for i in range(len(self.labels)):
            top, height = self._row_rect(i, k)
            if top <= y < top + height:
                return i
        return None

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.resized.emit()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        row = self.row_at(int(event.position().y()))
        self.setToolTip(self.labels[row][1] if row is not None else "")
        super().mouseMoveEvent(event)


class AugmentPreview(QWidget):
    """Preview panel: status line, "New samples" button, the mixed view and each distortion
    alone. Follows the document: project switches and ``augment.*`` edits refresh it."""

    updated = Signal()  # a new result (or message) is on screen

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.seed = 0
        self.result: PreviewResult | None = None
        self.computations = 0  # worker computations started (tests: the debounce)
        self._generation = 0  # bumped by every request; stale results are dropped
        self._running = False
        self._again = False  # a request arrived while a computation was running
        self._missing = False  # the last attempt found no training file
        self.samples = SAMPLES  # rows of the mixed view: as many as its height holds

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reseed_btn = QPushButton("New samples")
        self.reseed_btn.setToolTip("Other glyphs and other random distortions "
                                   "(siam augment … --seed N)")
        self.reseed_btn.clicked.connect(self.reseed)
        head = QHBoxLayout()
        head.addWidget(self.status, 1)
        head.addWidget(self.reseed_btn, 0, Qt.AlignmentFlag.AlignTop)

        self.mixed_title = QLabel("As training draws them — clean | variants")
        self.ops_title = QLabel("Each distortion alone, always applied")
        for t in (self.mixed_title, self.ops_title):
            set_role(t, "title")
        self.mixed_view = GridView()
        # Its size is known only once the layout gave it one: then more (or fewer) rows.
        self.mixed_view.resized.connect(self._follow_size)
        self.ops_view = GridView()
        left = QVBoxLayout()
        left.addWidget(self.mixed_title)
        left.addWidget(self.mixed_view, 1)
        right = QVBoxLayout()
        right.addWidget(self.ops_title)
        right.addWidget(self.ops_view, 1)
        views = QHBoxLayout()
        views.addLayout(left, 7)
        views.addLayout(right, 6)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(head)
        lay.addLayout(views, 1)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh_now)
        doc.projectChanged.connect(self._project_changed)
        doc.configChanged.connect(self._config_changed)
        self._project_changed()

    # -- requests ----------------------------------------------------------------------------
    def _project_changed(self) -> None:
        self.seed = 0
        self.request_refresh()

    def _config_changed(self, keys: Any) -> None:
        if any(str(k).startswith(("augment.", "data.")) for k in keys or ()):
            self.request_refresh()

    def request_refresh(self) -> None:
        """Refresh after :data:`DEBOUNCE_MS` of quiet (restarts on every call)."""
        self._generation += 1
        self.timer.start()

    def reseed(self) -> None:
        """Other glyphs and other random draws, at once."""
        self.seed += 1
        self._generation += 1
        self.refresh_now()

    def wanted_samples(self) -> int:
        """How many glyph rows fill the mixed view at the scale its width allows (no fewer
        than :data:`SAMPLES`): a tall panel shows more glyphs instead of blank space."""
        from siam_workbench.train.augment_preview import grid_shape

        view = self.mixed_view
        if self.result is None or not view.isVisible():
            return self.samples
        cell = self.result.cell
        width = grid_shape(1, 1 + VARIANTS, cell, 1, separator=True)[1]
        k = max(1, int((view.width() - view._label_width()) / width))
        n = SAMPLES
        while n < MAX_SAMPLES and grid_shape(n + 1, 1, cell)[0] * k <= view.height():
            n += 1
        return n

    def _follow_size(self) -> None:
        if not self._running and self.wanted_samples() != self.samples:
            self.request_refresh()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._missing:  # the data may have been rendered meanwhile
            self.request_refresh()
        # Laid out while hidden (a tab page): no resize comes when it is shown, so look now.
        QTimer.singleShot(0, self._follow_size)

    def busy(self) -> bool:
        return self._running or self.timer.isActive()

    # -- the work ----------------------------------------------------------------------------
    def refresh_now(self) -> None:
        self.timer.stop()
        project = self.doc.project
        if project is None:
            self._show_message("Open a project to preview how its training glyphs are "
                               "augmented.", "hint")
            return
        if self._running:
            self._again = True
            return
        from siam_workbench.train.augment_preview import augment_values

        try:
            settings = augment_values(project.config.augment)
            train = project.dataset_paths()["train"]
        except SiamError as exc:
            self._show_message(str(exc), "error")
            return
        generation, seed = self._generation, self.seed
        self.samples = samples = self.wanted_samples()
        self._running = True
        self.computations += 1
        self.status.setText(self.status.text() if self.result else "Drawing samples…")
        run_in_thread(lambda: compute_preview(train, settings, seed, samples), self,
                      "siam-augment-preview",
                      lambda res: self._done(generation, res),
                      lambda msg, _details: self._failed(generation, msg))

    def _finish(self) -> bool:
        """End of a computation: True when its result is still wanted."""
        self._running = False
        if self._again:
            self._again = False
            self.refresh_now()
            return False
        return True

    def _done(self, generation: int, result: PreviewResult) -> None:
        if not self._finish() or generation != self._generation:
            return
        self._missing = False
        self.result = result
        self.mixed_view.set_picture(result.mixed, result.mixed_labels, result.cell)
        self.ops_view.set_picture(result.operations, result.operation_labels, result.cell)
        for w in (self.mixed_title, self.ops_title, self.mixed_view, self.ops_view):
            w.setVisible(True)
        text, role = {
            "on": ("Training glyphs with the current [augment] settings: each is shown clean, "
                   "then as training draws it. Hover a row for its setting. "
                   "CLI: siam augment.", ""),
            "disabled": ("Augmentation is disabled (augment.enabled = false): training sees the "
                         "glyphs exactly as rendered, so every row repeats its glyph.",
                         "warning"),
            "inactive": ("Every distortion is off or at zero strength: training sees the glyphs "
                         "exactly as rendered.", "warning"),
        }[result.state]
        self.status.setText(text)
        set_role(self.status, role)
        self.updated.emit()
        self._follow_size()

    def _failed(self, generation: int, message: str) -> None:
        if not self._finish() or generation != self._generation:
            return
        self._missing = "not found" in message
        if self._missing:
            message += " — or use the Data tab's Render."
        self._show_message(message, "error" if not self._missing else "hint")

    def _show_message(self, text: str, role: str) -> None:
        self.result = None
        self.mixed_view.set_picture(None, [], 37)
        self.ops_view.set_picture(None, [], 37)
        for w in (self.mixed_title, self.ops_title, self.mixed_view, self.ops_view):
            w.setVisible(False)
        self.status.setText(text)
        set_role(self.status, role)
        self.updated.emit()
