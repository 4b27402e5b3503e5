"""All classes of one epoch as a table model (Miners › Probabilities), sorted and filtered with
numpy so 11,172 rows stay fast."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOptionHeader

from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.miners_model import uniform_probability

_Index = QModelIndex | QPersistentModelIndex


def _fmt_p(p: float) -> str:
    return "–" if p != p else f"{p:.3g}"


class ClassTableModel(QAbstractTableModel):
    """All classes of one epoch, sorted and filtered with numpy (fast at 11,172 rows)."""

    HEADERS = ("#", "Glyph", "Class", "Probability", "× uniform", "Mean dist.", "Cluster",
               "Rank Δ")
    COL_RANK, COL_GLYPH, COL_CLASS, COL_P, COL_REL, COL_DIST, COL_CLUSTER, COL_DELTA = range(8)
    GLYPH_PX = 26

    def __init__(self, glyphs: GlyphCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        self.classes: list[str] = []
        n = 0
        self.p = np.zeros(n)
        self.dist = np.zeros(n)
        self.cluster = np.zeros(n, dtype=np.int64)
        self.delta = np.zeros(n, dtype=np.int64)
        self.rank = np.zeros(n, dtype=np.int64)
        self.uniform = 0.0
        self.rows = np.zeros(0, dtype=np.int64)
        self._filter = ""
        self._sort = (self.COL_P, Qt.SortOrder.DescendingOrder)
        self._class_font = QFont()
        self._class_font.setPointSizeF(self._class_font.pointSizeF() * 1.3)

    def set_epoch(self, classes: list[str], p: np.ndarray | None, dist: np.ndarray | None,
                  cluster: np.ndarray | None, delta: np.ndarray) -> None:
        self.beginResetModel()
        n = len(classes)
        self.classes = classes
        self.p = np.asarray(p, dtype=np.float64) if p is not None else np.full(n, np.nan)
        self.dist = np.asarray(dist, dtype=np.float64) if dist is not None else np.full(n, np.nan)
        self.cluster = (np.asarray(cluster, dtype=np.int64) if cluster is not None
                        else np.full(n, -1, dtype=np.int64))
        self.delta = np.asarray(delta, dtype=np.int64)
        order = np.argsort(-np.nan_to_num(self.p, nan=-1.0), kind="stable")
        self.rank = np.empty(n, dtype=np.int64)
        self.rank[order] = np.arange(n)
        self.uniform = uniform_probability(self.p, dist) if p is not None else float("nan")
        self._apply()
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        self.beginResetModel()
        self._filter = text.strip()
        self._apply()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._apply()
        self.layoutChanged.emit()

    def _apply(self) -> None:
        n = len(self.classes)
        rows = np.arange(n)
        f = self._filter
        if f:
            want = f
            if f.upper().startswith("U+"):
                try:
                    want = chr(int(f[2:], 16))
                except ValueError:
                    want = f
            hit = [i for i, c in enumerate(self.classes) if want in c]
            if f.isdigit() and int(f) < n and int(f) not in hit:
                hit.append(int(f))
            rows = np.array(sorted(hit), dtype=np.int64)
        col, order = self._sort
        descending = order == Qt.SortOrder.DescendingOrder
        if col == self.COL_CLASS:
            rows = np.array(sorted(rows, key=lambda i: self.classes[i], reverse=descending),
                            dtype=np.int64)
        else:
            # Ascending = smallest first, descending = largest first, as the header's arrow
            # says; classes without a value (NaN) stay at the bottom either way.
            values = {self.COL_RANK: self.rank, self.COL_GLYPH: self.rank, self.COL_P: self.p,
                      self.COL_REL: self.p, self.COL_DIST: self.dist,
                      self.COL_CLUSTER: self.cluster, self.COL_DELTA: self.delta}
            v = values.get(col, self.rank).astype(np.float64)[rows]
            key = np.where(np.isnan(v), np.inf, -v if descending else v)
            rows = rows[np.argsort(key, kind="stable")]
        self.rows = rows

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else int(self.rows.size)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {self.COL_REL: "probability ÷ uniform 1/C",
                    self.COL_DIST: "mean distance of the class's samples to its center",
                    self.COL_DELTA: "places gained (+) or lost (−) in probability rank since "
                                    "the previous epoch",
                    self.COL_CLUSTER: "auto-clustering cluster id (−1: none)",
                    self.COL_GLYPH: self.glyphs.note}.get(section)
        return None

    def class_at(self, row: int) -> int:
        return int(self.rows[row])

    def row_of(self, index: int) -> int | None:
        where = np.flatnonzero(self.rows == index)
        return int(where[0]) if where.size else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        i = int(self.rows[index.row()])
        col = index.column()
        if role == Qt.ItemDataRole.DecorationRole and col == self.COL_GLYPH:
            return self.glyphs.pixmap(self.classes[i], self.GLYPH_PX)
        if role == Qt.ItemDataRole.TextAlignmentRole and col not in (self.COL_CLASS,
                                                                      self.COL_GLYPH):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col == self.COL_CLASS:
            return " ".join(f"U+{ord(c):04X}" for c in self.classes[i])
        if role == Qt.ItemDataRole.FontRole and col == self.COL_CLASS:
            return self._class_font
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.COL_RANK:
            return int(self.rank[i]) + 1
        if col == self.COL_CLASS:
            return self.classes[i]
        if col == self.COL_P:
            return _fmt_p(float(self.p[i]))
        if col == self.COL_REL:
            v = float(self.p[i]) / self.uniform if self.uniform == self.uniform else float("nan")
            return "–" if v != v else f"{v:.2f}×"
        if col == self.COL_DIST:
            return _fmt_p(float(self.dist[i]))
        if col == self.COL_CLUSTER:
            c = int(self.cluster[i])
            return "–" if c < 0 else c
        if col == self.COL_DELTA:
            d = int(self.delta[i])
            return f"+{d}" if d > 0 else str(d) if d < 0 else "0"
        return None


class ArrowStyle(QProxyStyle):
    """Header sort arrows that point the way the column reads: ▼ largest first (descending),
    ▲ smallest first. (Qt's own header draws descending as an up arrow.)"""

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and \
                isinstance(option, QStyleOptionHeader):
            flipped = QStyleOptionHeader(option)
            up, down = QStyleOptionHeader.SortIndicator.SortUp, \
                QStyleOptionHeader.SortIndicator.SortDown
            flipped.sortIndicator = down if option.sortIndicator == up else \
                up if option.sortIndicator == down else option.sortIndicator
            super().drawPrimitive(element, flipped, painter, widget)
            return
        super().drawPrimitive(element, option, painter, widget)
