"""Table model of the font faces a project can render from, with coverage, role and a sample.

Rows are the discovered faces plus one row per role entry in ``project.toml`` that names no
installed face any more ("missing"), so a font that disappeared between sessions is visible and
can be removed instead of crashing the tab. Coverage and samples arrive asynchronously from the
coverage worker and fill in cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from siam_workbench.data.outliers import FACE_FLAG

COLUMNS = ("Family", "Style", "File", "Coverage", "Role", "Sample")
COL_FAMILY, COL_STYLE, COL_FILE, COL_COVERAGE, COL_ROLE, COL_SAMPLE = range(6)
ROLE_ORDER = {"train": 0, "val": 1, "test": 2, "unused": 3, "missing": 4, "": 5}
SORT_ROLE = Qt.ItemDataRole.UserRole + 10
ROW_ROLE = Qt.ItemDataRole.UserRole + 11
SAMPLE_PX = 40

_Index = QModelIndex | QPersistentModelIndex


@dataclass
class FontRow:
    face: Any  # siam_workbench.data.fonts.FontFace, or None for a missing entry
    token: str  # the role entry (missing rows) or the token the Data tab would write
    coverage: float | None = None
    role: str = ""  # train | val | test | unused | missing
    auto: bool = False  # role came from the automatic split
    sample: QPixmap | None = None
    sample_failed: bool = False
    missing_role: str = ""  # for a missing entry: the data.<role>_fonts list naming it
    outliers: float | None = None  # share of its rendered glyphs unlike the other faces'

    @property
    def id(self) -> str:
        return self.face.id if self.face is not None else f"missing:{self.token}"

    @property
    def missing(self) -> bool:
        return self.face is None


def glyph_pixmap(img: np.ndarray, px: int = SAMPLE_PX, excluded: bool = False) -> QPixmap:
    """Ink-on-paper thumbnail of a uint8 glyph (ink = 255); excluded ones are faded."""
    arr = np.ascontiguousarray(255 - np.asarray(img, dtype=np.uint8))
    if excluded:
        arr = (arr.astype(np.uint16) // 3 + 170).astype(np.uint8)
    h, w = arr.shape
    qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimg).scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)


class FontTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[FontRow] = []
        self._by_id: dict[str, int] = {}
        self._outliers: dict[str, float] = {}

    # -- filling -----------------------------------------------------------------------------
    def set_rows(self, rows: list[FontRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        for r in rows:  # the scores of the last scored file outlive a refill
            if r.face is not None and r.face.id in self._outliers and r.outliers is None:
                v = self._outliers[r.face.id]
                r.outliers = float(v) if v == v else None
        self._by_id = {r.id: i for i, r in enumerate(rows)}
        self.endResetModel()

    def set_outliers(self, scores: dict[str, float]) -> None:
        """Each face's share of outlier glyphs (siam_workbench.data.outliers), by its source
        name."""
        self._outliers = dict(scores)
        for i, r in enumerate(self.rows):
            if r.face is not None and r.face.id in scores:
                v = scores[r.face.id]
                r.outliers = float(v) if v == v else None
                idx = self.index(i, COL_COVERAGE)
                self.dataChanged.emit(idx, idx)

    def faces(self) -> list[Any]:
        return [r.face for r in self.rows if r.face is not None]

    def row_of(self, face_id: str) -> FontRow | None:
        i = self._by_id.get(face_id)
        return None if i is None else self.rows[i]

    def _changed(self, face_id: str, col: int) -> None:
        i = self._by_id.get(face_id)
        if i is not None:
            idx = self.index(i, col)
            self.dataChanged.emit(idx, idx)

    def set_coverage(self, face_id: str, value: float | None) -> None:
        row = self.row_of(face_id)
        if row is not None:
            row.coverage = value
            self._changed(face_id, COL_COVERAGE)

    def set_sample(self, face_id: str, img: np.ndarray | None) -> None:
        row = self.row_of(face_id)
        if row is not None:
            row.sample = None if img is None else glyph_pixmap(img)
            row.sample_failed = img is None
            self._changed(face_id, COL_SAMPLE)

    def clear_coverage(self) -> None:
        for r in self.rows:
            r.coverage, r.sample, r.sample_failed = None, None, False
        if self.rows:
            self.dataChanged.emit(self.index(0, COL_COVERAGE),
                                  self.index(len(self.rows) - 1, COL_SAMPLE))

    def set_roles(self, roles: dict[str, tuple[str, bool]], missing: list[tuple[str, str]]
                  ) -> None:
        """``roles``: face id → (role, auto); ``missing``: (token, role) entries naming no face."""
        present = [r for r in self.rows if not r.missing]
        for r in present:
            r.role, r.auto = roles.get(r.id, ("unused", False))
        rows = present + [FontRow(face=None, token=t, role="missing", missing_role=role)
                          for t, role in missing]
        self.set_rows(rows)

    # -- Qt model ----------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        c = index.column()
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            if c == COL_FAMILY:
                return "(missing font)" if r.missing else r.face.family
            if c == COL_STYLE:
                return "" if r.missing else r.face.style
            if c == COL_FILE:
                return r.token
            if c == COL_COVERAGE:
                if r.coverage is None:
                    return None
                flag = f" ⚠ {r.outliers:.0%} odd" if r.outliers is not None and \
                    r.outliers > FACE_FLAG else ""
                return f"{r.coverage:.1%}{flag}"
            if c == COL_ROLE:
                if r.missing:
                    return f"missing ({r.missing_role})"
                return f"{r.role} (auto)" if r.auto and r.role != "unused" else r.role
            if c == COL_SAMPLE and r.sample is None:
                return "–" if (r.sample_failed or r.missing) else ""
            return None
        if role == Qt.ItemDataRole.DecorationRole and c == COL_SAMPLE:
            return r.sample
        if role == Qt.ItemDataRole.ToolTipRole:
            if r.missing:
                return (f"“{r.token}” is named in data.{r.missing_role}_fonts "
                        "but no installed font matches it. Install it, add its folder to "
                        "data.font_dirs, or mark it Unused to remove the entry.")
            tip = f"{r.face.full_name}\n{r.face.path}"
            if c == COL_ROLE and r.auto:
                tip += "\nRole chosen by the automatic family split (data.*_fonts empty)."
            if c == COL_COVERAGE and r.outliers is not None:
                tip += (f"\n{r.outliers:.0%} of its rendered glyphs do not look like the other "
                        "faces' glyphs of the same class"
                        + (" — check it in the glyph browser (right-click its column to "
                           "exclude the face; CLI: siam exclude FILE --source NAME)"
                           if r.outliers > FACE_FLAG else ""))
            return tip
        if role == Qt.ItemDataRole.ForegroundRole and r.missing:
            return QColor("#d03030")
        if role == Qt.ItemDataRole.TextAlignmentRole and c == COL_SAMPLE:
            return Qt.AlignmentFlag.AlignCenter
        if role == SORT_ROLE:
            if c == COL_COVERAGE:
                return -1.0 if r.coverage is None else r.coverage
            if c == COL_ROLE:
                return ROLE_ORDER.get(r.role, 9)
            if c == COL_SAMPLE:
                return 0 if r.sample is None else 1
            value = self.data(index, Qt.ItemDataRole.DisplayRole)
            return (value or "").casefold()
        return None


class FontFilterProxy(QSortFilterProxyModel):
    """Text filter over family / style / file, plus a role filter."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.role = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(False)  # re-sorting while coverage streams in jumps rows

    def _refilter(self, change: Any) -> None:
        # Qt ≥ 6.10 deprecates invalidateFilter() in favour of begin/endFilterChange().
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            change()
            self.invalidateFilter()

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "text", text.strip().casefold()))

    def set_role(self, role: str) -> None:
        self._refilter(lambda: setattr(self, "role", role))

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        r: FontRow = model.rows[source_row]  # type: ignore[attr-defined]
        if self.role and r.role != self.role:
            return False
        if not self.text:
            return True
        hay = r.token if r.missing else f"{r.face.family} {r.face.style} {r.face.id} " \
                                         f"{r.face.full_name}"
        return self.text in hay.casefold()


class CoverageDelegate(QStyledItemDelegate):
    """Draws the coverage column as a progress bar in the current style and palette."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        value = index.data(SORT_ROLE)
        if value is None or value < 0:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                            option.widget)
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(3, 4, -3, -4))
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(round(value * 1000))
        bar.text = str(index.data(Qt.ItemDataRole.DisplayRole) or f"{value:.1%}")  # + ⚠ odd
        bar.textVisible = True
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.palette = option.palette
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
