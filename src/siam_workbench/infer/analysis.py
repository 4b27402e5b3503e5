"""Read-back and analysis of finished runs for the Miners and Runs views (and their CLI twins).

Older or partial runs must still open: every field of ``mining.h5`` is optional here, and what
is missing is reported in ``MiningHistory.missing`` instead of raising.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import is_regular_file
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.project import is_run_dir, read_run_info
from siam_workbench.project.runfiles import iteration_parts, read_metrics
from siam_workbench.project.runfolder import RunFolder


@dataclass
class MiningHistory:
    classes: list[str]
    epochs: np.ndarray  # [E]
    probabilities: np.ndarray | None  # [E, C]
    clusters: np.ndarray | None  # [E, C]
    mean_distance: np.ndarray | None  # [E, C]
    edges: dict[int, np.ndarray] = field(default_factory=dict)  # epoch → [K, 2]
    # Further per-class series [E, C] (mining.h5 /extra): each miner's own arrays, named
    # "role.name" (e.g. "positive.error" of a plug-in), and "val_accuracy" per class.
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    positive: str = "unknown"
    negative: str = "unknown"
    missing: list[str] = field(default_factory=list)

    def series(self, name: str) -> np.ndarray | None:
        """``probabilities``, ``clusters``, ``mean_distance`` or an extra series by name."""
        if name in ("probabilities", "clusters", "mean_distance"):
            return getattr(self, name)
        return self.extra.get(name)

    @property
    def num_epochs(self) -> int:
        return int(self.epochs.shape[0])

    def rank_change(self, epoch: int) -> np.ndarray:
        """How many places each class rose (+) or fell (−) in probability rank since epoch−1."""
        p = self.probabilities
        if p is None or epoch <= 0 or epoch >= p.shape[0]:
            return np.zeros(len(self.classes), dtype=np.int64)
        return _ranks(p[epoch - 1]) - _ranks(p[epoch])


def _ranks(p: np.ndarray) -> np.ndarray:
    order = np.argsort(-p, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(order.size)
    return ranks


def read_mining(path: str | Path) -> MiningHistory:
    """The run's mining history; a damaged file is one line naming it, never a traceback."""
    path = Path(path)
    try:
        return _read_mining(path)
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise SiamError(f"damaged mining history ({first})", path) from None


def _read_mining(path: Path) -> MiningHistory:
    if not path.exists():
        raise SiamError("no mining history (the run has not finished an epoch yet)", path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise SiamError(f"not a readable HDF5 file ({exc})", path) from None
    with h5:
        missing = []

        def get(name: str) -> np.ndarray | None:
            if name in h5:
                return h5[name][()]
            missing.append(name)
            return None

        classes_raw = get("classes")
        probs, clusters, dist = get("probabilities"), get("clusters"), get("mean_distance")
        first = next((a for a in (probs, clusters, dist) if a is not None), None)
        if classes_raw is None:
            if first is None:
                raise SiamError("holds no mining data", path)
            classes = [str(i) for i in range(first.shape[1])]
        else:
            classes = [c.decode() if isinstance(c, bytes) else str(c) for c in classes_raw]
        epochs = get("epoch")
        if epochs is None:
            epochs = np.arange(first.shape[0] if first is not None else 0)
        edges: dict[int, np.ndarray] = {}
        if "edges" in h5:
            for key, ds in h5["edges"].items():
                edges[int(key)] = ds[()].astype(np.int64).reshape(-1, 2)
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in h5.attrs.items()}
        extra = read_extra_series(h5, len(classes))
        if extra and first is not None:
            extra = {k: v for k, v in extra.items() if v.shape[0] == first.shape[0]}
    for name, arr in (("probabilities", probs), ("clusters", clusters), ("mean_distance", dist)):
        if arr is not None and arr.shape[1] != len(classes):
            raise SiamError(f"/{name} has {arr.shape[1]} classes, /classes {len(classes)}", path)
    return MiningHistory(classes=classes, epochs=np.asarray(epochs), probabilities=probs,
                         clusters=clusters, mean_distance=dist, edges=edges,
                         positive=attrs.get("positive", "unknown"),
                         negative=attrs.get("negative", "unknown"), missing=missing,
                         extra=extra)


def pca_2d(centers: np.ndarray) -> np.ndarray:
    """Project class centers to 2-D with PCA (SVD of the centred matrix); NaN rows stay NaN."""
    centers = np.asarray(centers, dtype=np.float64)
    out = np.full((centers.shape[0], 2), np.nan)
    ok = ~np.isnan(centers).any(axis=1)
    x = centers[ok]
    if x.shape[0] == 0:
        return out
    x = x - x.mean(axis=0)
    if x.shape[0] == 1:
        out[ok] = 0.0
        return out
    # Economy SVD of [C, D] with D small (25): cheap even at C = 11,172.
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:2]
    proj = x @ comps.T
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    # Fix the sign so the picture does not flip between epochs.
    signs = np.sign(proj[np.argmax(np.abs(proj), axis=0), range(2)])
    out[ok] = proj * np.where(signs == 0, 1, signs)
    return out


def cluster_sizes(clusters: np.ndarray) -> np.ndarray:
    """Sizes of all clusters (label ≥ 0), largest first."""
    c = clusters[clusters >= 0]
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.bincount(c)[np.bincount(c) > 0])[::-1]


# -- runs comparison ------------------------------------------------------------------------

@dataclass
class RunSummary:
    path: Path
    id: str
    status: str
    config: Config | None
    epochs_done: int
    final_top1: float | None
    final_top5: float | None
    best_top1: float | None
    best_top5: float | None
    wall_seconds: float
    iterations: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    test_top1: float | None = None  # from evaluations.json (siam eval, the Runs tab)
    test_top5: float | None = None
    pixel_nn_val: float | None = None  # the pixel 1-NN baseline the run logged
    notes: str = ""

    @property
    def accuracy_set(self) -> str:
        """Which set the epoch accuracies are measured on: val where the run has one."""
        return "val" if any(r.get("val_top1") is not None for r in self.epochs) else "train"

    @property
    def label(self) -> str:
        if self.config is None:
            return self.id
        m, loss = self.config.mining, self.config.loss.kind
        return f"{self.id} ({m.positive}+{m.negative}, {loss})"


def _score(rec: dict[str, Any], key: str) -> float | None:
    val = rec.get(f"val_{key}")
    return val if val is not None else rec.get(key)


def summarize_run(run_dir: str | Path) -> RunSummary:
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    config = read_run_config(run_dir)
    recs = read_metrics(RunFolder(run_dir).metrics)
    iters = [r for r in recs if r.get("event") == "iteration"]
    epochs = [r for r in recs if r.get("event") == "epoch"]
    tops = [(_score(r, "top1"), _score(r, "top5")) for r in epochs]
    final = tops[-1] if tops else (None, None)
    best = max((t for t in tops if t[0] is not None), default=(None, None),
               key=lambda t: t[0] if t[0] is not None else -1.0)
    wall = sum(float(r.get("seconds") or 0) for r in epochs)
    info = read_run_info(run_dir)
    from siam_workbench.infer.runs import read_evaluations, read_notes

    test = read_evaluations(run_dir).get("test", {})
    base = next((r.get("top1") for r in recs if r.get("event") == "baseline"
                 and r.get("method") == "pixel-1nn"), None)
    return RunSummary(path=run_dir, id=run_dir.name, status=info.status, config=config,
                      epochs_done=len(epochs), final_top1=final[0], final_top5=final[1],
                      best_top1=best[0], best_top5=best[1], wall_seconds=wall,
                      iterations=iters, epochs=epochs, test_top1=test.get("top1"),
                      test_top5=test.get("top5"), pixel_nn_val=base,
                      notes=read_notes(run_dir))


def differing_settings(summaries: list[RunSummary]) -> list[str]:
    """``section.key`` names whose values differ between the runs (the table's extra columns)."""
    configs = [s.config for s in summaries if s.config is not None]
    keys = []
    for section, fields in SCHEMA.items():
        if section == "project":
            continue
        for key in fields:
            values = {json.dumps(c.get(section, key)) for c in configs}
            if len(values) > 1:
                keys.append(f"{section}.{key}")
    return keys


def comparison_table(summaries: list[RunSummary]) -> tuple[list[str], list[list[Any]]]:
    diff = differing_settings(summaries)
    header = ["run", "status", "epochs", "final_top1", "final_top5", "best_top1", "best_top5",
              "test_top1", "test_top5", "wall_s", *diff]
    rows = []
    for s in summaries:
        row: list[Any] = [s.id, s.status, s.epochs_done, s.final_top1, s.final_top5,
                          s.best_top1, s.best_top5, s.test_top1, s.test_top5,
                          round(s.wall_seconds, 1)]
        for k in diff:
            sec, key = k.split(".", 1)
            row.append(s.config.get(sec, key) if s.config else None)
        rows.append(row)
    return header, rows


def table_csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


# -- one run's files, for the views (the GUI never parses run files itself) -------------------

def read_run_config(run_dir: str | Path) -> Config | None:
    """The run's resolved ``config.toml`` (None when missing or unreadable)."""
    file = RunFolder(run_dir).config
    if not is_regular_file(file):  # a FIFO in its place would block the read
        return None
    try:
        return Config(tomllib.loads(file.read_text(encoding="utf-8")))
    except (SiamError, tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None


def run_miners(run_dir: str | Path) -> tuple[str, str]:
    """(positive, negative) miner names of a run, from its config ("unknown" if unreadable)."""
    file = RunFolder(run_dir).config
    try:
        if not is_regular_file(file):
            return "unknown", "unknown"
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return "unknown", "unknown"
    mining = raw.get("mining", {}) if isinstance(raw.get("mining"), dict) else {}
    return str(mining.get("positive", "unknown")), str(mining.get("negative", "unknown"))


def read_extra_series(h5: h5py.File, num_classes: int) -> dict[str, np.ndarray]:
    """Per-class arrays a miner plug-in adds under ``/extra/<name>`` ``[E, C]`` (others are
    skipped): new miners show up in the Miners tab without app changes."""
    out: dict[str, np.ndarray] = {}
    group = h5.get("extra")
    if not isinstance(group, h5py.Group):
        return out
    for name, ds in group.items():
        if isinstance(ds, h5py.Dataset) and ds.ndim == 2 and ds.shape[1] == num_classes \
                and ds.dtype.kind in "fiu":
            out[str(name)] = ds[()].astype(np.float64)
    return out


@dataclass
class RunMining:
    """What the Miners view shows for one run: its mining history and class centers."""

    path: Path
    history: MiningHistory
    centers: np.ndarray | None
    notes: list[str]
    config: Config | None = None


def load_run_mining(run_dir: str | Path) -> RunMining:
    """``mining.h5`` + ``centers.npy`` + ``config.toml`` of a run; a missing or malformed
    centers file is a note, not an error (the views that need it say so)."""
    run_dir = Path(run_dir)
    history = read_mining(RunFolder(run_dir).mining)
    notes: list[str] = []
    centers = None
    path = RunFolder(run_dir).centers
    if path.exists():
        try:
            centers = np.load(path, allow_pickle=False)
            if centers.ndim != 2 or centers.shape[0] != len(history.classes):
                notes.append(f"centers.npy has shape {centers.shape}, expected "
                             f"[{len(history.classes)}, D]; not used")
                centers = None
        except (OSError, ValueError) as exc:
            notes.append(f"centers.npy unreadable ({exc})")
            centers = None
    else:
        notes.append("no centers.npy")
    config = read_run_config(run_dir)
    if history.positive == "unknown" or history.negative == "unknown":
        pos, neg = run_miners(run_dir)
        if history.positive == "unknown":
            history.positive = pos
        if history.negative == "unknown":
            history.negative = neg
    return RunMining(run_dir, history, centers, notes, config)


def nearest_classes(centers: np.ndarray, index: int, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` classes whose centers are nearest to class ``index``'s (imports torch)."""
    import torch

    from siam_workbench.parts.centers import nearest_centers

    c = torch.from_numpy(np.asarray(centers, dtype=np.float32))
    if not 0 <= index < c.shape[0] or torch.isnan(c[index]).any():
        return []
    dist, idx = nearest_centers(c[index:index + 1], c, k=min(k + 1, c.shape[0]))
    return [(int(j), float(d)) for d, j in zip(dist[0].tolist(), idx[0].tolist())
            if int(j) != index][:k]


def class_samples(glyph_path: str | Path, classes: list[str], per_class: int
                  ) -> dict[str, list[np.ndarray]]:
    """Up to ``per_class`` non-excluded images of each class name from a glyph file."""
    from siam_workbench.data.glyphs import GlyphFile

    out: dict[str, list[np.ndarray]] = {}
    with GlyphFile(glyph_path) as gf:
        index = {c: i for i, c in enumerate(gf.classes)}
        excluded = gf.excluded
        for name in classes:
            label = index.get(name)
            if label is None:
                out[name] = []
                continue
            rows = np.flatnonzero((gf.labels == label) & ~excluded)[:per_class]
            out[name] = list(gf.images(rows)) if rows.size else []
    return out


# -- curves from metrics.jsonl ---------------------------------------------------------------

#: Throughput is one quantity everywhere: an exponential moving average (this factor) of each
#: iteration's images through the network ÷ its compute seconds (older runs logged triplets).
#: The trainer's live events carry it already; metrics.jsonl keeps the per-iteration value,
#: smoothed here the same way.
THROUGHPUT_EMA = 0.8

EPOCH_KEYS = ("top1", "top5", "val_top1", "val_top5")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def smooth_rate(values: np.ndarray, factor: float = THROUGHPUT_EMA) -> np.ndarray:
    """The trainer's throughput EMA over per-iteration rates (NaNs are carried over)."""
    out = np.empty(len(values))
    rate = 0.0
    for i, v in enumerate(values):
        if v == v:
            rate = v if rate == 0.0 else factor * rate + (1 - factor) * v
        out[i] = rate if rate else np.nan
    return out


@dataclass
class RunCurves:
    """A run's training curves as arrays (per iteration and per epoch) and its baselines."""

    steps: np.ndarray  # [I] 1-based global iteration
    loss: np.ndarray
    parts: dict[str, np.ndarray]
    throughput: np.ndarray  # THROUGHPUT_EMA-smoothed images/s
    iter_epoch: np.ndarray  # [I] 0-based epoch of each iteration
    epochs: np.ndarray  # [E] 1-based epoch number
    epoch_values: dict[str, np.ndarray]  # EPOCH_KEYS → [E] (NaN: not measured)
    epoch_loss: np.ndarray
    epoch_seconds: np.ndarray
    baselines: dict[str, float] = field(default_factory=dict)  # e.g. "pixel-1nn val" → top-1
    # [I] per iteration (NaN where a run did not log it): share of candidate triplets inside
    # the margin, images through the network so far, seconds since the run's first record.
    active: np.ndarray = field(default_factory=lambda: np.zeros(0))
    images: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def epoch_starts(self) -> np.ndarray:
        """Steps at which a new epoch began (for the epoch boundary lines)."""
        if not len(self.iter_epoch):
            return np.zeros(0)
        change = np.flatnonzero(np.diff(self.iter_epoch) != 0) + 1
        return self.steps[change] - 0.5


def read_curves(run_dir: str | Path) -> RunCurves:
    """Parse a run's ``metrics.jsonl`` (a run folder or the file). Broken lines are skipped,
    so a run killed mid-write still plots everything before the damage."""
    path = Path(run_dir)
    file = RunFolder(path).metrics if path.is_dir() else path
    steps: list[float] = []
    loss: list[float] = []
    rates: list[float] = []
    iter_epoch: list[int] = []
    active: list[float] = []
    images: list[float] = []
    times: list[float] = []
    parts: dict[str, list[float]] = {}
    ep: list[float] = []
    ep_vals: dict[str, list[float]] = {k: [] for k in EPOCH_KEYS}
    ep_loss, ep_secs = [], []
    baselines: dict[str, float] = {}
    for rec in read_metrics(file):
        if not isinstance(rec, dict):
            continue
        kind = str(rec.get("event", "")).lower()
        if kind.startswith("iteration"):
            step, value = _num(rec.get("step")), _num(rec.get("loss"))
            if step is None or value is None:
                continue
            n = len(steps)
            steps.append(step + 1)
            loss.append(value)
            rate = _num(rec.get("images_per_s", rec.get("triplets_per_s")))  # older runs
            rates.append(rate if rate is not None else np.nan)
            iter_epoch.append(int(_num(rec.get("epoch")) or 0))
            for col, key in ((active, "active"), (images, "images"), (times, "time")):
                x = _num(rec.get(key))
                col.append(np.nan if x is None else x)
            for key, v in iteration_parts(rec).items():
                x = _num(v)
                if x is None:
                    continue
                col = parts.setdefault(key, [np.nan] * n)
                col.append(x)
            for col in parts.values():
                if len(col) < n + 1:
                    col.append(np.nan)
        elif kind.startswith("epoch"):
            e = _num(rec.get("epoch"))
            if e is None:
                continue
            ep.append(e + 1)
            for k in EPOCH_KEYS:
                v = _num(rec.get(k))
                ep_vals[k].append(np.nan if v is None else v)
            ep_loss.append(_num(rec.get("loss")) or np.nan)
            ep_secs.append(_num(rec.get("seconds")) or np.nan)
        elif kind == "baseline":
            top1 = _num(rec.get("top1"))
            if top1 is not None:
                baselines[f"{rec.get('method', 'baseline')} {rec.get('data', '')}".strip()] = top1
    f = np.asarray
    return RunCurves(steps=f(steps, float), loss=f(loss, float),
                     parts={k: f(v, float) for k, v in parts.items()},
                     throughput=smooth_rate(f(rates, float)), iter_epoch=f(iter_epoch, int),
                     epochs=f(ep, float), epoch_values={k: f(v, float) for k, v in ep_vals.items()},
                     epoch_loss=f(ep_loss, float), epoch_seconds=f(ep_secs, float),
                     baselines=baselines, active=f(active, float), images=f(images, float),
                     seconds=elapsed_seconds(f(times, float)))


def elapsed_seconds(times: np.ndarray) -> np.ndarray:
    """Wall seconds since the first iteration, with paused or resumed gaps longer than a
    minute squeezed out (the x-axis of "wall time" should show training, not a night off)."""
    if not len(times):
        return times
    t = np.where(np.isfinite(times), times, np.nan)
    d = np.diff(t, prepend=t[0])
    d = np.where(np.isfinite(d) & (d >= 0) & (d < 60.0), d, 0.0)
    return np.cumsum(d)


def pixel_baseline(curves: RunCurves) -> float | None:
    """The pixel 1-NN validation top-1 a run logged (the floor its accuracy must clear)."""
    for key, value in curves.baselines.items():
        if key.startswith("pixel-1nn"):
            return value
    return None


# -- does the miner push the classes the network gets wrong? ---------------------------------

def _rank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    # average ranks over ties so a flat distribution has no correlation
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return sums[inv] / counts[inv]


@dataclass
class MinerEffect:
    """How a positive miner's sampling probabilities line up with per-class error."""

    n: int  # classes compared (sampled and evaluated)
    spearman: float  # rank correlation of probability and error (NaN if undefined)
    ratio: float  # mean probability of the worse half ÷ that of the better half
    verdict: str


def miner_effect(probabilities: np.ndarray, error: np.ndarray) -> MinerEffect:
    """Compare each class's sampling probability with its error rate (1 − top-1 on held-out
    data). A miner that "pushes the classes the network gets wrong" gives the high-error
    classes more probability: a positive rank correlation and a ratio above 1."""
    p = np.asarray(probabilities, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(e) & (p > 0)
    n = int(ok.sum())
    if n < 3:
        return MinerEffect(n, float("nan"), float("nan"), "Too few classes to compare.")
    p, e = p[ok], e[ok]
    rp, re = _rank(p), _rank(e)
    sp, se = rp.std(), re.std()
    rho = float(((rp - rp.mean()) * (re - re.mean())).mean() / (sp * se)) if sp and se \
        else float("nan")
    worse = e > np.median(e)
    if not worse.any() or worse.all():
        worse = e >= np.median(e)
    ratio = float(p[worse].mean() / p[~worse].mean()) if worse.any() and (~worse).any() \
        else float("nan")
    if rho != rho:
        verdict = ("The distribution or the errors are flat: there is nothing for the miner to "
                   "push (every class equally sampled, or equally hard).")
    elif rho > 0.1 and ratio > 1.05:
        verdict = (f"Yes: the classes the network gets wrong more often are sampled "
                   f"{ratio:.2f}× as much as the others (rank correlation {rho:+.2f}).")
    elif rho < -0.1:
        verdict = (f"No: the miner samples the classes the network already gets right more "
                   f"(rank correlation {rho:+.2f}, ratio {ratio:.2f}×).")
    else:
        verdict = (f"Hardly: sampling probability and error are nearly unrelated (rank "
                   f"correlation {rho:+.2f}, ratio {ratio:.2f}×).")
    return MinerEffect(n, rho, ratio, verdict)


def confusers(labels: np.ndarray, pred: np.ndarray, index: int, k: int = 5
              ) -> list[tuple[int, int]]:
    """The classes samples of class ``index`` were read as (top-1), most frequent first:
    ``[(class, count)]`` without the class itself."""
    labels, top = np.asarray(labels), np.asarray(pred)[:, 0]
    wrong = top[(labels == index) & (top != index)]
    if wrong.size == 0:
        return []
    cls, counts = np.unique(wrong, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:k]
    return [(int(cls[i]), int(counts[i])) for i in order]


def formula_text(config: Config | None, positive: str, negative: str,
                 num_classes: int | None = None) -> str:
    """The miners' formulas with a run's values (rich text for the Miners tab), each from its
    part's ``describe()`` (siam_workbench.project.partinfo); with ``num_classes`` an automatic η
    (0) is shown as the value the miner used."""
    from siam_workbench.project.partinfo import describe_miners

    return describe_miners(config, positive, negative, num_classes)
