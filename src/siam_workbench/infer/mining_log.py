"""A run's mining history read back for the Miners view and its CLI twins: probabilities,
clusters, edges and plug-in series per epoch, the class centers and what the view places
with them.

Older or partial runs must still open: every field of ``mining.h5`` is optional here, and what
is missing is reported in ``MiningHistory.missing`` instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.infer.run_config import read_run_config, run_miners
from siam_workbench.project.config import Config
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
