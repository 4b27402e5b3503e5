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

from core.errors import SiamError
from core.train.config import SCHEMA, Config
from core.train.project import is_run_dir, read_run_info
from core.train.runfiles import read_metrics


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
        extra: dict[str, np.ndarray] = {}
        if "extra" in h5:
            for key, ds in h5["extra"].items():
                if isinstance(ds, h5py.Dataset) and ds.ndim == 2:
                    extra[key] = ds[()].astype(np.float64)
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in h5.attrs.items()}
    named = [("probabilities", probs), ("clusters", clusters), ("mean_distance", dist),
             *((f"extra/{k}", v) for k, v in extra.items())]
    for name, arr in named:
        if arr is not None and arr.shape[1] != len(classes):
            raise SiamError(f"/{name} has {arr.shape[1]} classes, /classes {len(classes)}", path)
    return MiningHistory(classes=classes, epochs=np.asarray(epochs), probabilities=probs,
                         clusters=clusters, mean_distance=dist, edges=edges, extra=extra,
                         positive=attrs.get("positive", "unknown"),
                         negative=attrs.get("negative", "unknown"), missing=missing)


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
    try:
        config: Config | None = Config(tomllib.loads((run_dir / "config.toml").read_text()))
    except (SiamError, tomllib.TOMLDecodeError, OSError):
        config = None
    recs = read_metrics(run_dir / "metrics.jsonl")
    iters = [r for r in recs if r.get("event") == "iteration"]
    epochs = [r for r in recs if r.get("event") == "epoch"]
    tops = [(_score(r, "top1"), _score(r, "top5")) for r in epochs]
    final = tops[-1] if tops else (None, None)
    best = max((t for t in tops if t[0] is not None), default=(None, None), key=lambda t: t[0])
    wall = sum(float(r.get("seconds") or 0) for r in epochs)
    info = read_run_info(run_dir)
    return RunSummary(path=run_dir, id=run_dir.name, status=info.status, config=config,
                      epochs_done=len(epochs), final_top1=final[0], final_top5=final[1],
                      best_top1=best[0], best_top5=best[1], wall_seconds=wall,
                      iterations=iters, epochs=epochs)


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
              "wall_s", *diff]
    rows = []
    for s in summaries:
        row: list[Any] = [s.id, s.status, s.epochs_done, s.final_top1, s.final_top5,
                          s.best_top1, s.best_top5, round(s.wall_seconds, 1)]
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
