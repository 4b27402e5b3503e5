"""The N most sampled classes as bars with their glyph underneath (Miners › Probabilities)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.plots import COLORS


class ProbabilityBars(QWidget):
    """The N most sampled classes as bars with their glyph underneath (hover: details)."""

    classClicked = Signal(int)

    def __init__(self, glyphs: GlyphCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self.setMouseTracking(True)
        self.setMinimumHeight(170)
        self.classes: list[str] = []
        self.order = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0)
        self.uniform = 0.0
        self.details: Any = None  # callable index → tooltip text
        self.selected: int | None = None

    def set_data(self, classes: list[str], probabilities: np.ndarray, n: int, uniform: float,
                 details: Any) -> None:
        self.classes = classes
        p = np.nan_to_num(np.asarray(probabilities, dtype=np.float64), nan=-1.0)
        n = min(n, p.size)
        top = np.argpartition(-p, n - 1)[:n] if 0 < n < p.size else np.arange(p.size)
        self.order = top[np.argsort(-p[top], kind="stable")]
        self.values = p[self.order]
        self.uniform = uniform
        self.details = details
        self.update()

    def _geometry(self) -> tuple[int, int, int, int, float, int]:
        left, right, top = 52, 8, 22
        n = max(len(self.order), 1)
        col = (self.width() - left - right) / n
        glyph = int(max(10, min(30, col - 2)))
        bottom = glyph + 10
        return left, right, top, bottom, col, glyph

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        left, right, top, bottom, col, glyph = self._geometry()
        h = self.height() - top - bottom
        p.setPen(fg)
        p.drawText(QRect(left, 2, self.width() - left, top - 4),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   f"Top {len(self.order)} classes by sampling probability")
        if not len(self.order) or h <= 10:
            p.end()
            return
        vmax = max(float(self.values.max()), self.uniform) * 1.05 or 1.0
        grid = QColor(fg)
        grid.setAlpha(40)
        for frac in (0.0, 0.5, 1.0):
            y = top + h - frac * h
            p.setPen(grid)
            p.drawLine(left, int(y), self.width() - right, int(y))
            p.setPen(fg)
            p.drawText(QRect(0, int(y) - 8, left - 4, 16),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{frac * vmax:.2g}")
        bar = QColor(COLORS[0])
        sel = QColor(COLORS[1])
        for i, (idx, v) in enumerate(zip(self.order, self.values)):
            x0 = left + i * col
            bh = max(0.0, v) / vmax * h
            p.fillRect(int(x0 + col * 0.12), int(top + h - bh), max(1, int(col * 0.76)),
                       int(bh) + 1, sel if idx == self.selected else bar)
            text = self.classes[int(idx)] if int(idx) < len(self.classes) else str(idx)
            pm = self.glyphs.pixmap(text, glyph)
            p.drawPixmap(int(x0 + (col - glyph) / 2), top + h + 5, pm)
        uy = top + h - self.uniform / vmax * h
        pen = QPen(QColor(COLORS[5]), 1.5, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(left, int(uy), self.width() - right, int(uy))
        box = QRect(self.width() - right - 84, int(uy) - 17, 82, 15)
        p.fillRect(box, pal.color(QPalette.ColorRole.Base))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, "uniform 1/C")
        p.end()

    def index_at(self, pos: QPoint) -> int | None:
        left, right, _top, _bottom, col, _g = self._geometry()
        if not len(self.order) or pos.x() < left:
            return None
        i = int((pos.x() - left) // col)
        return int(self.order[i]) if 0 <= i < len(self.order) else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        idx = self.index_at(event.position().toPoint())
        if idx is not None and self.details is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.details(idx), self)
        else:
            QToolTip.hideText()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        idx = self.index_at(event.position().toPoint())
        if idx is not None:
            self.classClicked.emit(idx)
