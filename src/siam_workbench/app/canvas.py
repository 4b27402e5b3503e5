"""A drawing canvas for the Draw tab: mouse or tablet pen, eraser, undo / redo, clear.

The drawing is kept as a list of operations (strokes and clears) and replayed onto a white
``QImage``; undo moves the last operation to the redo list. A tablet's pressure scales the
stroke width (``QTabletEvent``; mouse strokes have constant width). :meth:`DrawingCanvas.image`
returns the pixels as drawn — dark ink on white — which ``siam_workbench.infer.query.prepare``
normalises exactly like a training glyph.

The drawing lives in a fixed logical square (``CANVAS_PX``) whatever the widget's size: a larger
window shows it larger (strokes replayed as vectors, so they stay sharp), while the image, the
pen width and the saved drawings stay the same as on a small screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointingDevice,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

CANVAS_PX = 360
MAX_VIEW_PX = 1000  # beyond this a drawing square only costs the other panels room
INK = QColor(0, 0, 0)
PAPER = QColor(255, 255, 255)


@dataclass
class Stroke:
    """One pen-down … pen-up: points ``(x, y, width)`` in canvas pixels."""

    points: list[tuple[float, float, float]] = field(default_factory=list)
    eraser: bool = False


@dataclass
class Clear:
    """Clearing is an operation too, so it can be undone."""


Op = Stroke | Clear


class DrawingCanvas(QWidget):
    """Square canvas of ``size`` logical pixels, shown at least that large and growing with the
    room it is given; emits ``changed`` while drawing and after each edit."""

    changed = Signal()  # the pixels changed (drawing, undo, redo, clear)
    strokeFinished = Signal()  # a stroke ended (pen up)
    historyChanged = Signal()  # can_undo / can_redo may have changed

    def __init__(self, size: int = CANVAS_PX, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self.setMinimumSize(size, size)
        self.setMaximumSize(MAX_VIEW_PX, MAX_VIEW_PX)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the mouse or a pen; a tablet's pressure sets the width")
        self.pen_width = 14.0
        self.eraser = False
        self.ops: list[Op] = []
        self.redo_ops: list[Op] = []
        self._current: Stroke | None = None
        self._img = QImage(size, size, QImage.Format.Format_Grayscale8)
        self._img.fill(PAPER)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self._size, self._size)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        return width

    @property
    def logical_px(self) -> int:
        """The side of the drawing in its own pixels (what :meth:`image` returns)."""
        return self._size

    def view_scale(self) -> float:
        """Screen pixels per logical pixel: the square is as large as the widget allows."""
        return max(1.0, min(self.width(), self.height()) / self._size)

    def view_px(self) -> int:
        """The side of the drawing square on screen."""
        return int(round(self._size * self.view_scale()))

    def _logical(self, pos: QPointF) -> QPointF:
        k = self.view_scale()
        return QPointF(pos.x() / k, pos.y() / k)

    # -- state -------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        """True when no ink is on the canvas (nothing drawn, all erased or cleared)."""
        return bool((self.image() > 250).all())

    def can_undo(self) -> bool:
        return bool(self.ops)

    def can_redo(self) -> bool:
        return bool(self.redo_ops)

    def image(self) -> np.ndarray:
        """uint8 ``[H, W]`` as drawn: ink dark (0), paper white (255)."""
        img = self._img
        arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return arr[:, : img.width()].copy()

    def set_pen_width(self, width: float) -> None:
        self.pen_width = float(width)

    def set_eraser(self, on: bool) -> None:
        self.eraser = bool(on)

    # -- edits -------------------------------------------------------------------------------
    def undo(self) -> None:
        if self.ops:
            self.redo_ops.append(self.ops.pop())
            self._replay()

    def redo(self) -> None:
        if self.redo_ops:
            self.ops.append(self.redo_ops.pop())
            self._replay()

    def clear(self) -> None:
        """Wipe the canvas (undoable); a no-op when it is already blank."""
        if self._visible_ops():
            self._push(Clear())
            self._replay()

    def reset(self) -> None:
        """Blank canvas and no history (after a drawing was saved)."""
        self.ops.clear()
        self.redo_ops.clear()
        self._replay()

    def draw_polyline(self, points: list[tuple[float, float]], width: float | None = None,
                      eraser: bool = False) -> None:
        """Add one stroke programmatically (scripts, tests)."""
        w = self.pen_width if width is None else width
        stroke = Stroke([(x, y, w) for x, y in points], eraser)
        self._push(stroke)
        self._replay()
        self.strokeFinished.emit()

    def _push(self, op: Op) -> None:
        self.ops.append(op)
        self.redo_ops.clear()
        self.historyChanged.emit()

    def _visible_ops(self) -> list[Op]:
        last_clear = max((i for i, op in enumerate(self.ops) if isinstance(op, Clear)),
                         default=-1)
        return self.ops[last_clear + 1:]

    def _replay(self) -> None:
        self._img.fill(PAPER)
        p = QPainter(self._img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for op in self._visible_ops():
            if isinstance(op, Stroke):
                self._paint_stroke(p, op, 0)
        p.end()
        self.update()
        self.historyChanged.emit()
        self.changed.emit()

    @staticmethod
    def _paint_stroke(p: QPainter, stroke: Stroke, start: int) -> None:
        """Paint ``stroke`` from point ``start`` (segments with their own widths)."""
        color = PAPER if stroke.eraser else INK
        pts = stroke.points
        if len(pts) == 1 and start == 0:
            x, y, w = pts[0]
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawEllipse(QPointF(x, y), w / 2, w / 2)
            return
        for i in range(max(1, start), len(pts)):
            x0, y0, w0 = pts[i - 1]
            x1, y1, w1 = pts[i]
            pen = QPen(color, (w0 + w1) / 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                       Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            p.drawLine(QPointF(x0, y0), QPointF(x1, y1))

    # -- input -------------------------------------------------------------------------------
    def _begin(self, pos: QPointF, width: float) -> None:
        self._current = Stroke([(pos.x(), pos.y(), width)], self.eraser)
        self._push(self._current)
        self._extend(None)

    def _move(self, pos: QPointF, width: float) -> None:
        if self._current is None:
            return
        self._current.points.append((pos.x(), pos.y(), width))
        self._extend(len(self._current.points) - 1)

    def _extend(self, start: int | None) -> None:
        """Paint only the newest segment while drawing (replaying everything is for undo)."""
        assert self._current is not None
        p = QPainter(self._img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_stroke(p, self._current, 0 if start is None else start)
        p.end()
        self.update()
        self.changed.emit()

    def _end(self) -> None:
        if self._current is not None:
            self._current = None
            self.strokeFinished.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(self._logical(event.position()), self.pen_width)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._current is not None:
            self._move(self._logical(event.position()), self.pen_width)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._end()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 - Qt override
        pressure = event.pressure() if event.pressure() > 0 else 1.0
        width = max(1.0, self.pen_width * (0.25 + 1.1 * pressure))
        t = event.type()
        if t == QTabletEvent.Type.TabletPress:
            eraser_tip = event.pointerType() == QPointingDevice.PointerType.Eraser
            self._begin(self._logical(event.position()), width)
            if eraser_tip and self._current is not None:
                self._current.eraser = True
        elif t == QTabletEvent.Type.TabletMove:
            self._move(self._logical(event.position()), width)
        elif t == QTabletEvent.Type.TabletRelease:
            self._end()
        event.accept()  # no synthesised mouse events: they would draw a second stroke

    #: Where the baseline lies (share of the height from the top) in the em-box size mode, or
    #: None (fit mode: size and position do not matter, so no guide). Only drawn on screen,
    #: never into :meth:`image`.
    baseline: float | None = None

    def set_baseline(self, fraction: float | None) -> None:
        self.baseline = fraction
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        side = self.view_px()
        p = QPainter(self)
        if side == self._size:
            p.drawImage(0, 0, self._img)
        else:  # the strokes again at screen scale: sharp, not a magnified bitmap
            p.fillRect(0, 0, side, side, PAPER)
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.scale(self.view_scale(), self.view_scale())
            for op in self._visible_ops():
                if isinstance(op, Stroke):
                    self._paint_stroke(p, op, 0)
            p.restore()
        p.setPen(QColor(160, 160, 160))
        p.drawRect(0, 0, side - 1, side - 1)
        if self.baseline is not None:
            y = int(round(self.baseline * side))
            guide = QColor(70, 130, 200, 150)
            p.setPen(QPen(guide, 1, Qt.PenStyle.DashLine))
            p.drawLine(4, y, side - 4, y)
            p.drawText(6, y + 14, "baseline")
        p.end()
