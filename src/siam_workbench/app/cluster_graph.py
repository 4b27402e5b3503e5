"""The auto-clustering miner's graph: classes placed by a 2-D PCA of their centers, the η closest
center pairs as edges, size = sampling probability.

Readable at 2,350 and 11,172 classes:

* colour only for the :data:`COLORED` largest clusters (a dozen colours recycled over hundreds
  of clusters said nothing); smaller clusters share one muted colour, classes in no cluster are
  light grey;
* the selected class's cluster is outlined and everything else fades;
* zoomed in far enough that at most :data:`LABEL_MAX` nodes are in view, nodes carry their
  glyph text, placed so that no two labels overlap (the largest clusters' labels first; a
  label with no free spot beside its node is left out: :mod:`siam_workbench.app.miners_labels`);
* a search box finds a class, selects it and zooms to it.

Built for speed: nodes are one ``ScatterPlotItem`` whose sizes and colours come from a few
fixed levels (pyqtgraph renders each distinct symbol once), edges are one ``PlotCurveItem``
with ``connect="pairs"``. Above :data:`LARGE` classes only the nodes in clusters of two or more
are drawn (the rest carry no edge), and the view says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QIcon, QPalette
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.miners_labels import GAP, label_priority, place_labels
from siam_workbench.infer.mining_log import cluster_sizes
from siam_workbench.project.runfolder import CENTERS

LARGE = 2500  # above this many classes, draw only the nodes that are in a cluster
COLORED = 10  # the largest clusters that get a colour of their own
LABEL_MAX = 150  # nodes in view at most for glyph labels
SMALL_CLUSTER = "#7F93A8"
FADE_ALPHA = 45
MAX_MEMBERS = 400  # glyphs listed for one cluster
SIZE_LEVELS = np.array([5, 7, 9, 12, 15, 19], dtype=float)
# Okabe–Ito plus a few distinct extras; cluster ids cycle through them, −1 is grey.
CLUSTER_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                  "#F0E442", "#7F3C8D", "#11A579", "#E73F74", "#3969AC", "#80BA5A"]
NO_CLUSTER = "#C4C4C4"


def color_index(clusters: np.ndarray, colored: int = COLORED) -> np.ndarray:
    """Per class: 0…colored-1 for the largest clusters (largest first), ``colored`` for a
    smaller cluster, ``colored + 1`` for a class in no cluster."""
    labels = np.asarray(clusters, dtype=np.int64)
    out = np.full(labels.shape, colored + 1, dtype=np.int64)
    ok = labels >= 0
    if not ok.any():
        return out
    counts = np.bincount(labels[ok])
    ranked = np.argsort(-counts, kind="stable")
    ranked = ranked[counts[ranked] >= 2][:colored]
    slot = np.full(counts.size, colored, dtype=np.int64)
    slot[ranked] = np.arange(ranked.size)
    out[ok] = slot[labels[ok]]
    return out


def size_levels(probabilities: np.ndarray | None, n: int) -> np.ndarray:
    """Node sizes from sampling probabilities, quantised to :data:`SIZE_LEVELS` (few symbols)."""
    if probabilities is None or not np.isfinite(probabilities).any():
        return np.full(n, SIZE_LEVELS[1])
    p = np.nan_to_num(np.asarray(probabilities, dtype=np.float64), nan=0.0)
    top = float(p.max())
    if top <= 0 or np.allclose(p, p[0]):
        return np.full(n, SIZE_LEVELS[1])
    rel = np.sqrt(np.clip(p / top, 0, 1))
    idx = np.minimum((rel * len(SIZE_LEVELS)).astype(int), len(SIZE_LEVELS) - 1)
    return SIZE_LEVELS[idx]


def visible_nodes(clusters: np.ndarray | None, pos: np.ndarray, large: int = LARGE
                  ) -> tuple[np.ndarray, bool]:
    """Indices of the nodes to draw and whether the graph was thinned (large alphabets)."""
    placed = np.isfinite(pos).all(axis=1)
    n = pos.shape[0]
    if n <= large or clusters is None:
        return np.flatnonzero(placed), False
    labels = np.asarray(clusters)
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    big = np.zeros(n, dtype=bool)
    ok = labels >= 0
    big[ok] = counts[labels[ok]] >= 2
    return np.flatnonzero(big & placed), True



def _int_ticks(top: int, most: int = 8) -> list[tuple[float, str]]:
    """Integer ticks 0‥top, at most ``most`` of them (a whole-number step)."""
    step = max(1, -(-max(top, 1) // most))
    return [(float(v), str(v)) for v in range(0, top + step, step)]

class ClusterGraph(QWidget):
    """Graph view + cluster size histogram + the members of the clicked cluster.

    ``set_data`` takes everything for one epoch; ``classClicked(int)`` reports a clicked node.
    """

    classClicked = Signal(int)

    def __init__(self, glyphs: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glyphs = glyphs
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        self._fg = fg
        self.classes: list[str] = []
        self.clusters: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None
        self.mean_distance: np.ndarray | None = None
        self.shown = np.zeros(0, dtype=np.int64)
        self.selected_cluster: int | None = None

        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a class in the graph: 가, A, U+AC00 or a number")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(lambda: self.find(self.search.text()))
        self.plot = pg.PlotWidget(background=bg)
        item = self.plot.getPlotItem()
        item.setTitle("Class centers (PCA) · edges: η closest pairs", color=fg.name(),
                      size="10pt")
        item.hideAxis("left")
        item.hideAxis("bottom")
        self.plot.setAspectLocked(True)
        self.edges_item = pg.PlotCurveItem(connect="pairs",
                                           pen=pg.mkPen(QColor(128, 128, 128, 110), width=1))
        self.nodes = pg.ScatterPlotItem(pxMode=True, hoverable=True, tip=self._tip,
                                        hoverPen=pg.mkPen(fg, width=2))
        self.nodes.sigClicked.connect(self._clicked)
        self.highlight = pg.ScatterPlotItem(pxMode=True, brush=None,
                                            pen=pg.mkPen(fg, width=1.5), size=22)
        self.cluster_ring = pg.ScatterPlotItem(pxMode=True, brush=None,
                                               pen=pg.mkPen(fg, width=1.2), size=12)
        self.plot.addItem(self.edges_item)
        self.plot.addItem(self.nodes)
        self.plot.addItem(self.cluster_ring)
        self.plot.addItem(self.highlight)
        palette = CLUSTER_COLORS[:COLORED] + [SMALL_CLUSTER, NO_CLUSTER]
        self._brushes = np.array([pg.mkBrush(c) for c in palette], dtype=object)
        faded = []
        for c in palette:
            q = QColor(c)
            q.setAlpha(FADE_ALPHA)
            faded.append(pg.mkBrush(q))
        self._faded = np.array(faded, dtype=object)
        self._color_idx = np.zeros(0, dtype=np.int64)
        self._sizes = np.zeros(0)
        self._pos: np.ndarray | None = None
        self.labels: list[pg.TextItem] = []
        self.label_boxes: list[tuple[float, float, float, float]] = []  # view pixels, placed
        self._label_fg = fg
        self._text_sizes: dict[str, tuple[float, float]] = {}
        self._selected_class: int | None = None
        vb = self.plot.getPlotItem().vb
        vb.sigRangeChanged.connect(lambda *_: self._update_labels())
        vb.sigResized.connect(lambda *_: self._update_labels())  # the pixel scale changed

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.message)
        graph_box = QWidget()
        gl = QVBoxLayout(graph_box)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.search)
        gl.addWidget(self.stack, 1)
        gl.addWidget(self.note)

        self.hist = pg.PlotWidget(background=bg)
        hi = self.hist.getPlotItem()
        hi.setTitle("Cluster sizes", color=fg.name(), size="10pt")
        hi.setLabel("bottom", "classes in the cluster", color=fg.name())
        hi.setLabel("left", "clusters", color=fg.name())
        for name in ("left", "bottom"):
            hi.getAxis(name).setPen(pg.mkPen(fg))
            hi.getAxis(name).setTextPen(pg.mkPen(fg))
        self.hist.setMinimumHeight(150)
        self.hist_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=CLUSTER_COLORS[0])
        self.hist.addItem(self.hist_bars)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        self.members_title = QLabel("Click a node to list its cluster.")
        self.members_title.setWordWrap(True)
        # Fixed heights: a title that grows by a line on selection would shift the list.
        line = self.members_title.fontMetrics().lineSpacing()
        for lab in (self.count_label, self.members_title):
            lab.setFixedHeight(2 * line + 6)
            lab.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.members = QListWidget()
        self.members.setViewMode(QListWidget.ViewMode.IconMode)
        self.members.setIconSize(QSize(32, 32))
        self.members.setGridSize(QSize(48, 54))
        self.members.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.members.setMovement(QListWidget.Movement.Static)
        self.members.setUniformItemSizes(True)
        self.members.itemClicked.connect(
            lambda it: self.classClicked.emit(int(it.data(Qt.ItemDataRole.UserRole))))

        side = self.side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.hist, 2)
        sl.addWidget(self.count_label)
        sl.addWidget(self.members_title)
        sl.addWidget(self.members, 3)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(graph_box)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    # -- data --------------------------------------------------------------------------------
    def show_message(self, text: str, side: bool = True) -> None:
        """Replace the graph by an explanation (random negatives, no data …); ``side=False``
        also hides the histogram and member list (a miner that never clusters)."""
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        self.side.setVisible(side)

    def set_data(self, classes: list[str], pos: np.ndarray | None, clusters: np.ndarray | None,
                 probabilities: np.ndarray | None, edges: np.ndarray | None,
                 mean_distance: np.ndarray | None = None, note: str = "") -> None:
        """Draw one epoch. ``pos`` [C,2] (NaN = not placed), ``edges`` [K,2] class pairs."""
        self.classes = classes
        self.clusters = clusters
        self.probabilities = probabilities
        self.mean_distance = mean_distance
        self._update_histogram(clusters)
        if self.selected_cluster is None:
            self._show_largest()
        notes = [note] if note else []
        if pos is None:
            self.nodes.clear()
            self.edges_item.setData([], [])
            self.shown = np.zeros(0, dtype=np.int64)
            self.show_message(f"No class centers ({CENTERS}) for this run, so the classes "
                              "cannot be placed. Cluster sizes and members are on the right.",
                              side=True)
        else:
            self.stack.setCurrentWidget(self.plot)
            self.side.setVisible(True)
            shown, thinned = visible_nodes(clusters, pos)
            self.shown = shown
            sizes = size_levels(probabilities, len(classes))[shown]
            if clusters is not None:
                color_idx = color_index(np.asarray(clusters))[shown]
            else:
                color_idx = np.full(shown.size, COLORED + 1)
            self._color_idx, self._sizes, self._pos = color_idx, sizes, pos
            self.nodes.setData(x=pos[shown, 0], y=pos[shown, 1], size=sizes,
                               brush=list(self._brushes[color_idx]), pen=None, data=shown)
            n_edges = 0
            if edges is not None and len(edges):
                e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
                e = e[(e >= 0).all(1) & (e < len(classes)).all(1)]
                ok = np.isfinite(pos[e[:, 0]]).all(1) & np.isfinite(pos[e[:, 1]]).all(1)
                e = e[ok]
                xy = pos[e.reshape(-1)]
                self.edges_item.setData(xy[:, 0], xy[:, 1])
                n_edges = len(e)
            else:
                self.edges_item.setData([], [])
            if thinned:
                notes.append(f"{len(classes):,} classes: only the {shown.size:,} in clusters of "
                             f"two or more are drawn, with their {n_edges:,} edges.")
            else:
                notes.append(f"{shown.size:,} classes, {n_edges:,} edges.")
            if edges is None:
                notes.append("No edges recorded for this epoch.")
            notes.append(f"Colour: the {COLORED} largest clusters; grey-blue: smaller clusters; "
                         "light grey: in no cluster. Size = sampling probability. Scroll to "
                         "zoom (glyphs appear when few nodes are in view), drag to pan, click "
                         "a node to list its cluster.")
        self.note.setText(" ".join(notes))
        if self.selected_cluster is not None:
            self._show_members(self.selected_cluster, None)
        self._update_highlight()
        self._update_labels()

    def _update_histogram(self, clusters: np.ndarray | None) -> None:
        if clusters is None:
            self.hist_bars.setOpts(x=[], height=[])
            self.count_label.setText("This run's mining log holds no clusters.")
            return
        sizes = cluster_sizes(np.asarray(clusters))
        if sizes.size == 0:
            self.hist_bars.setOpts(x=[], height=[])
            self.count_label.setText("No clusters at this epoch.")
            return
        counts = np.bincount(sizes)
        xs = np.flatnonzero(counts)
        self.hist_bars.setOpts(x=xs, height=counts[xs], width=0.8)
        # Whole numbers on both axes: a cluster of 2.5 classes does not exist.
        hi = self.hist.getPlotItem()
        hi.getAxis("bottom").setTicks([_int_ticks(int(xs.max()))])
        hi.getAxis("left").setTicks([_int_ticks(int(counts.max()))])
        in_clusters = int(sizes.sum())
        self.count_label.setText(
            f"<b>{sizes.size:,} clusters</b> holding {in_clusters:,} of {len(clusters):,} "
            f"classes; largest {int(sizes[0]):,}, median {int(np.median(sizes)):,}.")

    # -- interaction -------------------------------------------------------------------------
    def _tip(self, x: float, y: float, data: Any) -> str:
        i = int(data)
        text = self.classes[i] if 0 <= i < len(self.classes) else str(i)
        parts = [f"{text}  (class {i})"]
        if self.clusters is not None:
            parts.append(f"cluster {int(self.clusters[i])}")
        if self.probabilities is not None:
            parts.append(f"probability {float(self.probabilities[i]):.3g}")
        if self.mean_distance is not None:
            parts.append(f"mean distance {float(self.mean_distance[i]):.3g}")
        return "\n".join(parts)

    def _clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.select_class(int(points[0].data()))

    def select_class(self, index: int) -> None:
        """List the cluster of class ``index`` (or just the class, if it is in none)."""
        cluster = None
        if self.clusters is not None and 0 <= index < len(self.clusters):
            cluster = int(self.clusters[index])
        self.selected_cluster = cluster if cluster is not None and cluster >= 0 else None
        self._show_members(cluster, index)
        self._selected_class = index
        self._update_highlight()
        self.classClicked.emit(index)

    def _show_largest(self) -> None:
        """Before any click the member list is not blank: it lists the largest cluster."""
        c = np.asarray(self.clusters) if self.clusters is not None else np.zeros(0, np.int64)
        c = c[c >= 0]
        if c.size == 0:
            self.members.clear()
            self.members_title.setText("Click a node to list its cluster.")
            return
        self._show_members(int(np.argmax(np.bincount(c))), None)
        self.members_title.setText(self.members_title.text().replace(
            "<b>Cluster", "<b>Largest cluster", 1) + "; click a node for its own")

    def _show_members(self, cluster: int | None, index: int | None) -> None:
        self.members.clear()
        if self.clusters is None or cluster is None or cluster < 0:
            if index is not None and 0 <= index < len(self.classes):
                self.members_title.setText(f"“{self.classes[index]}” is in no cluster at this "
                                           "epoch.")
            return
        members = np.flatnonzero(np.asarray(self.clusters) == cluster)
        if self.probabilities is not None:
            members = members[np.argsort(-np.asarray(self.probabilities)[members],
                                         kind="stable")]
        more = max(0, members.size - MAX_MEMBERS)
        self.members_title.setText(
            f"<b>Cluster {cluster}</b>: {members.size:,} classes"
            + (f" (first {MAX_MEMBERS} shown)" if more else "")
            + " — most sampled first")
        for i in members[:MAX_MEMBERS]:
            text = self.classes[int(i)]
            item = QListWidgetItem(QIcon(self.glyphs.pixmap(text, 32)), text)
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            item.setToolTip(self._tip(0, 0, int(i)))
            self.members.addItem(item)

    def _update_highlight(self) -> None:
        sel = self._selected_class
        pos = self.nodes.getData()
        self._update_cluster_emphasis()
        if sel is None or pos is None or self.shown.size == 0:
            self.highlight.clear()
            return
        where = np.flatnonzero(self.shown == sel)
        if where.size:
            x, y = pos[0][where[0]], pos[1][where[0]]
            self.highlight.setData([x], [y])
        else:
            self.highlight.clear()

    def _update_cluster_emphasis(self) -> None:
        """Outline the selected class's cluster and fade every other node."""
        if self.shown.size == 0 or self._pos is None or self.clusters is None:
            self.cluster_ring.clear()
            return
        cl = np.asarray(self.clusters)[self.shown]
        c = self.selected_cluster
        if c is None:
            self.nodes.setBrush(list(self._brushes[self._color_idx]))
            self.cluster_ring.clear()
            return
        member = cl == c
        brushes = np.where(member, self._brushes[self._color_idx], self._faded[self._color_idx])
        self.nodes.setBrush(list(brushes))
        idx = self.shown[member]
        self.cluster_ring.setData(x=self._pos[idx, 0], y=self._pos[idx, 1],
                                  size=self._sizes[member] + 5)

    def _update_labels(self) -> None:
        """Glyph text beside the nodes once at most LABEL_MAX nodes are in view, placed in view
        pixels so that no two labels overlap (the largest clusters' first)."""
        pos = self._pos
        visible: np.ndarray = np.zeros(0, dtype=np.int64)
        radius: np.ndarray | None = None  # the labelled nodes' radii in pixels
        vb = self.plot.getPlotItem().vb
        (x0, x1), (y0, y1) = vb.viewRange()
        if pos is not None and self.shown.size and self.stack.currentWidget() is self.plot:
            p = pos[self.shown]
            inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
            if int(inside.sum()) <= LABEL_MAX:
                visible = self.shown[inside]
                radius = self._sizes[inside] / 2 if self._sizes.size == inside.size else None
        while len(self.labels) < visible.size:
            t = pg.TextItem(color=self._label_fg, anchor=(0, 0))
            t.setZValue(10)
            self.plot.addItem(t, ignoreBounds=True)
            self.labels.append(t)
        placed: list[tuple[int, float, float]] = []
        self.label_boxes = []
        width, height = float(vb.width()), float(vb.height())
        if visible.size and width > 0 and height > 0 and x1 > x0 and y1 > y0:
            assert pos is not None
            sx, sy = width / (x1 - x0), height / (y1 - y0)
            anchors = np.column_stack([(pos[visible, 0] - x0) * sx, (y1 - pos[visible, 1]) * sy])
            texts = [self._text(int(i)) for i in visible]
            sizes = np.array([self._text_size(t) for t in texts])
            clusters = None if self.clusters is None else np.asarray(self.clusters)[visible]
            probs = None if self.probabilities is None else np.asarray(
                self.probabilities)[visible]
            # A corner spot clears a node's disc at 0.71 × its radius from the centre.
            gap = GAP if radius is None else np.maximum(GAP, 0.71 * radius)
            spots = place_labels(anchors, sizes, self._label_order(visible, clusters, probs),
                                 bounds=(width, height), gap=gap)
            for k, (left, top) in spots.items():
                placed.append((int(visible[k]), x0 + left / sx, y1 - top / sy))
                w, h = sizes[k]
                self.label_boxes.append((left, top, left + w, top + h))
        for k, t in enumerate(self.labels):
            if k < len(placed):
                i, x, y = placed[k]
                t.setText(self._text(i))
                margin = t.textItem.document().documentMargin()
                # The label's text box (inside the item's margin) starts at the placed corner.
                t.setPos(x - margin / sx, y + margin / sy)
                t.show()
            else:
                t.hide()

    def _label_order(self, visible: np.ndarray, clusters: np.ndarray | None,
                     probs: np.ndarray | None) -> np.ndarray:
        """The largest clusters' labels first, but the selected class and then the rest of its
        cluster before them: the class the user looks at keeps its label in a crowd."""
        order = label_priority(clusters, probs, visible.size)
        sel = self._selected_class
        if sel is None or not visible.size:
            return order
        first = visible[order] == sel
        if clusters is not None and self.clusters is not None and 0 <= sel < len(self.clusters):
            mine = clusters[order] == np.asarray(self.clusters)[sel]
        else:
            mine = np.zeros(order.size, dtype=bool)
        rank = np.where(first, 0, np.where(mine, 1, 2))
        return order[np.argsort(rank, kind="stable")]

    def _text(self, index: int) -> str:
        return self.classes[index] if index < len(self.classes) else str(index)

    def _text_size(self, text: str) -> tuple[float, float]:
        """Width and height in pixels of a label's text (without the item's margin)."""
        size = self._text_sizes.get(text)
        if size is None:
            metrics = QFontMetricsF(self.labels[0].textItem.font() if self.labels
                                    else self.font())
            size = (metrics.horizontalAdvance(text) + 1.0, metrics.height())
            self._text_sizes[text] = size
        return size

    def labelled(self) -> int:
        """How many glyph labels are on screen (tests)."""
        return sum(1 for t in self.labels if t.isVisible())

    def find(self, text: str) -> int | None:
        """Select the class named by ``text`` (glyph, ``U+XXXX`` or index) and zoom to it."""
        text = text.strip()
        if not text or not self.classes:
            return None
        index: int | None = None
        if text.upper().startswith("U+"):
            try:
                text = chr(int(text[2:], 16))
            except ValueError:
                return None
        if text in self.classes:
            index = self.classes.index(text)
        elif text.isdigit() and int(text) < len(self.classes):
            index = int(text)
        if index is None:
            self.note.setText(f"No class “{text}” in this run.")
            return None
        self.select_class(index)
        pos = self._pos
        if pos is not None and np.isfinite(pos[index]).all():
            span = np.nanmax(pos, axis=0) - np.nanmin(pos, axis=0)
            half = max(float(span.max()) * 0.04, 1e-6)
            x, y = float(pos[index, 0]), float(pos[index, 1])
            self.plot.getPlotItem().vb.setRange(xRange=(x - half, x + half),
                                                yRange=(y - half, y + half), padding=0)
        return index

    def member_texts(self) -> list[str]:
        return [self.members.item(i).text() for i in range(self.members.count())]
