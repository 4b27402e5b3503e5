"""The selected class beside its nearest classes: glyph, distance, a few training samples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from siam_workbench.app.font_model import glyph_pixmap
from siam_workbench.app.glyph_cache import GlyphCache

NEIGHBORS = 5


class NeighborStrip(QWidget):
    """The selected class and its nearest classes: glyph, distance, a few training samples."""

    classClicked = Signal(int)

    def __init__(self, glyphs: GlyphCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(2)
        self.message = QLabel("Select a class to see it next to its nearest classes.")
        self.message.setWordWrap(True)
        self.grid.addWidget(self.message, 0, 0, 1, NEIGHBORS + 1)
        # Fixed height: the strip refills on every selection and must not shift the plots.
        line = self.fontMetrics().lineSpacing()
        self.setFixedHeight(36 + 2 * line + 30 + line + 12)
        self._cells: list[QWidget] = []
        self._sample_labels = []
        self.entries: list[tuple[int, str, float]] = []

    def set_entries(self, entries: list[tuple[int, str, float]], message: str = "") -> None:
        """``(class index, text, distance to the selected class)``, the selected one first."""
        for w in self._cells:
            self.grid.removeWidget(w)
            w.hide()  # deleteLater waits for the event loop; never show stale cells meanwhile
            w.deleteLater()
        self._cells = []
        self._sample_labels: list[QLabel] = []
        self.entries = entries
        self.message.setText(message)
        self.message.setVisible(bool(message))
        for col, (_i, text, dist) in enumerate(entries):
            glyph = QLabel()
            glyph.setPixmap(self.glyphs.pixmap(text, 36))
            glyph.setAlignment(Qt.AlignmentFlag.AlignCenter)
            glyph.setToolTip(f"{text} (font rendering)")
            caption = QLabel(f"<b>{text}</b>" if col == 0 else f"{text}<br>d={dist:.3g}")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            samples = QLabel("…")
            samples.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._sample_labels.append(samples)
            for row, w in enumerate((glyph, caption, samples)):
                self.grid.addWidget(w, row + 1, col)
                self._cells.append(w)

    def set_samples(self, samples: dict[str, list[np.ndarray]]) -> None:
        for label, (_i, text, _d) in zip(self._sample_labels, self.entries):
            imgs = samples.get(text, [])
            if not imgs:
                label.setText("no samples")
                continue
            strip = np.concatenate([np.pad(im, ((0, 0), (0, 2)), constant_values=0)
                                    for im in imgs], axis=1)
            h, w = strip.shape
            label.setPixmap(glyph_pixmap(strip, 28 * w // h))
            label.setToolTip(f"{len(imgs)} training sample(s) of {text}")
