"""The Miners tab's view model: its state and everything its views draw, without Qt.

The model owns what is shown — the source (a finished run or the live training), the mining
history per epoch, the class centers and their 2-D placement, the epoch row, the selected
class, the per-class series chosen — and derives what each view draws from it: the sorted
probability curve and its message, the selected class's history, the cluster graph's inputs
and note, the Why view's run, the header and the banner. The tab
(:mod:`siam_workbench.app.miners_tab`) is a layout shell; its panels
(:mod:`siam_workbench.app.miners`) render what the model gives them and forward user input
here. Worker threads, timers and widgets stay in the tab.

Where the data come from: a finished run is read from disk through
:func:`siam_workbench.infer.mining_log.load_run_mining` (the run folder's names are
:class:`siam_workbench.project.runfolder.RunFolder`'s); the live training is what the trainer's
``EpochFinished`` events carry (probabilities, clusters, distances, centers, the clustering's
edges and every miner's own series), so nothing re-reads the mining log the trainer just
rewrote. Events are told apart by their type, never by a class-name string.

It imports no Qt (a test loads it from its file and checks), so a plain pytest drives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.infer.advice import cluster_warning
from siam_workbench.infer.mining_log import (
    MiningHistory,
    RunMining,
    class_samples,
    nearest_classes,
)
from siam_workbench.infer.run_config import read_run_config, run_miners
from siam_workbench.project.partinfo import params_text
from siam_workbench.project.runfolder import CENTERS, MINING, RunFolder
from siam_workbench.train.events import (
    EpochFinished,
    IterationFinished,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)

LIVE = "live"
TOP_N = 30
SAMPLES_PER_CLASS = 3
#: The tab's pages, in the order of its view tabs.
PAGES = ("probabilities", "history", "clusters", "why")
PROBABILITY_TITLE = "Sampling probability of every class, most sampled first"

#: Event type → what it means for the Miners tab (IterationFinished: nothing).
_EVENT_KINDS: dict[type, str | None] = {
    IterationFinished: None, RunStarted: "started", EpochFinished: "epoch",
    RunFinished: "finished", RunStopped: "stopped", RunFailed: "failed",
}


def live_event_kind(event: Any) -> str | None:
    """"started", "epoch", "finished", "stopped", "failed" — or None for an event the tab
    ignores (an iteration, or a type it does not know)."""
    for cls in type(event).__mro__:
        if cls in _EVENT_KINDS:
            return _EVENT_KINDS[cls]
    return None


def miner_help(positive: str, negative: str) -> list[str]:
    """One line per miner shown: its label and the help it declares (a plug-in's included)."""
    from siam_workbench.project.partinfo import miner

    lines = []
    for role, name in (("positive", positive), ("negative", negative)):
        cls = miner(role, name)
        if cls is not None:
            lines.append(f"<b>{cls.label or cls.name}</b> ({role}): {cls.help}")
    return lines


def scatter_labels(probabilities: Any, error: Any, limit: int = 14) -> list[int]:
    """Which points of the Why scatter (sampling probability × validation error) get their
    class written beside them: all of them when few, else the outliers — the most and least
    sampled classes and those the network gets most wrong — at most ``limit``."""
    p = np.asarray(probabilities, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(p) & np.isfinite(e) & (p > 0))
    if ok.size <= limit:
        return [int(i) for i in ok]
    third = max(1, limit // 3)
    by_p = ok[np.argsort(-p[ok], kind="stable")]
    by_e = ok[np.argsort(-e[ok], kind="stable")]
    out: list[int] = []
    for i in [*by_e[:limit - 2 * third], *by_p[:third], *by_p[::-1][:third], *by_e]:
        if int(i) not in out:
            out.append(int(i))
        if len(out) >= limit:
            break
    return out


# -- the uniform reference -------------------------------------------------------------------
def uniform_probability(probabilities: np.ndarray,
                        mean_distance: np.ndarray | None = None) -> float:
    """1 / (number of classes the miner can draw), the reference line of every view. Classes
    without samples have a NaN mean distance; without distances every class counts."""
    if mean_distance is not None and len(mean_distance) == len(probabilities):
        present = int(np.count_nonzero(np.isfinite(mean_distance)))
    else:
        present = len(probabilities)
    return 1.0 / max(present, 1)


def is_uniform(probabilities: np.ndarray) -> bool:
    """True for the random miner's distribution: every class it draws has the same share
    (classes without samples, at 0, are ignored — but a distribution that put everything on a
    few classes is not uniform)."""
    p = np.asarray(probabilities, dtype=np.float64)
    nz = p[p > 0]
    if nz.size == 0:
        return True
    return nz.size >= 0.5 * p.size and bool(np.allclose(nz, nz.mean(), rtol=1e-6, atol=0))


def fmt_value(p: float) -> str:
    return "–" if p != p else f"{p:.3g}"


def decade_label(k: int) -> str:
    """Tick label for 10**k: 0.001 … 1000 written out, smaller / larger as 1e-5."""
    return f"{10.0 ** k:g}" if -4 <= k <= 3 else f"1e{k}"


# -- the live training -----------------------------------------------------------------------
@dataclass
class LiveMining:
    """Mining rows collected from the running training's ``EpochFinished`` events: the same
    rows the mining log records for each epoch, taken from the event instead of the file."""

    classes: list[str]
    run_dir: Path | None = None
    positive: str = "unknown"
    negative: str = "unknown"
    epochs: list[int] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    mean_distance: list[np.ndarray] = field(default_factory=list)
    edges: dict[int, np.ndarray] = field(default_factory=dict)
    # Per epoch, the miners' own series ("role.name") and per-class validation accuracy: what
    # the trainer's mining recorder writes under /extra.
    series: list[dict[str, np.ndarray]] = field(default_factory=list)
    centers: np.ndarray | None = None
    finished: str = ""  # "" while running, else finished / stopped / failed
    config: Any = None  # the run's Config (siam_workbench.infer.run_config.read_run_config)

    def add(self, event: Any) -> None:
        epoch = int(event.epoch)
        if epoch in self.epochs:  # a resumed run repeats an epoch: keep the newest
            i = self.epochs.index(epoch)
            for lst in (self.epochs, self.probabilities, self.clusters, self.mean_distance,
                        self.series):
                del lst[i:]
            self.edges = {e: v for e, v in self.edges.items() if e < epoch}
        n = len(np.asarray(event.probabilities))
        if len(self.classes) != n:
            self.classes = [str(i) for i in range(n)]
        self.epochs.append(epoch)
        self.probabilities.append(np.asarray(event.probabilities, dtype=np.float64))
        self.clusters.append(np.asarray(event.clusters, dtype=np.int64))
        self.mean_distance.append(np.asarray(event.mean_distance, dtype=np.float64))
        edges = getattr(event, "edges", None)
        if edges is not None:
            self.edges[epoch] = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        row = {str(k): np.asarray(v, dtype=np.float64)
               for k, v in (getattr(event, "series", None) or {}).items()}
        val = getattr(event, "val_accuracy", None)
        if val is not None:
            row["val_accuracy"] = np.asarray(val, dtype=np.float64)
        self.series.append({k: v for k, v in row.items() if v.shape == (n,)})
        if getattr(event, "centers", None) is not None:
            self.centers = np.asarray(event.centers, dtype=np.float32)

    def extra(self) -> dict[str, np.ndarray]:
        """The series as ``[E, C]`` arrays; epochs before a series appeared are NaN (as the
        mining log writes them)."""
        names = sorted({k for row in self.series for k in row})
        n = len(self.classes)
        nan = np.full(n, np.nan)
        return {k: np.stack([row.get(k, nan) for row in self.series]) for k in names}

    def history(self) -> MiningHistory | None:
        if not self.epochs:
            return None
        return MiningHistory(classes=self.classes, epochs=np.asarray(self.epochs),
                             probabilities=np.stack(self.probabilities),
                             clusters=np.stack(self.clusters),
                             mean_distance=np.stack(self.mean_distance),
                             edges=dict(self.edges), positive=self.positive,
                             negative=self.negative, missing=[], extra=self.extra())


# -- what the views draw ---------------------------------------------------------------------
@dataclass
class ProbabilityView:
    """Miners › Probabilities for one epoch: the table's rows and either a message (no
    probabilities, a uniform distribution) or the sorted curve and the top-N bars."""

    classes: list[str]
    table: tuple[Any, Any, Any, np.ndarray]  # probability, mean distance, cluster, rank Δ rows
    message: str = ""
    series: str = "probabilities"  # or a plug-in's series name
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # as plotted, in `order`
    bars: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per class, for the bars
    reference: float = 0.0  # the dashed line: uniform 1/C, or a series' mean
    log: bool = True
    title: str = PROBABILITY_TITLE
    reference_label: str = "uniform 1/C"
    top_n: int = TOP_N
    # (n, y0, y1, log): explicit axis ranges for the probability curve; None: auto range
    curve_range: tuple[int, float, float, bool] | None = None


@dataclass
class SelectionView:
    """The selected class's probability over the epochs (Miners › Probabilities, right)."""

    index: int | None
    title: str = ""  # "" keeps the title shown
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    uniform: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    marker: float | None = None
    ticks: list[tuple[float, str]] | None = None  # None: pyqtgraph's own


@dataclass
class ClusterView:
    """Miners › Clusters for one epoch: the graph's inputs, or a message in its place."""

    classes: list[str]
    positions: np.ndarray | None
    clusters: np.ndarray | None
    probabilities: np.ndarray | None
    edges: np.ndarray | None
    mean_distance: np.ndarray | None
    note: str = ""
    message: str = ""  # shown in place of the graph when set
    message_side: bool = True  # False: the histogram and member list go too
    needs_positions: bool = False  # start the PCA of the centers (they are not placed yet)


@dataclass
class WhyView:
    """Miners › Why: the run whose checkpoint is measured, on which file, with which miners."""

    run_dir: Path | None
    val: Path | None
    config: Any
    positive: str
    negative: str
    classes: list[str]
    probabilities: np.ndarray | None
    may_measure: bool  # a finished run, or a live one that has ended


@dataclass
class NeighborsRequest:
    """The selected class now, and the work that finds its nearest classes and samples (run
    on a worker: it reads the training file)."""

    entries: list[tuple[int, str, float]]
    message: str
    work: Callable[[], tuple[list[tuple[int, str, float]], dict[str, list[np.ndarray]]]]


def curve_range(n: int, ys: np.ndarray, uniform: float, log: bool
                ) -> tuple[int, float, float, bool]:
    """Rounded ranges for the probability curve (whole decades on a log axis): between epochs
    they rarely change, so the plot keeps its axis pictures instead of re-laying out every
    tick label on each live update."""
    hi_v = max(float(ys.max()), uniform)
    if log:
        lo_v = min(float(ys[ys > 0].min()) if (ys > 0).any() else uniform, uniform)
        y0, y1 = float(np.floor(np.log10(lo_v))), float(np.ceil(np.log10(hi_v)))
        if y1 <= y0:
            y1 = y0 + 1
    else:
        scale = 10 ** np.floor(np.log10(hi_v))
        y0, y1 = 0.0, float(np.ceil(hi_v * 1.05 / scale) * scale)
    return n, y0, y1, log


class MinersModel:
    """The Miners tab's state and the data each of its views draws (see the module)."""

    def __init__(self) -> None:
        self.project: Any = None  # siam_workbench.project.project.Project | None
        self.source: str | None = None  # LIVE or a run folder path
        self.history: MiningHistory | None = None
        self.centers: np.ndarray | None = None
        self.positions: np.ndarray | None = None  # [C, 2] PCA of `centers`
        self.positions_key: Any = None  # which centers `positions` belongs to
        self.placing: Any = None  # key of the PCA being computed
        self.run_config: Any = None  # the finished run's Config
        self.notes: list[str] = []  # what load_run_mining said (no centers file, …)
        self.live: LiveMining | None = None
        self.live_dirty = False  # events arrived since the last flush
        self.follow_live = True  # show the live training when one starts
        self.epoch_index = 0
        self.selected: int | None = None
        self.series_name = "probabilities"  # the per-class series on the curve and bars
        self.log_scale = True
        self.top_n = TOP_N
        self.stale: set[str] = set()  # pages to redraw when shown
        self.neighbors_key: Any = None
        self._rank_key: Any = None
        self._rank_cache: np.ndarray = np.zeros(0, dtype=np.int64)

    # -- the project and its runs ------------------------------------------------------------
    def reset(self, project: Any) -> None:
        """Another project (or none): nothing shown, nothing live."""
        self.project = project
        self.live = None
        self.live_dirty = False
        self.history = None
        self.source = None
        self.selected = None
        self.follow_live = True
        self.centers = self.positions = None
        self.positions_key = None
        self.run_config = None
        self.notes = []

    def live_text(self) -> str:
        if self.live is None:
            return "live (no training running)"
        return "live (training)" if not self.live.finished else f"live ({self.live.finished})"

    @staticmethod
    def run_entries(runs: list[Any]) -> list[tuple[str, str]]:
        """The run chooser's entries after "live": newest first, (text, folder)."""
        out = []
        for r in reversed(runs):
            has = RunFolder(r.path).has_mining()
            out.append((f"{r.id} — {r.status}, {r.epoch}/{r.epochs} epochs"
                        + ("" if has else " (no mining log)"), str(r.path)))
        return out

    def next_source(self, runs: list[Any], choose_default: bool, loading: bool) -> str | None:
        """What to show after the run list was read: LIVE, a run folder to (re)read, or None
        to keep what is shown."""
        current = self.source
        if choose_default or current is None:
            with_mining = [r for r in runs if RunFolder(r.path).has_mining()]
            if self.live is not None and self.follow_live:
                return LIVE
            return str(with_mining[-1].path) if with_mining else LIVE
        if current != LIVE and self.history is not None and not loading:
            # A run that was still being written may have grown: read it again.
            info = next((r for r in runs if str(r.path) == current), None)
            if info is not None and info.epoch != self.history.num_epochs:
                return current
        return None

    # -- sources -----------------------------------------------------------------------------
    def run_loaded(self, loaded: RunMining) -> None:
        """A finished run's files, read on a worker."""
        self.history = loaded.history
        self.centers = loaded.centers
        self.positions = None
        self.positions_key = None
        self.notes = list(loaded.notes)
        self.run_config = loaded.config

    def run_failed(self) -> None:
        self.history = None
        self.centers = self.positions = None

    def show_live(self) -> MiningHistory | None:
        """Follow the running training: its rows so far (None before the first epoch)."""
        self.source = LIVE
        self.history = self.live.history() if self.live is not None else None
        self.centers = self.live.centers if self.live is not None else None
        self.positions = None
        self.positions_key = None
        self.notes = []
        return self.history

    def empty_live_html(self) -> str:
        """What the live view says while it has nothing to draw."""
        if self.project is None:
            return "<h3>Miners</h3><p>Open a project to see what its miners prioritise.</p>"
        if self.live is not None:
            return ("<h3>Training is running</h3><p>The miners' state appears here after the "
                    "first epoch ends.</p>")
        return ("<h3>Nothing to show yet</h3><p>No run of this project has a mining log "
                f"(<code>runs/&lt;id&gt;/{MINING}</code>), and no training is running.</p>"
                "<p>Start a run in the <b>Train</b> tab: after every epoch this tab shows the "
                "per-class sampling probabilities, their history and the cluster graph — "
                "live.</p>")

    # -- live events -------------------------------------------------------------------------
    def on_event(self, event: Any) -> str | None:
        """Store what a (copied) trainer event carries; the kind (see :func:`live_event_kind`),
        None for an event that changes nothing here."""
        kind = live_event_kind(event)
        if kind is None:
            return None
        if kind == "started":
            self.live = LiveMining(classes=list(getattr(event, "classes", []) or []),
                                   run_dir=Path(event.run_dir))
            self._read_live_config(self.live)
        elif kind == "epoch":
            if self.live is None:
                self.live = LiveMining(classes=[])
            self.live.add(event)
            self.live_dirty = True
        else:  # the run ended: "finished", "stopped" or "failed"
            if self.live is not None:
                self.live.finished = kind
            self.live_dirty = True
        return kind

    def _read_live_config(self, live: LiveMining) -> None:
        """The run's miners and settings from its ``config.toml`` (written before the first
        epoch), else the project's."""
        if live.run_dir is None:
            return
        live.positive, live.negative = run_miners(live.run_dir)
        live.config = read_run_config(live.run_dir)
        if live.positive == "unknown" and self.project is not None:
            live.positive = self.project.config.mining.positive
            live.negative = self.project.config.mining.negative

    def flush_live(self) -> bool | None:
        """Take the live rows stored since the last flush; whether to move to the newest epoch
        (the last one was shown), None when there is nothing new to draw."""
        if not self.live_dirty:
            return None
        self.live_dirty = False
        if self.source != LIVE or self.live is None:
            return None
        follow = self.history is None or self.epoch_index >= self.history.num_epochs - 1
        self.history = self.live.history()
        self.centers = self.live.centers
        return None if self.history is None else follow

    # -- epochs and selection ----------------------------------------------------------------
    def data_changed(self, to_last: bool) -> None:
        """New rows: keep the epoch in range (or go to the last), drop a selection that no
        longer exists, redraw every page."""
        h = self.history
        if h is None:
            return
        last = h.num_epochs - 1
        if to_last or self.epoch_index > last:
            self.epoch_index = max(last, 0)
        if self.selected is not None and self.selected >= len(h.classes):
            self.selected = None
        self.mark_all_stale()

    def set_epoch(self, index: int) -> int:
        """Row ``index`` of the history, clipped to the epochs there are."""
        if self.history is None:
            return self.epoch_index
        self.epoch_index = int(np.clip(index, 0, max(self.history.num_epochs - 1, 0)))
        self.mark_all_stale()
        return self.epoch_index

    def select(self, index: int) -> bool:
        """Select class ``index``; False (and nothing changes) for a class not in the run."""
        h = self.history
        if h is None or not 0 <= index < len(h.classes):
            return False
        self.selected = index
        return True

    def mark_all_stale(self) -> None:
        self.stale = set(PAGES)

    def take_stale(self, page: str) -> bool:
        """True once per change for a page that must be redrawn."""
        if page not in self.stale:
            return False
        self.stale.discard(page)
        return True

    # -- text --------------------------------------------------------------------------------
    def epoch_text(self) -> str:
        h = self.history
        if h is None:
            return "no epoch"
        e = self.epoch_index
        epoch_no = int(h.epochs[e]) + 1 if e < len(h.epochs) else e + 1
        return f"after epoch {epoch_no} ({e + 1}/{h.num_epochs})"

    def config(self) -> Any:
        """The Config of the run shown (live or finished), None when unreadable."""
        if self.source == LIVE:
            return self.live.config if self.live is not None else None
        return self.run_config

    def header(self, glyph_note: str = "") -> tuple[str, str]:
        """The line above the views and its tooltip (the glyph source, the miners' help)."""
        h = self.history
        if h is None:
            return "", ""
        src = "live training" if self.source == LIVE else Path(self.source or "").name
        params = ""
        cfg = self.config()
        if cfg is not None:
            params = params_text(cfg, h.positive, h.negative, len(h.classes))
        text = (f"<b>{src}</b> · positive miner <b>{h.positive}</b> · negative miner "
                f"<b>{h.negative}</b> · {len(h.classes):,} classes · {h.num_epochs} epoch(s)"
                + params)
        lines = [glyph_note[:1].upper() + glyph_note[1:]] if glyph_note else []
        return text, "<br>".join([*lines, *miner_help(h.positive, h.negative)])

    def banner(self) -> str:
        """What the run's files lack (an older run), or "" when nothing is missing."""
        h = self.history
        if h is None:
            return ""
        missing = [m for m in h.missing if m != "epoch"]
        if not h.edges and h.negative == "auto-clustering" and self.source != LIVE:
            missing.append("edges")  # read_mining leaves edges empty when the group is absent
        notes = [n for n in self.notes if self.source != LIVE]
        parts = []
        if missing:
            parts.append(f"This run's {MINING} has no " + ", ".join(f"/{m}" for m in missing)
                         + " (an older run?): the views that need it say so, the rest is shown.")
        if notes:
            text = "; ".join(notes)
            parts.append(text[0].upper() + text[1:] + (
                ": the cluster graph cannot place the classes." if self.centers is None
                else "."))
        return " ".join(parts)

    # -- per-class details -------------------------------------------------------------------
    def row(self, name: str) -> np.ndarray | None:
        """Series ``name`` at the current epoch (None when the run has none)."""
        h = self.history
        arr = h.series(name) if h is not None else None
        if arr is None or self.epoch_index >= arr.shape[0]:
            return None
        return arr[self.epoch_index]

    def rank_change(self) -> np.ndarray:
        h = self.history
        key = (id(h), self.epoch_index)
        if self._rank_key != key:
            self._rank_cache = h.rank_change(self.epoch_index) if h is not None else np.zeros(0)
            self._rank_key = key
        return self._rank_cache

    def class_details(self, index: int) -> str:
        """Tooltip text for class ``index`` at the current epoch."""
        h = self.history
        if h is None or not 0 <= index < len(h.classes):
            return ""
        p, d, c = self.row("probabilities"), self.row("mean_distance"), self.row("clusters")
        delta = int(self.rank_change()[index])
        lines = [f"{h.classes[index]}  (class {index})"]
        if p is not None:
            u = uniform_probability(p, d)
            lines.append(f"probability {fmt_value(float(p[index]))} "
                         f"({float(p[index]) / u:.2f}× uniform)")
        if d is not None:
            lines.append(f"mean distance to its center {fmt_value(float(d[index]))}")
        if c is not None and int(c[index]) >= 0:
            lines.append(f"cluster {int(c[index])}")
        if self.epoch_index > 0 and p is not None:
            lines.append("rank change since the last epoch: "
                         + (f"+{delta}" if delta > 0 else str(delta)))
        return "\n".join(lines)

    # -- probabilities -----------------------------------------------------------------------
    def series_names(self) -> list[str]:
        """The series the curve can show: the probability, then each plug-in series."""
        h = self.history
        return ["probabilities", *(sorted(h.extra) if h is not None else [])]

    def probability_view(self) -> ProbabilityView | None:
        h = self.history
        if h is None:
            return None
        table = (self.row("probabilities"), self.row("mean_distance"), self.row("clusters"),
                 self.rank_change())
        view = ProbabilityView(classes=h.classes, table=table, log=self.log_scale,
                               top_n=self.top_n)
        name = self.series_name
        if name != "probabilities" and h.series(name) is not None:
            return self._series_view(view, h, name)
        p = table[0]
        if p is None:
            view.message = (f"This run's {MINING} holds no sampling probabilities "
                            "(/probabilities is missing). The table still lists the mean "
                            "distances and clusters.")
            return view
        if h.positive == "random" or is_uniform(p):
            present = int(np.count_nonzero(p > 0))
            why = ("The positive miner of this run is <b>random</b>" if h.positive == "random"
                   else "At this epoch the positive miner's distribution is flat")
            view.message = (
                f"<p>{why}: every class with samples is drawn with the same probability "
                f"1/C = 1/{present:,} = {1 / max(present, 1):.3g} — the distribution is "
                "<b>uniform</b>, so there is nothing to prioritise and no curve to show.</p>"
                "<p>The table on the right still lists each class's mean distance to its "
                "center (what the auto-probabilistic miner would weight).</p>")
            return view
        order = np.argsort(-p, kind="stable")
        ys = p[order]
        if self.log_scale:
            floor = float(ys[ys > 0].min()) if (ys > 0).any() else 1e-12
            ys = np.maximum(ys, max(floor, 1e-12) * 0.5)
        view.order, view.values, view.bars = order, ys, p
        view.reference = uniform_probability(p, table[1])
        view.curve_range = curve_range(len(p), ys, view.reference, self.log_scale)
        return view

    def _series_view(self, view: ProbabilityView, h: MiningHistory, name: str
                     ) -> ProbabilityView:
        """A plug-in miner's per-class series at this epoch, sorted, in the curve and bars."""
        arr = h.series(name)
        assert arr is not None
        v = np.asarray(arr[min(self.epoch_index, arr.shape[0] - 1)], dtype=np.float64)
        order = np.argsort(-np.nan_to_num(v, nan=-np.inf), kind="stable")
        ys = v[order]
        view.series = name
        view.order, view.values = order, ys
        view.log = self.log_scale and bool((ys > 0).all())
        view.reference = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0
        view.reference_label = "mean"
        view.title = f"{name} of every class, largest first (miner plug-in series)"
        view.bars = np.nan_to_num(v, nan=0.0)
        return view

    def selection_view(self) -> SelectionView:
        h = self.history
        i = self.selected
        if h is None or i is None:
            # Keep the empty plot's axes meaningful (the run's epochs) instead of pyqtgraph's
            # default ±500 range around the marker.
            last = float(h.num_epochs) if h is not None and h.num_epochs else 1.0
            return SelectionView(None, x_range=(0.8, last + 0.2), y_range=(0.0, 1.0),
                                 marker=last)
        title = (f"<b>{h.classes[i]}</b> — "
                 + self.class_details(i).split("\n", 1)[-1].replace("\n", " · "))
        x = h.epochs.astype(float) + 1
        view = SelectionView(i, title)
        if h.probabilities is not None:
            y = h.probabilities[:, i]
            dists = h.mean_distance if h.mean_distance is not None else [None] * len(x)
            u = np.array([uniform_probability(r, d) for r, d in zip(h.probabilities, dists)])
            view.x, view.y, view.uniform = x, y, u
            top = float(np.nanmax(np.concatenate([y, u]))) if len(y) else 1.0
            view.y_range = (0.0, top * 1.15 if top > 0 else 1.0)
            view.x_range = (float(x[0]) - 0.2, float(x[-1]) + 0.2)
        if self.epoch_index < len(x):
            view.marker = float(x[self.epoch_index])
        view.ticks = [(float(v), str(int(v))) for v in x] if len(x) <= 30 else None
        return view

    def neighbors_request(self, index: int) -> NeighborsRequest | None:
        """The nearest classes of ``index`` (by class center) and their training samples;
        None when they are already shown (same class, same centers)."""
        h = self.history
        if h is None:
            return None
        p = self.project
        train = p.dataset_paths()["train"] if p is not None else None
        key = (index, id(self.centers), str(train), id(h.classes))
        if key == self.neighbors_key:
            return None
        self.neighbors_key = key
        centers, classes = self.centers, h.classes
        first = [(index, classes[index], 0.0)]
        message = "" if centers is not None else (
            f"No class centers for this run ({CENTERS}), so no nearest classes.")

        def work() -> tuple[list[tuple[int, str, float]], dict[str, list[np.ndarray]]]:
            near = nearest_classes(centers, index) if centers is not None else []
            entries = first + [(j, classes[j], d) for j, d in near]
            samples: dict[str, list[np.ndarray]] = {}
            if train is not None and train.exists():
                samples = class_samples(train, [t for _i, t, _d in entries], SAMPLES_PER_CLASS)
            return entries, samples

        return NeighborsRequest(first, message, work)

    # -- clusters ----------------------------------------------------------------------------
    def centers_key(self) -> Any:
        """Which centers the positions must belong to (None: no centers)."""
        if self.centers is None:
            return None
        if self.source == LIVE:
            return (LIVE, id(self.live), self.history.num_epochs if self.history else 0)
        return (self.source, self.centers.shape)

    def positions_ready(self) -> bool:
        return (self.positions is not None and self.positions_key is not None
                and self.positions_key == self.centers_key())

    def start_placing(self) -> tuple[Any, np.ndarray] | None:
        """(key, centers) for the PCA to run on a worker, None when it runs already or the
        positions are there."""
        key = self.centers_key()
        if key is None or self.positions_ready() or self.placing == key:
            return None
        assert self.centers is not None
        self.placing = key
        return key, self.centers

    def positions_placed(self, key: Any, positions: np.ndarray) -> bool:
        """The PCA's result; True when it belongs to the centers shown (redraw the graph)."""
        if self.placing == key:
            self.placing = None
        if key != self.centers_key():
            return False
        self.positions, self.positions_key = positions, key
        self.stale.add("clusters")
        return True

    def cluster_view(self) -> ClusterView | None:
        h = self.history
        if h is None:
            return None
        e = self.epoch_index
        clusters = self.row("clusters")
        epoch = int(h.epochs[e]) if e < len(h.epochs) else e
        edges = h.edges.get(epoch)
        view = ClusterView(h.classes, self.positions, clusters, self.row("probabilities"),
                           edges, self.row("mean_distance"))
        neg = h.negative
        if neg != "auto-clustering" and (clusters is None or not (clusters >= 0).any()):
            what = {"random": "draws negatives uniformly from the other classes",
                    "hard": "keeps the hardest of r× more random triplets",
                    "distance": "prefers classes whose centers are near the anchor's"}.get(
                        neg, "does not cluster classes")
            view.positions = view.edges = None
            view.message = (f"The negative miner of this run is <b>{neg}</b>: it {what}. It "
                            "forms no clusters, so there is no cluster graph (the "
                            "auto-clustering miner draws one).")
            view.message_side = False
            return view
        view.needs_positions = self.centers is not None and not self.positions_ready()
        if view.needs_positions and (
                self.positions is None or len(self.positions) != len(h.classes)):
            # (While a new layout is computed the previous one stays, if there is one.)
            view.positions = None
            view.message = "Placing the classes (PCA of the class centers)…"
            return view
        note = ""
        if self.source != LIVE and self.positions is not None:
            note = f"Positions: PCA of the class centers after the last epoch ({CENTERS})."
        elif self.source == LIVE:
            note = "Positions: PCA of the latest class centers."
        if edges is None and "edges" in h.missing:
            note += f" This {MINING} has no /edges."
        dist = view.mean_distance
        warning = cluster_warning(clusters, np.isfinite(dist)) if (
            clusters is not None and dist is not None) else None
        if warning:
            note = f"⚠ {warning} {note}"
        view.note = note
        return view

    # -- why ---------------------------------------------------------------------------------
    def why_view(self) -> WhyView | None:
        h = self.history
        if h is None:
            return None
        if self.source == LIVE:
            run_dir = self.live.run_dir if self.live is not None else None
        else:
            run_dir = Path(self.source) if self.source else None
        config = self.config()
        val = None
        if config is not None and self.project is not None:
            val = self.project.resolve(config.data.val)
        elif self.project is not None:
            val = self.project.dataset_paths()["val"]
        may = self.source != LIVE or (self.live is not None and bool(self.live.finished))
        return WhyView(run_dir, val, config, h.positive, h.negative, h.classes,
                       self.row("probabilities"), may)
