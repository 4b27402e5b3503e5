"""The Miners tab: what the auto-probabilistic and auto-clustering miners prioritise, live during
training and for any finished run (read back from its ``mining.h5``).

Views (one epoch at a time, chosen with the epoch slider):

* **Probabilities** — the positive miner's per-class sampling probability as a sorted curve of all
  C classes with the uniform 1/C reference, the top-N classes as bars labelled with their glyph,
  and a searchable table (glyph, class, probability, mean distance to its center, cluster, rank
  change). Selecting a class plots its probability over the epochs and shows training samples of
  it beside its nearest classes (nearest by class center).
* **History** — a heat map of probability (or mean distance) over epochs × classes, the classes
  ordered by their final probability.
* **Clusters** — the auto-clustering graph (:mod:`siam_workbench.app.cluster_graph`).

Threading: reading ``mining.h5`` / ``centers.npy`` and the PCA run on a worker thread; live
events (copies, queued from the training thread) are only stored by :meth:`on_trainer_event`;
a 100 ms timer redraws at most 10 times a second, and only the sub-view on screen. Everything
drawn on the GUI thread is O(C) numpy work plus setData on items created once, so 11,172
classes stay responsive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.cluster_graph import ClusterGraph
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.miners.bars import ProbabilityBars
from siam_workbench.app.miners.class_table import ArrowStyle, ClassTableModel
from siam_workbench.app.miners.heatmap import HeatmapPanel
from siam_workbench.app.miners.live import LiveMining, is_uniform, uniform_probability
from siam_workbench.app.miners.neighbors import NeighborStrip
from siam_workbench.app.miners.why import WhyPanel
from siam_workbench.app.miners_model import live_event_kind, miner_help
from siam_workbench.app.plots import COLORS, themed_plot
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread
from siam_workbench.infer.advice import cluster_warning
from siam_workbench.infer.analysis import (
    MiningHistory,
    RunMining,
    class_samples,
    load_run_mining,
    nearest_classes,
    pca_2d,
    read_epoch_edges,
    read_run_config,
    run_miners,
)
from siam_workbench.project.partinfo import params_text
from siam_workbench.project.project import Project, RunInfo

LIVE = "live"
FLUSH_MS = 100  # ≤ 10 redraws per second
TOP_N = 30
SAMPLES_PER_CLASS = 3
_Index = QModelIndex | QPersistentModelIndex


def _fixed_lines(label: QLabel, lines: int) -> None:
    """A label whose text changes on every hover / epoch gets a fixed height: a height that
    follows the text would re-lay out (and repaint) every plot below it each time."""
    label.setFixedHeight(label.fontMetrics().lineSpacing() * lines + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)


def _decade(k: int) -> str:
    """Tick label for 10**k: 0.001 … 1000 written out, smaller / larger as 1e-5."""
    return f"{10.0 ** k:g}" if -4 <= k <= 3 else f"1e{k}"


def _fmt_p(p: float) -> str:
    return "–" if p != p else f"{p:.3g}"


# -- the tab ---------------------------------------------------------------------------------
class MinersTab(QWidget):
    """Miners view for a finished run or the live training.

    Public: ``MinersTab(doc, parent=None)``; slots :meth:`refresh` (re-list runs) and
    :meth:`on_trainer_event` (copied ``siam_workbench.train.events`` objects); :meth:`show_run` /
    :meth:`show_live` choose the source, :meth:`set_epoch` the row. Signal ``loaded(str)`` fires
    after a run's data
    arrived (the source name, or "live") and ``redrawn()`` after each redraw.
    """

    loaded = Signal(str)
    redrawn = Signal()
    neighborsShown = Signal()

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.glyphs = GlyphCache.for_document(doc)
        self.history: MiningHistory | None = None
        self.centers: np.ndarray | None = None
        self.positions: np.ndarray | None = None
        self.source: str | None = None  # LIVE or a run folder path
        self.epoch_index = 0
        self.selected: int | None = None
        self.live: LiveMining | None = None
        self._live_dirty = False
        self._positions_key: Any = None  # which centers self.positions belongs to
        self._placing: Any = None  # key of the PCA running on a worker
        self._follow_live = True
        self._load_tag = 0
        self._loading = False
        self._stale: set[str] = set()
        self._notes: list[str] = []
        self._samples_tag = 0
        self._neighbors_key: Any = None
        self._extras_pending: set[int] = set()
        self._runs: list[RunInfo] = []
        self.redraws = 0

        pal = self.palette()
        self._bg = pal.color(QPalette.ColorRole.Base)
        self._fg = pal.color(QPalette.ColorRole.Text)

        # -- top row --------------------------------------------------------------------------
        self.run_combo = QComboBox()
        self.run_combo.setMinimumContentsLength(34)
        self.run_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setToolTip("A finished run (read from its mining.h5) or the live training")
        self.run_combo.activated.connect(self._run_activated)
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setPageStep(1)
        self.epoch_slider.setToolTip("Browse the epochs (state after each epoch)")
        self.epoch_slider.valueChanged.connect(self.set_epoch)
        self.epoch_label = QLabel("no epoch")
        self.epoch_label.setMinimumWidth(150)
        self.miner_label = QLabel()
        # Long run names must not widen the window (a non-wrapping label's minimum width).
        self.miner_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run:"))
        top.addWidget(self.run_combo)
        top.addSpacing(10)
        top.addWidget(QLabel("Epoch:"))
        top.addWidget(self.epoch_slider, 1)
        top.addWidget(self.epoch_label)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()

        # -- probabilities page ----------------------------------------------------------------
        self.curve_plot = self._plot("Sampling probability of every class, most sampled first",
                                     "class rank", "probability")
        self.curve = self.curve_plot.getPlotItem().plot(pen=pg.mkPen(COLORS[0], width=2),
                                                        name="P(class)")
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.uniform_line = pg.InfiniteLine(angle=0, movable=False,
                                            pen=pg.mkPen(COLORS[5], width=1.5,
                                                         style=Qt.PenStyle.DashLine),
                                            label="uniform 1/C",
                                            labelOpts={"position": 0.85, "color": COLORS[5],
                                                       "anchors": [(1, 1), (1, 1)]})
        self.curve_plot.addItem(self.uniform_line)
        self.hover_marker = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(COLORS[1]), pen=None)
        self.curve_plot.addItem(self.hover_marker)
        self.curve_plot.scene().sigMouseMoved.connect(self._curve_hover)
        self.log_check = QCheckBox("log scale")
        self.log_check.setChecked(True)
        self.log_check.toggled.connect(self._log_toggled)
        self.curve_plot.setLogMode(y=True)
        self.hover_label = QLabel("Hover the curve or a bar for a class's details.")
        self.hover_label.setWordWrap(True)
        _fixed_lines(self.hover_label, 2)
        self.bars = ProbabilityBars(self.glyphs)
        self.bars.classClicked.connect(self.select_class)
        self.top_spin = QSpinBox()
        self.top_spin.setRange(5, 80)
        self.top_spin.setValue(TOP_N)
        self.top_spin.setPrefix("top ")
        self.top_spin.valueChanged.connect(lambda _v: self._redraw_probabilities())
        self.prob_plots = QWidget()
        pl = QVBoxLayout(self.prob_plots)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.hover_label, 1)
        self.series_combo = QComboBox()
        self.series_combo.addItem("probability", "probabilities")
        self.series_combo.setToolTip("The per-class series to plot: the positive miner's "
                                     "probability, or a series a miner plug-in records "
                                     "(mining.h5 /extra/<name>)")
        self.series_combo.currentIndexChanged.connect(lambda _i: self._series_changed())
        row.addWidget(self.series_combo)
        row.addWidget(self.log_check)
        row.addWidget(self.top_spin)
        pl.addWidget(self.curve_plot, 3)
        pl.addLayout(row)
        pl.addWidget(self.bars, 2)
        self.prob_message = QLabel()
        self.prob_message.setWordWrap(True)
        self.prob_message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prob_stack = QStackedWidget()
        self.prob_stack.addWidget(self.prob_plots)
        self.prob_stack.addWidget(self.prob_message)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Find class: 가, A, U+AC00 or a class number")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.table_model = ClassTableModel(self.glyphs, self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(ClassTableModel.COL_P,
                                                       Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(ClassTableModel.GLYPH_PX + 4)
        self.table.setIconSize(QSize(ClassTableModel.GLYPH_PX, ClassTableModel.GLYPH_PX))
        hh = self.table.horizontalHeader()
        self._arrow_style = ArrowStyle(hh.style().name())
        hh.setStyle(self._arrow_style)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(False)
        for col, w in enumerate((36, 50, 50, 90, 72, 78, 56, 58)):
            self.table.setColumnWidth(col, w)
        hh.setSectionResizeMode(ClassTableModel.COL_CLASS, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._table_row)
        self.history_plot = self._plot("Probability of the selected class over the epochs",
                                       "epoch", "probability")
        self.history_plot.setMinimumHeight(120)
        self.history_curve = self.history_plot.getPlotItem().plot(
            pen=pg.mkPen(COLORS[0], width=2), symbol="o", symbolSize=5,
            symbolBrush=COLORS[0])
        self.history_uniform = self.history_plot.getPlotItem().plot(
            pen=pg.mkPen(COLORS[5], width=1.2, style=Qt.PenStyle.DashLine))
        self.history_marker = pg.InfiniteLine(angle=90, movable=False,
                                              pen=pg.mkPen(self._fg, width=1,
                                                           style=Qt.PenStyle.DotLine))
        self.history_plot.addItem(self.history_marker)
        self.neighbors = NeighborStrip(self.glyphs)
        self.detail_title = QLabel("Select a class in the table (or click a bar).")
        self.detail_title.setWordWrap(True)
        _fixed_lines(self.detail_title, 2)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.search)
        rl.addWidget(self.table, 3)
        rl.addWidget(self.detail_title)
        rl.addWidget(self.history_plot, 2)
        rl.addWidget(self.neighbors)
        prob_page = QSplitter(Qt.Orientation.Horizontal)
        prob_page.addWidget(self.prob_stack)
        prob_page.addWidget(right)
        prob_page.setStretchFactor(0, 5)
        prob_page.setStretchFactor(1, 4)
        prob_page.setSizes([520, 520])

        # -- history page ----------------------------------------------------------------------
        self.heatmap = HeatmapPanel(self._fg, self._bg)
        heat_page = self.heatmap
        # The page's widgets, as tests and screenshots know them.
        self.heat_plot, self.heat_stack = self.heatmap.heat_plot, self.heatmap.heat_stack
        self.heat_kind, self.heat_image = self.heatmap.heat_kind, self.heatmap.heat_image
        self.heat_message = self.heatmap.heat_message

        # -- clusters page ---------------------------------------------------------------------
        self.graph = ClusterGraph(self.glyphs)
        self.graph.classClicked.connect(self._graph_class)

        self.why = WhyPanel(self.glyphs, self._fg, self._bg)
        self.why.classClicked.connect(self.select_class)

        self.views = QTabWidget()
        self.views.addTab(prob_page, "Probabilities")
        self.views.addTab(heat_page, "History")
        self.views.addTab(self.graph, "Clusters")
        self.views.addTab(self.why, "Why")
        self.views.setTabToolTip(3, "Does the miner push the classes the network gets wrong? "
                                    "Probability vs. validation error per class, the formulas")
        self.views.currentChanged.connect(lambda _i: self._redraw_current())

        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setTextFormat(Qt.TextFormat.RichText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.views)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.miner_label)
        lay.addWidget(self.banner)
        lay.addWidget(self.stack, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush_live)
        self.glyphs.ready.connect(self._glyphs_ready)
        doc.projectChanged.connect(self._project_changed)
        self._project_changed()

    def _plot(self, title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
        return themed_plot(title, xlabel, ylabel, self._fg, self._bg, min_height=140,
                           si_prefix=False)

    # -- project & runs ----------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    def _project_changed(self) -> None:
        self._load_tag += 1
        self.live = None
        self._timer.stop()
        self.history = None
        self.source = None
        self.selected = None
        self._follow_live = True
        self._reload(choose_default=True)

    def refresh(self) -> None:
        """Re-read the project's runs (one appeared or finished); keeps the current choice."""
        self._reload(False)

    def _reload(self, choose_default: bool) -> None:
        p = self.project
        try:
            self._runs = p.runs() if p is not None else []
        except OSError:
            self._runs = []
        current = self.source
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        live_text = "live (training)" if self.live is not None and not self.live.finished \
            else "live (no training running)" if self.live is None \
            else f"live ({self.live.finished})"
        self.run_combo.addItem(live_text, LIVE)
        for r in reversed(self._runs):
            has = (r.path / "mining.h5").exists()
            self.run_combo.addItem(f"{r.id} — {r.status}, {r.epoch}/{r.epochs} epochs"
                                   + ("" if has else " (no mining log)"), str(r.path))
        self.run_combo.blockSignals(False)
        if choose_default or current is None:
            with_mining = [r for r in self._runs if (r.path / "mining.h5").exists()]
            if self.live is not None and self._follow_live:
                self.show_live()
            elif with_mining:
                self.show_run(with_mining[-1].path)
            else:
                self.show_live()
        else:
            idx = self.run_combo.findData(current)
            self.run_combo.setCurrentIndex(max(idx, 0))
            if current != LIVE and self.history is not None and self._loading is False:
                # A run that was still being written may have grown: reload it.
                info = next((r for r in self._runs if str(r.path) == current), None)
                if info is not None and info.epoch != self.history.num_epochs:
                    self.show_run(Path(current))

    def _run_activated(self, index: int) -> None:
        data = self.run_combo.itemData(index)
        if data == LIVE:
            self._follow_live = True
            self.show_live()
        elif data:
            self._follow_live = False
            self.show_run(Path(data))

    def show_run(self, run_dir: Path) -> None:
        """Show a run's mining.h5 (read on a worker thread)."""
        run_dir = Path(run_dir)
        self.source = str(run_dir)
        idx = self.run_combo.findData(str(run_dir))
        if idx >= 0:
            self.run_combo.setCurrentIndex(idx)
        self._load_tag += 1
        tag = self._load_tag
        self._loading = True
        self._set_banner("")
        self.miner_label.setText(f"Reading {run_dir.name}/mining.h5 …")
        runner = run_in_thread(lambda: (tag, load_run_mining(run_dir)), self, "siam-mining-read",
                               self._run_loaded,
                               lambda m, d: self._run_failed(tag, run_dir, m))
        runner.finished.connect(self._load_finished)

    def _load_finished(self) -> None:
        self._loading = False

    def _run_loaded(self, result: tuple[int, RunMining]) -> None:
        tag, loaded = result
        if tag != self._load_tag:
            return
        self.history = loaded.history
        self.centers = loaded.centers
        self.positions = None
        self._positions_key = None
        self._notes = loaded.notes
        self.run_config = loaded.config
        self._data_changed(to_last=True)
        self.loaded.emit(loaded.path.name)

    def _run_failed(self, tag: int, run_dir: Path, message: str) -> None:
        if tag != self._load_tag:
            return
        self.history = None
        self.centers = self.positions = None
        self.miner_label.setText("")
        self._show_empty(f"<h3>{run_dir.name}</h3><p>{message}</p><p>Choose another run, or "
                         "<i>live</i> to follow the training.</p>")
        self._set_banner("")
        self.loaded.emit("")

    def show_live(self) -> None:
        """Follow the running training (its EpochFinished events)."""
        self.source = LIVE
        self._load_tag += 1
        idx = self.run_combo.findData(LIVE)
        if idx >= 0:
            self.run_combo.setCurrentIndex(idx)
        self._set_banner("")
        history = self.live.history() if self.live is not None else None
        self.history = history
        self.centers = self.live.centers if self.live is not None else None
        self.positions = None
        self._positions_key = None
        self._notes = []
        if history is None:
            self.miner_label.setText("")
            if self.project is None:
                self._show_empty("<h3>Miners</h3><p>Open a project to see what its miners "
                                 "prioritise.</p>")
            elif self.live is not None:
                self._show_empty("<h3>Training is running</h3><p>The miners' state appears here "
                                 "after the first epoch ends.</p>")
            else:
                self._show_empty(
                    "<h3>Nothing to show yet</h3><p>No run of this project has a mining log "
                    "(<code>runs/&lt;id&gt;/mining.h5</code>), and no training is running.</p>"
                    "<p>Start a run in the <b>Train</b> tab: after every epoch this tab shows "
                    "the per-class sampling probabilities, their history and the cluster "
                    "graph — live.</p>")
            self.loaded.emit(LIVE)
            return
        self._data_changed(to_last=True)
        self.loaded.emit(LIVE)

    # -- live events -------------------------------------------------------------------------
    def on_trainer_event(self, event: Any) -> None:
        """Slot for copied trainer events (queued from the training thread); cheap: it only
        stores, the 100 ms timer redraws."""
        kind = live_event_kind(event)
        if kind is None:
            return
        if kind == "started":
            self.live = LiveMining(classes=list(getattr(event, "classes", []) or []),
                                   run_dir=Path(event.run_dir))
            self._read_live_config(self.live)
            self._extras_pending.clear()
            self.refresh()
            if self._follow_live:
                self.show_live()
        elif kind == "epoch":
            if self.live is None:
                self.live = LiveMining(classes=[])
            self.live.add(event)
            self._live_dirty = True
            if self.live.run_dir is not None:
                self._request_extras(self.live.run_dir, int(event.epoch))
        else:  # the run ended: "finished", "stopped" or "failed"
            if self.live is not None:
                self.live.finished = kind
            self._live_dirty = True
            QTimer.singleShot(0, self.refresh)
        if self._live_dirty and not self._timer.isActive():
            self._timer.start()

    def _read_live_config(self, live: LiveMining) -> None:
        if live.run_dir is None:
            return
        live.positive, live.negative = run_miners(live.run_dir)
        live.config = read_run_config(live.run_dir)
        if live.positive == "unknown" and self.project is not None:
            live.positive = self.project.config.mining.positive
            live.negative = self.project.config.mining.negative

    def _request_extras(self, run_dir: Path, epoch: int) -> None:
        if epoch in self._extras_pending:
            return
        self._extras_pending.add(epoch)
        live = self.live
        run_in_thread(lambda: (epoch, *read_epoch_edges(run_dir, epoch)), self,
                      "siam-mining-edges",
                      lambda r: self._extras_read(live, r),
                      lambda m, d: self._extras_pending.discard(epoch))

    def _extras_read(self, live: LiveMining | None,
                     result: tuple[int, np.ndarray | None, str, str, dict[str, np.ndarray]]
                     ) -> None:
        epoch, edges, pos, neg, extra = result
        self._extras_pending.discard(epoch)
        if live is None or live is not self.live:
            return
        if edges is not None:
            live.edges[epoch] = edges
        if pos != "unknown":
            live.positive = pos
        if neg != "unknown":
            live.negative = neg
        live.extra = extra
        self._live_dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def _flush_live(self) -> None:
        if not self._live_dirty:
            self._timer.stop()
            return
        self._live_dirty = False
        if self.source != LIVE or self.live is None:
            return
        follow = self.history is None or self.epoch_index >= self.history.num_epochs - 1
        self.history = self.live.history()
        self.centers = self.live.centers
        if self.history is None:
            return
        self._data_changed(to_last=follow)

    def _centers_key(self) -> Any:
        if self.centers is None:
            return None
        if self.source == LIVE:
            return (LIVE, id(self.live), self.history.num_epochs if self.history else 0)
        return (self.source, self.centers.shape)

    def _ensure_positions(self) -> bool:
        """True if ``self.positions`` matches the current centers; otherwise start the PCA on a
        worker (an SVD of 11,172 × D; multi-threaded BLAS on a busy machine takes long enough
        to matter) and redraw the graph when it arrives."""
        key = self._centers_key()
        if key is None:
            return False
        if self._positions_key == key and self.positions is not None:
            return True
        if self._placing == key:
            return False
        self._placing = key
        centers = self.centers

        def done(result: tuple[Any, np.ndarray]) -> None:
            k, positions = result
            if self._placing == k:
                self._placing = None
            if k == self._centers_key():
                self.positions, self._positions_key = positions, k
                self._stale.add("clusters")
                self._redraw_current()

        def failed(message: str, _details: str) -> None:
            self._placing = None
            self.graph.show_message(f"Cannot place the classes: {message}")

        run_in_thread(lambda: (key, pca_2d(centers)), self, "siam-pca", done, failed)
        return False

    # -- data → views ------------------------------------------------------------------------
    def _show_empty(self, html: str) -> None:
        self.empty.setText(html)
        self.stack.setCurrentWidget(self.empty)
        self.run_combo.setEnabled(self.project is not None)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setEnabled(False)
        self.epoch_label.setText("no epoch")

    def _set_banner(self, text: str, error: bool = False) -> None:
        self.banner.setText(text)
        set_role(self.banner, "banner-error" if error else "banner")
        self.banner.setVisible(bool(text))

    def _data_changed(self, to_last: bool) -> None:
        h = self.history
        if h is None:
            return
        if h.num_epochs == 0:
            self._show_empty("<h3>No epoch yet</h3><p>The mining log is empty: the run has not "
                             "finished an epoch.</p>")
            return
        self.stack.setCurrentWidget(self.views)
        self.run_combo.setEnabled(True)
        src = "live training" if self.source == LIVE else Path(self.source or "").name
        self.miner_label.setText(
            f"<b>{src}</b> · positive miner <b>{h.positive}</b> · negative miner "
            f"<b>{h.negative}</b> · {len(h.classes):,} classes · {h.num_epochs} epoch(s)"
            + self._params_text())
        note = self.glyphs.note
        self.miner_label.setToolTip("<br>".join(
            [note[:1].upper() + note[1:], *miner_help(h.positive, h.negative)]))
        missing = [m for m in h.missing if m != "epoch"]
        if not h.edges and h.negative == "auto-clustering" and self.source != LIVE:
            missing.append("edges")  # read_mining leaves edges empty when the group is absent
        notes = [n for n in self._notes if self.source != LIVE]
        parts = []
        if missing:
            parts.append("This run's mining.h5 has no " + ", ".join(f"/{m}" for m in missing)
                         + " (an older run?): the views that need it say so, the rest is shown.")
        if notes:
            text = "; ".join(notes)
            parts.append(text[0].upper() + text[1:] + (
                ": the cluster graph cannot place the classes." if self.centers is None
                else "."))
        self._set_banner(" ".join(parts))
        last = h.num_epochs - 1
        self.epoch_slider.blockSignals(True)
        self.epoch_slider.setEnabled(h.num_epochs > 1)
        self.epoch_slider.setRange(0, last)
        if to_last or self.epoch_index > last:
            self.epoch_index = last
        self.epoch_slider.setValue(self.epoch_index)
        self.epoch_slider.blockSignals(False)
        if self.selected is not None and self.selected >= len(h.classes):
            self.selected = None
        self._mark_all_stale()
        self._redraw_current()

    def _params_text(self) -> str:
        """The miners' parameters of the run shown ("γ 2, w 0; θ 0.5, η 27 (auto)"), as each
        miner declares and shows them (a plug-in's included)."""
        cfg = self.live.config if self.source == LIVE and self.live is not None \
            else getattr(self, "run_config", None)
        h = self.history
        if cfg is None or h is None:
            return ""
        return params_text(cfg, h.positive, h.negative, len(h.classes))

    def set_epoch(self, index: int) -> None:
        """Show row ``index`` of the mining history (the state after that epoch)."""
        if self.history is None:
            return
        index = int(np.clip(index, 0, max(self.history.num_epochs - 1, 0)))
        self.epoch_index = index
        if self.epoch_slider.value() != index:
            self.epoch_slider.blockSignals(True)
            self.epoch_slider.setValue(index)
            self.epoch_slider.blockSignals(False)
        self._mark_all_stale()
        self._redraw_current()

    def _mark_all_stale(self) -> None:
        self._stale = {"probabilities", "history", "clusters", "why"}

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._redraw_current()

    def _redraw_current(self) -> None:
        if self.history is None or not self._stale:
            return
        if not self.isVisible():
            return  # redrawn when shown
        page = ("probabilities", "history", "clusters", "why")[self.views.currentIndex()]
        if page not in self._stale:
            return
        self._stale.discard(page)
        h = self.history
        e = self.epoch_index
        epoch_no = int(h.epochs[e]) + 1 if e < len(h.epochs) else e + 1
        self.epoch_label.setText(f"after epoch {epoch_no} ({e + 1}/{h.num_epochs})")
        if page == "probabilities":
            self._redraw_probabilities()
        elif page == "history":
            self._redraw_heatmap()
        elif page == "why":
            self._redraw_why()
        else:
            self._redraw_clusters()
        self.redraws += 1
        self.redrawn.emit()

    def _glyphs_ready(self) -> None:
        self._mark_all_stale()
        self.table_model.layoutChanged.emit()
        if self.history is not None:
            self._data_changed(to_last=False)

    # -- per-class details -------------------------------------------------------------------
    def _row(self, name: str) -> np.ndarray | None:
        h = self.history
        arr = getattr(h, name) if h is not None else None
        if arr is None or self.epoch_index >= arr.shape[0]:
            return None
        return arr[self.epoch_index]

    def class_details(self, index: int) -> str:
        """Tooltip text for class ``index`` at the current epoch."""
        h = self.history
        if h is None or not 0 <= index < len(h.classes):
            return ""
        p, d, c = self._row("probabilities"), self._row("mean_distance"), self._row("clusters")
        delta = int(self._rank_change()[index])
        lines = [f"{h.classes[index]}  (class {index})"]
        if p is not None:
            u = uniform_probability(p, d)
            lines.append(f"probability {_fmt_p(float(p[index]))} ({float(p[index]) / u:.2f}× "
                         "uniform)")
        if d is not None:
            lines.append(f"mean distance to its center {_fmt_p(float(d[index]))}")
        if c is not None and int(c[index]) >= 0:
            lines.append(f"cluster {int(c[index])}")
        if self.epoch_index > 0 and p is not None:
            lines.append("rank change since the last epoch: "
                         + (f"+{delta}" if delta > 0 else str(delta)))
        return "\n".join(lines)

    def _rank_change(self) -> np.ndarray:
        h = self.history
        key = (id(h), self.epoch_index)
        if getattr(self, "_rank_key", None) != key:
            self._rank_cache = h.rank_change(self.epoch_index) if h is not None else np.zeros(0)
            self._rank_key = key
        return self._rank_cache

    # -- probabilities -----------------------------------------------------------------------
    def _series_changed(self) -> None:
        self._stale.add("probabilities")
        self._redraw_current()

    def _sync_series(self, h: MiningHistory) -> None:
        want = ["probabilities", *sorted(h.extra)]
        have = [self.series_combo.itemData(i) for i in range(self.series_combo.count())]
        if want != have:
            current = self.series_combo.currentData()
            self.series_combo.blockSignals(True)
            self.series_combo.clear()
            for name in want:
                self.series_combo.addItem("probability" if name == "probabilities"
                                          else f"{name} (plug-in)", name)
            self.series_combo.setCurrentIndex(max(0, self.series_combo.findData(current)))
            self.series_combo.blockSignals(False)
        self.series_combo.setVisible(len(want) > 1)

    def _redraw_probabilities(self) -> None:
        h = self.history
        if h is None:
            return
        self._sync_series(h)
        series = self.series_combo.currentData() or "probabilities"
        if series != "probabilities" and h.series(series) is not None:
            self._redraw_extra_series(h, series)
            return
        if getattr(self, "_showing_extra", False) or series != "probabilities":
            self.curve_plot.getPlotItem().setTitle(
                "Sampling probability of every class, most sampled first",
                color=self._fg.name(), size="10pt")
            self.uniform_line.label.setFormat("uniform 1/C")
            self.curve_plot.setLogMode(y=self.log_check.isChecked())
            self._curve_range = None
        self._showing_extra = False
        p = self._row("probabilities")
        d = self._row("mean_distance")
        c = self._row("clusters")
        delta = self._rank_change()
        self.table_model.set_epoch(h.classes, p, d, c, delta)
        if p is None:
            self.prob_message.setText("This run's mining.h5 holds no sampling probabilities "
                                      "(/probabilities is missing). The table still lists the "
                                      "mean distances and clusters.")
            self.prob_stack.setCurrentWidget(self.prob_message)
        elif h.positive == "random" or is_uniform(p):
            present = int(np.count_nonzero(p > 0))
            why = ("The positive miner of this run is <b>random</b>" if h.positive == "random"
                   else "At this epoch the positive miner's distribution is flat")
            self.prob_message.setText(
                f"<p>{why}: every class with samples is drawn with the same probability "
                f"1/C = 1/{present:,} = {1 / max(present, 1):.3g} — the distribution is "
                "<b>uniform</b>, so there is nothing to prioritise and no curve to show.</p>"
                "<p>The table on the right still lists each class's mean distance to its "
                "center (what the auto-probabilistic miner would weight).</p>")
            self.prob_stack.setCurrentWidget(self.prob_message)
        else:
            self.prob_stack.setCurrentWidget(self.prob_plots)
            order = np.argsort(-p, kind="stable")
            self._curve_order = order
            ys = p[order]
            if self.log_check.isChecked():
                ys = np.maximum(ys, max(float(ys[ys > 0].min()) if (ys > 0).any() else 1e-12,
                                        1e-12) * 0.5)
            self.curve.setData(np.arange(len(p)), ys)
            self._curve_values = ys
            u = uniform_probability(p, d)
            log = self.log_check.isChecked()
            self.uniform_line.setPos(np.log10(u) if log else u)
            self._set_curve_range(len(p), ys, u, log)
            self.hover_marker.clear()
            self.bars.selected = self.selected
            self.bars.set_data(h.classes, p, self.top_spin.value(), u, self.class_details)
        # The selected class's plots next, after this pass has painted: two short GUI-thread
        # chunks instead of one long one when 11,172 classes update live.
        self._selection_tag = getattr(self, "_selection_tag", 0) + 1
        tag = self._selection_tag
        QTimer.singleShot(0, lambda: self._update_selection_views()
                          if tag == self._selection_tag else None)

    def _redraw_extra_series(self, h: MiningHistory, name: str) -> None:
        """A plug-in miner's per-class series at this epoch, sorted, in the curve and bars."""
        self._showing_extra = True
        arr = h.series(name)
        assert arr is not None
        v = np.asarray(arr[min(self.epoch_index, arr.shape[0] - 1)], dtype=np.float64)
        self.table_model.set_epoch(h.classes, self._row("probabilities"),
                                   self._row("mean_distance"), self._row("clusters"),
                                   self._rank_change())
        self.prob_stack.setCurrentWidget(self.prob_plots)
        order = np.argsort(-np.nan_to_num(v, nan=-np.inf), kind="stable")
        self._curve_order = order
        ys = v[order]
        log = self.log_check.isChecked() and bool((ys > 0).all())
        self.curve_plot.setLogMode(y=log)
        self.curve.setData(np.arange(len(v)), ys)
        self._curve_values = ys
        mean = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0
        self.uniform_line.setPos(np.log10(mean) if log and mean > 0 else mean)
        self.uniform_line.label.setFormat("mean")
        self.curve_plot.getPlotItem().setTitle(f"{name} of every class, largest first "
                                               "(miner plug-in series)", color=self._fg.name(),
                                               size="10pt")
        self.curve_plot.getPlotItem().vb.enableAutoRange()
        self.bars.set_data(h.classes, np.nan_to_num(v, nan=0.0), self.top_spin.value(), mean,
                           self.class_details)

    def _set_curve_range(self, n: int, ys: np.ndarray, uniform: float, log: bool) -> None:
        """Explicit, rounded ranges (whole decades on the log axis): between epochs they rarely
        change, so pyqtgraph keeps its axis pictures instead of re-laying out every tick label
        on each live update."""
        vb = self.curve_plot.getPlotItem().vb
        vb.disableAutoRange()
        hi_v = max(float(ys.max()), uniform)
        if log:
            lo_v = min(float(ys[ys > 0].min()) if (ys > 0).any() else uniform, uniform)
            y0, y1 = np.floor(np.log10(lo_v)), np.ceil(np.log10(hi_v))
            if y1 <= y0:
                y1 = y0 + 1
        else:
            y0, y1 = 0.0, float(np.ceil(hi_v * 1.05 / 10 ** np.floor(np.log10(hi_v)))
                                * 10 ** np.floor(np.log10(hi_v)))
        key = (n, float(y0), float(y1), log)
        if getattr(self, "_curve_range", None) != key:
            self._curve_range = key
            vb.setRange(xRange=(0, max(n - 1, 1)), yRange=(y0, y1), padding=0.02)
            # On the log axis label the decades only (pyqtgraph's minor labels pile up).
            axis = self.curve_plot.getPlotItem().getAxis("left")
            axis.setTicks([[(float(k), _decade(int(k))) for k in np.arange(y0, y1 + 1)],
                           [(float(k + np.log10(m)), "") for k in np.arange(y0, y1)
                            for m in range(2, 10)]] if log else None)

    def _log_toggled(self, on: bool) -> None:
        self.curve_plot.setLogMode(y=on)
        self._stale.add("probabilities")
        self._redraw_current()

    def _curve_hover(self, pos: Any) -> None:
        h = self.history
        order = getattr(self, "_curve_order", None)
        if h is None or order is None or self.prob_stack.currentWidget() is not self.prob_plots:
            return
        vb = self.curve_plot.getPlotItem().vb
        if not self.curve_plot.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        rank = int(round(x))
        if not 0 <= rank < len(order):
            self.hover_marker.clear()
            return
        idx = int(order[rank])
        ys = getattr(self, "_curve_values", None)
        if ys is not None and rank < len(ys):
            y = float(ys[rank])  # the marker is in view coordinates: log10 on a log axis
            self.hover_marker.setData([rank], [np.log10(y) if self.log_check.isChecked() else y])
        text = self.class_details(idx)
        self.hover_label.setText(f"rank {rank + 1}: " + text.replace("\n", " · "))
        view = self.curve_plot.mapFromScene(pos)
        QToolTip.showText(self.curve_plot.mapToGlobal(view), text, self.curve_plot)

    def _search(self, text: str) -> None:
        self.table_model.set_filter(text)
        if self.table_model.rowCount() == 1:
            self.table.selectRow(0)

    def _table_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            idx = self.table_model.class_at(current.row())
            if idx != self.selected:
                self.select_class(idx)

    def _graph_class(self, index: int) -> None:
        if index != self.selected:
            self.selected = index
            self._update_selection_views(from_graph=True)

    def select_class(self, index: int) -> None:
        """Select class ``index``: history plot, nearest classes with samples, highlights."""
        h = self.history
        if h is None or not 0 <= index < len(h.classes):
            return
        self.selected = index
        row = self.table_model.row_of(index)
        if row is not None:
            cur = self.table.currentIndex()
            if not cur.isValid() or cur.row() != row:
                self.table.selectionModel().blockSignals(True)
                self.table.selectRow(row)
                self.table.selectionModel().blockSignals(False)
                self.table.scrollTo(self.table_model.index(row, 0))
        self.bars.selected = index
        self.bars.update()
        self.why.select_class(index)
        self._update_selection_views()

    def _update_selection_views(self, from_graph: bool = False) -> None:
        h = self.history
        i = self.selected
        if h is None or i is None:
            self.history_curve.setData([], [])
            self.history_uniform.setData([], [])
            # Keep the empty plot's axes meaningful (the run's epochs) instead of pyqtgraph's
            # default ±500 range around the marker.
            last = float(h.num_epochs) if h is not None and h.num_epochs else 1.0
            self.history_plot.setXRange(0.8, last + 0.2, padding=0)
            self.history_plot.setYRange(0, 1, padding=0)
            self.history_marker.setPos(last)
            return
        self.detail_title.setText(f"<b>{h.classes[i]}</b> — " +
                                  self.class_details(i).split("\n", 1)[-1].replace("\n", " · "))
        x = h.epochs.astype(float) + 1
        if h.probabilities is not None:
            y = h.probabilities[:, i]
            self.history_curve.setData(x, y)
            dists = h.mean_distance if h.mean_distance is not None else [None] * len(x)
            u = np.array([uniform_probability(r, d) for r, d in zip(h.probabilities, dists)])
            self.history_uniform.setData(x, u)
            top = float(np.nanmax(np.concatenate([y, u]))) if len(y) else 1.0
            self.history_plot.setYRange(0, top * 1.15 if top > 0 else 1.0, padding=0)
            self.history_plot.setXRange(float(x[0]) - 0.2, float(x[-1]) + 0.2, padding=0)
        else:
            self.history_curve.setData([], [])
            self.history_uniform.setData([], [])
        if self.epoch_index < len(x):
            self.history_marker.setPos(x[self.epoch_index])
        self.history_plot.getPlotItem().getAxis("bottom").setTicks(
            [[(float(v), str(int(v))) for v in x]] if len(x) <= 30 else None)
        self._update_neighbors(i)
        if not from_graph and self.graph.clusters is not None:
            if self.views.currentWidget() is self.graph and "clusters" not in self._stale:
                self.graph.select_class(i)
            else:
                self._stale.add("clusters")  # the member list is rebuilt when it is shown

    def _update_neighbors(self, index: int) -> None:
        """Show the class now; its nearest classes and the samples arrive from a worker."""
        h = self.history
        assert h is not None
        p = self.project
        train = p.dataset_paths()["train"] if p is not None else None
        key = (index, id(self.centers), str(train), id(h.classes))
        if key == self._neighbors_key:
            return  # same class, same centers (e.g. another epoch of a finished run)
        self._neighbors_key = key
        self.neighbors.set_entries([(index, h.classes[index], 0.0)],
                                   "" if self.centers is not None else
                                   "No class centers for this run (centers.npy), so no "
                                   "nearest classes.")
        self._samples_tag += 1
        tag = self._samples_tag
        centers, classes = self.centers, h.classes

        def work() -> tuple[int, list[tuple[int, str, float]], dict[str, list[np.ndarray]]]:
            near = nearest_classes(centers, index) if centers is not None else []
            entries = [(index, classes[index], 0.0)] + [(j, classes[j], d) for j, d in near]
            samples: dict[str, list[np.ndarray]] = {}
            if train is not None and train.exists():
                samples = class_samples(train, [t for _i, t, _d in entries], SAMPLES_PER_CLASS)
            return tag, entries, samples

        run_in_thread(work, self, "siam-neighbors", self._samples_read, lambda m, d: None)

    def _samples_read(self, result: tuple[int, list[tuple[int, str, float]],
                                          dict[str, list[np.ndarray]]]) -> None:
        tag, entries, samples = result
        if tag == self._samples_tag:
            self.neighbors.set_entries(entries)
            self.neighbors.set_samples(samples)
            self.neighborsShown.emit()

    # -- why ---------------------------------------------------------------------------------
    def _redraw_why(self) -> None:
        h = self.history
        if h is None:
            return
        if self.source == LIVE:
            run_dir = self.live.run_dir if self.live is not None else None
            config = self.live.config if self.live is not None else None
        else:
            run_dir = Path(self.source) if self.source else None
            config = getattr(self, "run_config", None)
        val = None
        if config is not None and self.project is not None:
            val = self.project.resolve(config.data.val)
        elif self.project is not None:
            val = self.project.dataset_paths()["val"]
        self.why.set_run(run_dir, val, config, h.positive, h.negative, len(h.classes))
        self.why.set_probabilities(h.classes, self._row("probabilities"))
        if self.why.wants_measure() and (self.source != LIVE or
                                         (self.live is not None and self.live.finished)):
            self.why.measure()

    # -- heat map ----------------------------------------------------------------------------
    def _redraw_heatmap(self) -> None:
        if self.history is not None:
            self.heatmap.set_data(self.history, self.epoch_index)

    # -- clusters ----------------------------------------------------------------------------
    def _redraw_clusters(self) -> None:
        h = self.history
        if h is None:
            return
        e = self.epoch_index
        clusters = self._row("clusters")
        probs = self._row("probabilities")
        dist = self._row("mean_distance")
        epoch = int(h.epochs[e]) if e < len(h.epochs) else e
        edges = h.edges.get(epoch)
        neg = h.negative
        if neg != "auto-clustering" and (clusters is None or not (clusters >= 0).any()):
            what = {"random": "draws negatives uniformly from the other classes",
                    "hard": "keeps the hardest of r× more random triplets",
                    "distance": "prefers classes whose centers are near the anchor's"}.get(
                        neg, "does not cluster classes")
            self.graph.set_data(h.classes, None, clusters, probs, None, dist)
            self.graph.show_message(
                f"The negative miner of this run is <b>{neg}</b>: it {what}. It forms no "
                "clusters, so there is no cluster graph (the auto-clustering miner draws one).",
                side=False)
            return
        if self.centers is not None and not self._ensure_positions() and (
                self.positions is None or len(self.positions) != len(h.classes)):
            # (While a new layout is computed the previous one stays, if there is one.)
            self.graph.set_data(h.classes, None, clusters, probs, edges, dist)
            self.graph.show_message("Placing the classes (PCA of the class centers)…")
            return
        note = ""
        if self.source != LIVE and self.positions is not None:
            note = "Positions: PCA of the class centers after the last epoch (centers.npy)."
        elif self.source == LIVE:
            note = "Positions: PCA of the latest class centers."
        if edges is None and "edges" in h.missing:
            note += " This mining.h5 has no /edges."
        warning = cluster_warning(clusters, np.isfinite(dist)) if (
            clusters is not None and dist is not None) else None
        if warning:
            note = f"⚠ {warning} {note}"
        self.graph.set_data(h.classes, self.positions, clusters, probs, edges, dist, note)
        if self.selected is not None:
            self.graph.select_class(self.selected)

    # -- misc --------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1080, 760)


__all__ = ["MinersTab", "LiveMining", "ProbabilityBars", "ClassTableModel", "is_uniform"]
