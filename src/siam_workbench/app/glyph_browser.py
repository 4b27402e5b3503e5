"""Glyph browser: page through a glyph file's classes as a grid (one row per class, one cell per
source face / variant) and exclude or re-include samples by clicking them.

Exclusions are written straight into the file's ``/excluded`` flags
(:meth:`siam_workbench.data.glyphs.GlyphFile.set_excluded`), the labeling workflow for rendered
data: training
and evaluation skip excluded samples from the next run on. Pages are read on a worker thread
because one page of a big file touches many compressed chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyleOptionHeader,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app import dialogs
from siam_workbench.app.font_model import glyph_pixmap
from siam_workbench.app.workers import JobRunner, run_in_thread
from siam_workbench.base.errors import SiamError
from siam_workbench.data.glyphs import GlyphFile
from siam_workbench.data.outliers import FACE_FLAG
from siam_workbench.project.project import Project

PAGE_SIZE = 24
CELL_PX = 44
MAX_OUTLIER_SAMPLES = 400_000  # larger files are not scored in the GUI (siam outliers can)
HEADER_CHARS = 18  # face names longer than this are cut (the tooltip has the full name)
_Index = QModelIndex | QPersistentModelIndex


def short_source(name: str) -> str:
    """``NanumGothic.ttf#0`` → ``NanumGothic``: the header only needs to tell faces apart."""
    base, _, idx = name.partition("#")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return stem if idx in ("", "0") else f"{stem}#{idx}"


@dataclass
class FileIndex:
    """Labels and sources of a glyph file, sorted by class for O(1) page lookups."""

    path: Path
    mtime: float
    classes: list[str]
    source_names: list[str]
    labels: np.ndarray
    sources: np.ndarray
    order: np.ndarray  # rows sorted by (label, row)
    starts: np.ndarray  # [C+1] offsets into order per label
    variants: int  # most samples one (class, source) pair has
    excluded: np.ndarray

    @property
    def num_pages(self) -> int:
        return max(1, -(-len(self.classes) // PAGE_SIZE))

    def columns(self) -> list[tuple[int, int]]:
        return [(s, k) for s in range(len(self.source_names)) for k in range(self.variants)]


@dataclass
class GlyphPage:
    index: FileIndex
    page: int
    labels: list[int]
    cells: dict[tuple[int, int], int] = field(default_factory=dict)  # (row, col) → file row
    images: dict[int, np.ndarray] = field(default_factory=dict)  # file row → image


def build_index(path: Path) -> FileIndex:
    """Read the labels/sources of ``path`` (no images)."""
    with GlyphFile(path) as gf:
        labels, sources = gf.labels, gf.sources
        order = np.argsort(labels, kind="stable")
        starts = np.searchsorted(labels[order], np.arange(gf.num_classes + 1))
        s = max(1, len(gf.source_names))
        pair = np.bincount(labels * s + sources, minlength=gf.num_classes * s) if len(labels) \
            else np.zeros(1, np.int64)
        return FileIndex(path=path, mtime=path.stat().st_mtime, classes=list(gf.classes),
                         source_names=list(gf.source_names), labels=labels, sources=sources,
                         order=order, starts=starts, variants=max(1, int(pair.max())),
                         excluded=gf.excluded)


def load_page(index: FileIndex, page: int) -> GlyphPage:
    """The file rows and images of one page of classes."""
    page = max(0, min(page, index.num_pages - 1))
    labels = list(range(page * PAGE_SIZE, min(len(index.classes), (page + 1) * PAGE_SIZE)))
    out = GlyphPage(index=index, page=page, labels=labels)
    col_of = {c: j for j, c in enumerate(index.columns())}
    wanted: list[int] = []
    for r, label in enumerate(labels):
        rows = index.order[index.starts[label]:index.starts[label + 1]]
        seen: dict[int, int] = {}
        for fr in rows:
            s = int(index.sources[fr])
            k = seen.get(s, 0)
            seen[s] = k + 1
            out.cells[(r, col_of[(s, k)])] = int(fr)
            wanted.append(int(fr))
    if wanted:
        with GlyphFile(index.path) as gf:
            imgs = gf.images(np.asarray(wanted, dtype=np.int64))
        out.images = {fr: imgs[i] for i, fr in enumerate(wanted)}
    return out


class RotatedHeader(QHeaderView):
    """A horizontal header whose labels run bottom-to-top, so every face's name is readable
    in a column no wider than its glyphs (a file with 155 faces scrolls sideways)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        width = self.fontMetrics().horizontalAdvance("M" * (HEADER_CHARS - 4))
        self.setFixedHeight(width + 14)

    def paintSection(self, painter: QPainter, rect: QRect, section: int) -> None:  # noqa: N802
        if not rect.isValid():
            return
        opt = QStyleOptionHeader()
        self.initStyleOption(opt)
        opt.rect = rect
        opt.section = section
        opt.text = ""
        self.style().drawControl(QStyle.ControlElement.CE_Header, opt, painter, self)
        text = self.model().headerData(section, Qt.Orientation.Horizontal,
                                       Qt.ItemDataRole.DisplayRole) if self.model() else ""
        painter.save()
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.translate(rect.left() + rect.width() / 2 - self.fontMetrics().height() / 2,
                          rect.bottom() - 4)
        painter.rotate(-90)
        painter.drawText(QRect(0, 0, rect.height() - 8, self.fontMetrics().height() + 2),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         str(text or ""))
        painter.restore()


class GlyphGridModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.page: GlyphPage | None = None
        self.highlight: int | None = None  # a class label found with the search box
        self.outliers: Any = None  # siam_workbench.data.outliers.OutlierReport of the shown file
        self._pix: dict[int, QPixmap] = {}
        self._columns: list[tuple[int, int]] = []

    def set_page(self, page: GlyphPage | None) -> None:
        self.beginResetModel()
        self.page = page
        self._pix.clear()
        self._columns = page.index.columns() if page else []
        self.endResetModel()

    def file_row(self, index: _Index) -> int | None:
        if self.page is None or not index.isValid():
            return None
        return self.page.cells.get((index.row(), index.column()))

    def excluded(self, file_row: int) -> bool:
        return bool(self.page is not None and self.page.index.excluded[file_row])

    def set_excluded(self, file_row: int, value: bool) -> None:
        if self.page is None:
            return
        self.page.index.excluded[file_row] = value
        self._pix.pop(file_row, None)
        for (r, c), fr in self.page.cells.items():
            if fr == file_row:
                idx = self.index(r, c)
                self.dataChanged.emit(idx, idx)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() or self.page is None else len(self.page.labels)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.page is None:
            return None
        ix = self.page.index
        if orientation == Qt.Orientation.Horizontal:
            s, k = self._columns[section]
            name = ix.source_names[s]
            score = self.face_score(s)
            if role == Qt.ItemDataRole.DisplayRole:
                label = short_source(name)
                if score is not None and score > FACE_FLAG:
                    label = f"⚠{score:.0%} {label}"
                if ix.variants > 1:
                    label = f"{label} v{k + 1}"
                return label if len(label) <= HEADER_CHARS else label[:HEADER_CHARS - 1] + "…"
            if role == Qt.ItemDataRole.ToolTipRole:
                odd = "" if score is None else (
                    f"\n{score:.0%} of its glyphs do not look like the other faces' glyphs of "
                    "the same class" + (" — FLAGGED" if score > FACE_FLAG else ""))
                return name + (f" (variant {k + 1})" if ix.variants > 1 else "") + odd + \
                    "\nRight-click: exclude or re-include the whole face"
        else:
            label = self.page.labels[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{ix.classes[label]}  {label}"
            if role == Qt.ItemDataRole.ToolTipRole:
                text = ix.classes[label]
                return f"class {label}: {text} ({' '.join(f'U+{ord(c):04X}' for c in text)})"
            if role == Qt.ItemDataRole.FontRole:
                f = QFont()
                f.setPointSizeF(f.pointSizeF() * 1.25)
                f.setBold(label == self.highlight)
                return f
            if role == Qt.ItemDataRole.BackgroundRole and label == self.highlight:
                return QColor(255, 214, 102)
        return None

    def row_label(self, row: int) -> int | None:
        return self.page.labels[row] if self.page is not None and row < len(self.page.labels) \
            else None

    def face_score(self, source: int) -> float | None:
        rep = self.outliers
        if rep is None or self.page is None or rep.source_names != self.page.index.source_names:
            return None
        v = float(rep.source_score[source])
        return v if np.isfinite(v) else None

    def is_outlier(self, file_row: int) -> bool:
        rep = self.outliers
        return bool(rep is not None and self.page is not None
                    and len(rep.outlier) == len(self.page.index.labels)
                    and rep.outlier[file_row])

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and self.highlight is not None \
                and index.isValid() and self.row_label(index.row()) == self.highlight:
            return QColor(255, 214, 102, 150)
        fr = self.file_row(index)
        if fr is None or self.page is None:
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            if self.excluded(fr):  # clearly visible, not a faint fade
                return QColor(235, 120, 120, 170)
            if self.is_outlier(fr):
                return QColor(255, 170, 60, 120)
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self._pix.get(fr)
            if pix is None:
                pix = glyph_pixmap(self.page.images[fr], CELL_PX - 6, self.excluded(fr))
                self._pix[fr] = pix
            return pix
        if role == Qt.ItemDataRole.ToolTipRole:
            ix = self.page.index
            label = int(ix.labels[fr])
            state = "EXCLUDED — click to re-include" if self.excluded(fr) else \
                "click to exclude"
            odd = "\nunlike the other faces' glyphs of this class (outlier)" \
                if self.is_outlier(fr) else ""
            return (f"{ix.classes[label]} · {ix.source_names[int(ix.sources[fr])]} · "
                    f"row {fr}{odd}\n{state}")
        if role == Qt.ItemDataRole.DisplayRole and self.excluded(fr):
            return "✕"
        return None


class _ExcludeCommand(QUndoCommand):
    """An exclusion edit on the project's undo stack (Edit → Undo re-includes the glyphs)."""

    def __init__(self, browser: GlyphBrowser, path: Path, rows: np.ndarray, value: bool,
                 text: str) -> None:
        super().__init__(text)
        self.browser, self.path, self.rows, self.value = browser, path, rows, value
        self.before: np.ndarray | None = None
        self.ok = False

    def redo(self) -> None:
        if self.before is None:
            try:
                with GlyphFile(self.path) as gf:
                    self.before = gf.excluded[self.rows].copy()
            except (SiamError, OSError) as exc:
                self.browser._write_failed(exc)
                self.setObsolete(True)  # nothing written: not kept on the stack
                return
        self.ok = self.browser._write_excluded(self.path, self.rows,
                                               np.full(len(self.rows), self.value))
        if not self.ok:
            self.setObsolete(True)

    def undo(self) -> None:
        if self.before is not None:
            self.browser._write_excluded(self.path, self.rows, self.before)


class GlyphBrowser(QWidget):
    """Dataset picker, pager, class search and the clickable grid."""

    exclusionChanged = Signal(str)  # path of the edited file
    outliersReady = Signal(object)  # {source name: share of outlier glyphs} of the shown file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.index: FileIndex | None = None
        self._runner: JobRunner | None = None
        self._want: tuple[str, int] | None = None  # (path, page) requested while loading
        self._select_label: int | None = None
        self.undo_stack: Any = None  # the project's QUndoStack: exclusions become undoable
        self._outlier_runner: JobRunner | None = None
        self._outlier_path: str | None = None

        self.dataset = QComboBox()
        self.dataset.setMinimumContentsLength(12)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.prev_btn = QPushButton("◀")
        self.next_btn = QPushButton("▶")
        for b in (self.prev_btn, self.next_btn):
            b.setFixedWidth(36)
        self.page_spin = QSpinBox()
        self.page_spin.setMinimum(1)
        self.page_spin.setKeyboardTracking(False)
        self.page_label = QLabel("of 1")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find class (e.g. 가 or U+AC00)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._find)
        self.prev_btn.clicked.connect(lambda: self.page_spin.setValue(self.page_spin.value() - 1))
        self.next_btn.clicked.connect(lambda: self.page_spin.setValue(self.page_spin.value() + 1))
        self.page_spin.valueChanged.connect(lambda v: self.show_page(v - 1))

        self.model = GlyphGridModel(self)
        self.view = QTableView()
        self.view.setHorizontalHeader(RotatedHeader(self.view))
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QSize(CELL_PX - 6, CELL_PX - 6))
        for header in (self.view.horizontalHeader(), self.view.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(CELL_PX)
        self.view.horizontalHeader().setMinimumSectionSize(CELL_PX)
        self.view.horizontalHeader().setDefaultSectionSize(CELL_PX)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.view.clicked.connect(self._clicked)
        header = self.view.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._face_menu)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        nav = QHBoxLayout()
        nav.addWidget(QLabel("Dataset"))
        nav.addWidget(self.dataset, 1)
        nav.addWidget(self.prev_btn)
        nav.addWidget(self.page_spin)
        nav.addWidget(self.page_label)
        nav.addWidget(self.next_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(nav)
        lay.addWidget(self.search)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status)
        self._set_enabled(False)

    # -- datasets ----------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.reload()

    def datasets(self) -> list[tuple[str, Path]]:
        if self.project is None:
            return []
        out = [(name, p) for name, p in self.project.dataset_paths().items() if p.exists()]
        known = {p.resolve() for _, p in out}
        data_dir = self.project.root / "data"
        if data_dir.is_dir():
            for p in sorted(data_dir.glob("*.h5")):
                if p.resolve() not in known:
                    out.append((p.stem, p))
        return out

    def reload(self) -> None:
        """Re-list the project's glyph files (after rendering) and re-read the current one."""
        current = self.dataset.currentData()
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for name, path in self.datasets():
            self.dataset.addItem(f"{name} — {path.name}", str(path))
        i = self.dataset.findData(current) if current else -1
        self.dataset.setCurrentIndex(i if i >= 0 else 0)
        self.dataset.blockSignals(False)
        if self.model.highlight is not None and self.dataset.currentData() == current:
            self._select_label = self.model.highlight  # re-rendered: keep the Find highlight
        self.index = None
        if self.dataset.count() == 0:
            self.model.set_page(None)
            self._set_enabled(False)
            self.status.setText("No rendered data yet: press <b>Render datasets</b>.")
            return
        self._dataset_changed()

    def _dataset_changed(self) -> None:
        path = self.dataset.currentData()
        if self.index is not None and path == str(self.index.path) \
                and self.model.highlight is not None:
            self._select_label = self.model.highlight  # re-rendered: keep the Find highlight
        self.model.highlight = None
        if path:
            self.index = None
            self._request(str(path), 0)

    def select_dataset(self, name: str) -> None:
        for i in range(self.dataset.count()):
            if self.dataset.itemText(i).startswith(f"{name} "):
                self.dataset.setCurrentIndex(i)
                return

    # -- paging ------------------------------------------------------------------------------
    def show_page(self, page: int) -> None:
        if self.index is not None:
            self._request(str(self.index.path), page)

    def _request(self, path: str, page: int) -> None:
        if self._runner is not None:
            self._want = (path, page)
            return
        index = self.index if self.index is not None and str(self.index.path) == path else None

        def work() -> GlyphPage:
            ix = index or build_index(Path(path))
            return load_page(ix, page)

        self.status.setText("Loading…")
        self._runner = run_in_thread(work, self, "siam-glyph-page", self._loaded, self._failed)
        self._runner.finished.connect(self._load_done)

    def _loaded(self, page: GlyphPage) -> None:
        self.index = page.index
        self.model.set_page(page)
        ix = page.index
        self.page_spin.blockSignals(True)
        self.page_spin.setMaximum(ix.num_pages)
        self.page_spin.setValue(page.page + 1)
        self.page_spin.blockSignals(False)
        self.page_label.setText(f"of {ix.num_pages}")
        self._set_enabled(True)
        self.prev_btn.setEnabled(page.page > 0)
        self.next_btn.setEnabled(page.page < ix.num_pages - 1)
        self._update_status()
        self._score_outliers(str(ix.path))
        if self._select_label is not None and self._select_label in page.labels:
            row = page.labels.index(self._select_label)
            self.model.highlight = self._select_label
            self.model.headerDataChanged.emit(Qt.Orientation.Vertical, row, row)
            self.model.dataChanged.emit(self.model.index(row, 0),
                                        self.model.index(row, self.model.columnCount() - 1))
            self.view.scrollTo(self.model.index(row, 0),
                               QAbstractItemView.ScrollHint.PositionAtCenter)
            self._select_label = None

    def _failed(self, message: str, details: str) -> None:
        self.model.set_page(None)
        self._set_enabled(False)
        self.dataset.setEnabled(True)
        self.status.setText(f"<b>{message}</b>")

    def _load_done(self) -> None:
        self._runner = None
        if self._want is not None:
            want, self._want = self._want, None
            self._request(*want)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.prev_btn, self.next_btn, self.page_spin, self.search, self.view):
            w.setEnabled(on)
        self.dataset.setEnabled(self.dataset.count() > 0)

    def highlighted(self) -> int | None:
        """The class the search box highlighted (tests)."""
        return self.model.highlight

    def _update_status(self) -> None:
        ix = self.index
        if ix is None:
            return
        n_ex = int(ix.excluded.sum())
        self.status.setText(
            f"{len(ix.labels):,} samples · {len(ix.classes):,} classes · "
            f"{len(ix.source_names)} sources · <b>{n_ex:,} excluded</b>. Click a glyph to "
            "exclude it from training (click again to re-include).")

    # -- search & edit -----------------------------------------------------------------------
    def find_class(self, text: str) -> int | None:
        """Class index for a character, a class string or ``U+XXXX``."""
        if self.index is None:
            return None
        text = text.strip()
        if text.upper().startswith("U+"):
            try:
                text = chr(int(text[2:], 16))
            except ValueError:
                return None
        try:
            return self.index.classes.index(text)
        except ValueError:
            return None

    def _find(self) -> None:
        label = self.find_class(self.search.text())
        if label is None:
            self.status.setText(f"No class “{self.search.text().strip()}” in this file.")
            return
        self._select_label = label
        self.status.setText(f"Found “{self.index.classes[label]}” (class {label}): highlighted.")
        self.page_spin.setValue(label // PAGE_SIZE + 1)
        if self.model.page is not None and label in self.model.page.labels:
            self._loaded(self.model.page)

    def _clicked(self, index: QModelIndex) -> None:
        fr = self.model.file_row(index)
        if fr is not None:
            self.toggle_excluded(fr)

    def toggle_excluded(self, file_row: int) -> bool:
        """Flip one sample's exclusion in the file; returns the new state."""
        if self.index is None or self._runner is not None:
            return False
        value = not bool(self.index.excluded[file_row])
        ix = self.index
        what = f"“{ix.classes[int(ix.labels[file_row])]}” of " \
            f"{short_source(ix.source_names[int(ix.sources[file_row])])}"
        self._edit(np.array([file_row]), value,
                   f"{'Exclude' if value else 'Re-include'} {what}")
        return bool(self.index.excluded[file_row])

    def set_face_excluded(self, source: int, value: bool = True) -> int:
        """Exclude (or re-include) every glyph of one face — a bad face, all at once; one
        undoable edit. Returns how many rows were changed."""
        if self.index is None or self._runner is not None:
            return 0
        ix = self.index
        rows = np.flatnonzero((ix.sources == source) & (ix.excluded != value))
        if not len(rows):
            return 0
        name = short_source(ix.source_names[source])
        self._edit(rows, value, f"{'Exclude' if value else 'Re-include'} face {name} "
                                f"({len(rows):,} glyphs)")
        return len(rows)

    def _edit(self, rows: np.ndarray, value: bool, text: str) -> None:
        path = self.index.path
        if self.undo_stack is not None:
            self.undo_stack.push(_ExcludeCommand(self, path, rows, value, text))
        else:
            self._write_excluded(path, rows, np.full(len(rows), value))

    def _write_excluded(self, path: Path, rows: np.ndarray, values: np.ndarray) -> bool:
        """Write the flags (grouped by value) and show them; False if the file refused."""
        try:
            with GlyphFile(path, "r+") as gf:
                for v in (True, False):
                    sel = rows[values == v]
                    if len(sel):
                        gf.set_excluded(sel.tolist(), v)
        except (SiamError, OSError) as exc:
            self._write_failed(exc)
            return False
        if self.index is not None and self.index.path == path:
            for r, v in zip(rows.tolist(), values.tolist()):
                self.model.set_excluded(int(r), bool(v))
            self._update_status()
        self.exclusionChanged.emit(str(path))
        return True

    def _write_failed(self, exc: Exception) -> None:
        dialogs.error(self, "Cannot change the glyph file",
                      f"{exc}\n\nThe file is unchanged. Is it read-only, or in use by a "
                      "running job?")

    def _face_menu(self, pos: Any) -> None:
        if self.index is None:
            return
        col = self.view.horizontalHeader().logicalIndexAt(pos)
        if col < 0 or col >= len(self.model._columns):
            return
        source = self.model._columns[col][0]
        name = short_source(self.index.source_names[source])
        menu = QMenu(self)
        menu.addAction(f"Exclude every glyph of {name}",
                       lambda: self.set_face_excluded(source, True))
        menu.addAction(f"Re-include every glyph of {name}",
                       lambda: self.set_face_excluded(source, False))
        menu.exec(self.view.horizontalHeader().mapToGlobal(pos))

    # -- outliers ----------------------------------------------------------------------------
    def _score_outliers(self, path: str) -> None:
        """Score the file's glyphs against their class's other faces, once per file version
        (worker thread; files too big to hold are skipped)."""
        key = f"{path}@{self.index.mtime if self.index else 0}"
        if key == self._outlier_path or self._outlier_runner is not None:
            return
        if self.index is not None and len(self.index.labels) > MAX_OUTLIER_SAMPLES:
            return
        self._outlier_path = key
        from siam_workbench.data.outliers import file_outliers

        runner = run_in_thread(lambda: file_outliers(path), self, "siam-outliers",
                               self._outliers_done, lambda m, d: None)
        runner.finished.connect(self._outliers_finished)
        self._outlier_runner = runner

    def _outliers_done(self, report: Any) -> None:
        self.model.outliers = report
        if self.model.page is not None:
            self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0,
                                              max(0, self.model.columnCount() - 1))
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(
                max(0, self.model.rowCount() - 1), max(0, self.model.columnCount() - 1)))
        self.outliersReady.emit({n: float(v) for n, v in
                                 zip(report.source_names, report.source_score)})

    def _outliers_finished(self) -> None:
        self._outlier_runner = None

    def busy(self) -> bool:
        return self._runner is not None or self._outlier_runner is not None
