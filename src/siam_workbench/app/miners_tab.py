"""The Miners tab: what the auto-probabilistic and auto-clustering miners prioritise, live during
training and for any finished run.

Views (one epoch at a time, chosen with the epoch slider):

* **Probabilities** (:mod:`siam_workbench.app.miners.probabilities`) — the positive miner's
  per-class sampling probability as a sorted curve with the uniform 1/C reference, the top-N
  classes as bars, a searchable table; the selected class's probability over the epochs beside
  its nearest classes.
* **History** (:mod:`siam_workbench.app.miners.heatmap`) — probability (or mean distance) over
  epochs × classes.
* **Clusters** (:mod:`siam_workbench.app.cluster_graph`) — the auto-clustering graph.
* **Why** (:mod:`siam_workbench.app.miners.why`) — probability against validation error.

This module is the layout shell: the state and everything the views draw live in the Qt-free
:class:`siam_workbench.app.miners_model.MinersModel`; the tab lays the panels out, forwards
what the user does to the model and hands its views to the panels.

Threading: reading a finished run's files and the PCA run on a worker thread; live events
(copies, queued from the training thread) carry everything the views need and are only stored
by :meth:`MinersTab.on_trainer_event`; a 100 ms timer redraws at most 10 times a second, and
only the sub-view on screen. Everything drawn on the GUI thread is O(C) numpy work plus setData
on items created once, so 11,172 classes stay responsive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from siam_workbench.app.cluster_graph import ClusterGraph
from siam_workbench.app.document import ProjectDocument
from siam_workbench.app.glyph_cache import GlyphCache
from siam_workbench.app.miners.bars import ProbabilityBars
from siam_workbench.app.miners.class_table import ClassTableModel
from siam_workbench.app.miners.heatmap import HeatmapPanel
from siam_workbench.app.miners.probabilities import ProbabilitiesPanel
from siam_workbench.app.miners.why import WhyPanel
from siam_workbench.app.miners_model import (
    LIVE,
    PAGES,
    LiveMining,
    MinersModel,
    NeighborsRequest,
    is_uniform,
)
from siam_workbench.app.style import set_role
from siam_workbench.app.workers import run_in_thread
from siam_workbench.infer.mining_log import MiningHistory, RunMining, load_run_mining, pca_2d
from siam_workbench.project.project import Project, RunInfo
from siam_workbench.project.runfolder import MINING

FLUSH_MS = 100  # ≤ 10 redraws per second


class MinersTab(QWidget):
    """Miners view for a finished run or the live training.

    Public: ``MinersTab(doc, parent=None)``; slots :meth:`refresh` (re-list runs) and
    :meth:`on_trainer_event` (copied ``siam_workbench.train.events`` objects); :meth:`show_run`
    / :meth:`show_live` choose the source, :meth:`set_epoch` the row, :meth:`select_class` the
    class. Signal ``loaded(str)`` fires after a run's data arrived (the source name, or "live")
    and ``redrawn()`` after each redraw. ``model`` is the tab's state.
    """

    loaded = Signal(str)
    redrawn = Signal()
    neighborsShown = Signal()

    def __init__(self, doc: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.model = MinersModel()
        self.glyphs = GlyphCache.for_document(doc)
        self._load_tag = 0
        self._loading = False
        self._samples_tag = 0
        self._selection_tag = 0
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
        self.run_combo.setToolTip(f"A finished run (read from its {MINING}) or the live "
                                  "training")
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

        # -- the pages -------------------------------------------------------------------------
        self.probs = ProbabilitiesPanel(self.glyphs, self._fg, self._bg,
                                        self.model.class_details)
        self.probs.classPicked.connect(self._picked)
        self.probs.logToggled.connect(self._log_toggled)
        self.probs.topChanged.connect(self._top_changed)
        self.probs.seriesChanged.connect(self._series_changed)
        # The page's widgets, as tests, screenshots and the app's shell know them.
        p = self.probs
        self.curve_plot, self.curve, self.uniform_line = p.curve_plot, p.curve, p.uniform_line
        self.hover_marker, self.hover_label, self.log_check = (p.hover_marker, p.hover_label,
                                                               p.log_check)
        self.bars, self.top_spin, self.series_combo = p.bars, p.top_spin, p.series_combo
        self.prob_plots, self.prob_message, self.prob_stack = (p.prob_plots, p.prob_message,
                                                               p.prob_stack)
        self.search, self.table_model, self.table = p.search, p.table_model, p.table
        self.history_plot, self.history_curve = p.history_plot, p.history_curve
        self.history_uniform, self.history_marker = p.history_uniform, p.history_marker
        self.neighbors, self.detail_title = p.neighbors, p.detail_title

        self.heatmap = HeatmapPanel(self._fg, self._bg)
        self.heat_plot, self.heat_stack = self.heatmap.heat_plot, self.heatmap.heat_stack
        self.heat_kind, self.heat_image = self.heatmap.heat_kind, self.heatmap.heat_image
        self.heat_message = self.heatmap.heat_message

        self.graph = ClusterGraph(self.glyphs)
        self.graph.classClicked.connect(self._graph_class)

        self.why = WhyPanel(self.glyphs, self._fg, self._bg)
        self.why.classClicked.connect(self.select_class)

        self.views = QTabWidget()
        self.views.addTab(self.probs, "Probabilities")
        self.views.addTab(self.heatmap, "History")
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

    # -- the model's state, as callers know it -----------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project

    @property
    def history(self) -> MiningHistory | None:
        return self.model.history

    @property
    def source(self) -> str | None:
        return self.model.source

    @property
    def live(self) -> LiveMining | None:
        return self.model.live

    @property
    def selected(self) -> int | None:
        return self.model.selected

    @property
    def epoch_index(self) -> int:
        return self.model.epoch_index

    @property
    def centers(self) -> np.ndarray | None:
        return self.model.centers

    @property
    def positions(self) -> np.ndarray | None:
        return self.model.positions

    def class_details(self, index: int) -> str:
        """Tooltip text for class ``index`` at the current epoch."""
        return self.model.class_details(index)

    # -- project & runs ----------------------------------------------------------------------
    def _project_changed(self) -> None:
        self._load_tag += 1
        self.model.reset(self.project)
        self._timer.stop()
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
        m = self.model
        current = m.source
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        self.run_combo.addItem(m.live_text(), LIVE)
        for text, data in m.run_entries(self._runs):
            self.run_combo.addItem(text, data)
        self.run_combo.blockSignals(False)
        if not choose_default and current is not None:
            self.run_combo.setCurrentIndex(max(self.run_combo.findData(current), 0))
        target = m.next_source(self._runs, choose_default, self._loading)
        if target == LIVE:
            self.show_live()
        elif target is not None:
            self.show_run(Path(target))

    def _run_activated(self, index: int) -> None:
        data = self.run_combo.itemData(index)
        if data == LIVE:
            self.model.follow_live = True
            self.show_live()
        elif data:
            self.model.follow_live = False
            self.show_run(Path(data))

    def show_run(self, run_dir: Path) -> None:
        """Show a finished run's mining history (read on a worker thread)."""
        run_dir = Path(run_dir)
        self.model.source = str(run_dir)
        idx = self.run_combo.findData(str(run_dir))
        if idx >= 0:
            self.run_combo.setCurrentIndex(idx)
        self._load_tag += 1
        tag = self._load_tag
        self._loading = True
        self._set_banner("")
        self.miner_label.setText(f"Reading {run_dir.name}/{MINING} …")
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
        self.model.run_loaded(loaded)
        self._data_changed(to_last=True)
        self.loaded.emit(loaded.path.name)

    def _run_failed(self, tag: int, run_dir: Path, message: str) -> None:
        if tag != self._load_tag:
            return
        self.model.run_failed()
        self.miner_label.setText("")
        self._show_empty(f"<h3>{run_dir.name}</h3><p>{message}</p><p>Choose another run, or "
                         "<i>live</i> to follow the training.</p>")
        self._set_banner("")
        self.loaded.emit("")

    def show_live(self) -> None:
        """Follow the running training (its EpochFinished events)."""
        self._load_tag += 1
        history = self.model.show_live()
        idx = self.run_combo.findData(LIVE)
        if idx >= 0:
            self.run_combo.setCurrentIndex(idx)
        self._set_banner("")
        if history is None:
            self.miner_label.setText("")
            self._show_empty(self.model.empty_live_html())
            self.loaded.emit(LIVE)
            return
        self._data_changed(to_last=True)
        self.loaded.emit(LIVE)

    # -- live events -------------------------------------------------------------------------
    def on_trainer_event(self, event: Any) -> None:
        """Slot for copied trainer events (queued from the training thread); cheap: the model
        stores what the event carries, the 100 ms timer redraws."""
        kind = self.model.on_event(event)
        if kind is None:
            return
        if kind == "started":
            self.refresh()
            if self.model.follow_live:
                self.show_live()
        elif kind != "epoch":  # the run ended: its folder's status changed
            QTimer.singleShot(0, self.refresh)
        if self.model.live_dirty and not self._timer.isActive():
            self._timer.start()

    def _flush_live(self) -> None:
        if not self.model.live_dirty:
            self._timer.stop()
            return
        follow = self.model.flush_live()
        if follow is not None:
            self._data_changed(to_last=follow)

    def _place_classes(self) -> None:
        """Start the PCA of the class centers on a worker (an SVD of 11,172 × D; multi-threaded
        BLAS on a busy machine takes long enough to matter); redraw the graph when it arrives."""
        job = self.model.start_placing()
        if job is None:
            return
        key, centers = job

        def done(result: tuple[Any, np.ndarray]) -> None:
            if self.model.positions_placed(*result):
                self._redraw_current()

        def failed(message: str, _details: str) -> None:
            self.model.placing = None
            self.graph.show_message(f"Cannot place the classes: {message}")

        run_in_thread(lambda: (key, pca_2d(centers)), self, "siam-pca", done, failed)

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
        m = self.model
        h = m.history
        if h is None:
            return
        if h.num_epochs == 0:
            self._show_empty("<h3>No epoch yet</h3><p>The mining log is empty: the run has not "
                             "finished an epoch.</p>")
            return
        self.stack.setCurrentWidget(self.views)
        self.run_combo.setEnabled(True)
        text, tip = m.header(self.glyphs.note)
        self.miner_label.setText(text)
        self.miner_label.setToolTip(tip)
        self._set_banner(m.banner())
        m.data_changed(to_last)
        self.epoch_slider.blockSignals(True)
        self.epoch_slider.setEnabled(h.num_epochs > 1)
        self.epoch_slider.setRange(0, h.num_epochs - 1)
        self.epoch_slider.setValue(m.epoch_index)
        self.epoch_slider.blockSignals(False)
        self._redraw_current()

    def set_epoch(self, index: int) -> None:
        """Show row ``index`` of the mining history (the state after that epoch)."""
        if self.model.history is None:
            return
        index = self.model.set_epoch(index)
        if self.epoch_slider.value() != index:
            self.epoch_slider.blockSignals(True)
            self.epoch_slider.setValue(index)
            self.epoch_slider.blockSignals(False)
        self._redraw_current()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._redraw_current()

    def _redraw_current(self) -> None:
        m = self.model
        if m.history is None or not m.stale or not self.isVisible():
            return  # (a hidden tab is redrawn when shown)
        page = PAGES[self.views.currentIndex()]
        if not m.take_stale(page):
            return
        self.epoch_label.setText(m.epoch_text())
        if page == "probabilities":
            self._redraw_probabilities()
        elif page == "history":
            self.heatmap.set_data(m.history, m.epoch_index)
        elif page == "why":
            self._redraw_why()
        else:
            self._redraw_clusters()
        self.redraws += 1
        self.redrawn.emit()

    def _glyphs_ready(self) -> None:
        self.model.mark_all_stale()
        self.table_model.layoutChanged.emit()
        if self.model.history is not None:
            self._data_changed(to_last=False)

    # -- probabilities -----------------------------------------------------------------------
    def _log_toggled(self, on: bool) -> None:
        self.model.log_scale = on
        self.probs.reset_range()
        self.model.stale.add("probabilities")
        self._redraw_current()

    def _top_changed(self, n: int) -> None:
        self.model.top_n = n
        self._redraw_probabilities()

    def _series_changed(self, name: str) -> None:
        self.model.series_name = name
        self.model.stale.add("probabilities")
        self._redraw_current()

    def _redraw_probabilities(self) -> None:
        m = self.model
        if m.history is None:
            return
        self.probs.set_series(m.series_names(), m.series_name)
        m.series_name = self.probs.current_series()
        view = m.probability_view()
        if view is None:
            return
        self.probs.show_view(view, m.selected)
        if view.series != "probabilities":
            return
        # The selected class's plots next, after this pass has painted: two short GUI-thread
        # chunks instead of one long one when 11,172 classes update live.
        self._selection_tag += 1
        tag = self._selection_tag
        QTimer.singleShot(0, lambda: self._update_selection_views()
                          if tag == self._selection_tag else None)

    def _curve_hover(self, pos: Any) -> None:
        if self.model.history is not None:
            self.probs.hover(pos)

    # -- selection ---------------------------------------------------------------------------
    def _picked(self, index: int) -> None:
        if index != self.model.selected:
            self.select_class(index)

    def _graph_class(self, index: int) -> None:
        if index != self.model.selected:
            self.model.selected = index
            self._update_selection_views(from_graph=True)

    def select_class(self, index: int) -> None:
        """Select class ``index``: history plot, nearest classes with samples, highlights."""
        if not self.model.select(index):
            return
        self.probs.select_row(index)
        self.why.select_class(index)
        self._update_selection_views()

    def _update_selection_views(self, from_graph: bool = False) -> None:
        m = self.model
        view = m.selection_view()
        self.probs.show_selection(view)
        i = view.index
        if i is None:
            return
        self._update_neighbors(i)
        if not from_graph and self.graph.clusters is not None:
            if self.views.currentWidget() is self.graph and "clusters" not in m.stale:
                self.graph.select_class(i)
            else:
                m.stale.add("clusters")  # the member list is rebuilt when it is shown

    def _update_neighbors(self, index: int) -> None:
        """Show the class now; its nearest classes and the samples arrive from a worker."""
        request = self.model.neighbors_request(index)
        if request is None:
            return  # same class, same centers (e.g. another epoch of a finished run)
        self.neighbors.set_entries(request.entries, request.message)
        self._samples_tag += 1
        tag = self._samples_tag

        def work(req: NeighborsRequest = request) -> tuple[Any, ...]:
            return (tag, *req.work())

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
        view = self.model.why_view()
        if view is None:
            return
        self.why.set_run(view.run_dir, view.val, view.config, view.positive, view.negative,
                         len(view.classes))
        self.why.set_probabilities(view.classes, view.probabilities)
        if self.why.wants_measure() and view.may_measure:
            self.why.measure()

    # -- clusters ----------------------------------------------------------------------------
    def _redraw_clusters(self) -> None:
        m = self.model
        view = m.cluster_view()
        if view is None:
            return
        if view.needs_positions:
            self._place_classes()
        self.graph.set_data(view.classes, view.positions, view.clusters, view.probabilities,
                            view.edges, view.mean_distance, view.note)
        if view.message:
            self.graph.show_message(view.message, side=view.message_side)
            return
        if m.selected is not None:
            self.graph.select_class(m.selected)

    # -- misc --------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1080, 760)


__all__ = ["MinersTab", "LiveMining", "ProbabilityBars", "ClassTableModel", "is_uniform",
           "LIVE"]
