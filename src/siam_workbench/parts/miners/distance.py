"""Distance-based negatives (Kondrashev et al. 2021, adapted): a negative class is more likely
the nearer its center lies to the anchor's, among the anchor's nearest classes, plus a uniform
floor so that every class stays reachable however far its center drifted."""

from __future__ import annotations

from typing import Any

import numpy as np

from siam_workbench.base.fields import Field
from siam_workbench.parts.miners.base import (
    EpochStats,
    NegativeMiner,
    tensor,
    uniform_probabilities,
)
from siam_workbench.parts.miners.geometry import nearest_neighbors
from siam_workbench.parts.miners.registry import register_miner

#: How many nearest other classes each class keeps as weighted candidates.
DISTANCE_NEIGHBORS = 64
#: Share of negatives drawn uniformly from all other classes.
DISTANCE_UNIFORM_FLOOR = 0.1


@register_miner
class DistanceNegative(NegativeMiner):
    name = "distance"
    label = "distance-based"
    short = "dist"
    help = ("Negatives among the anchor's 64 nearest classes, weighted by exp(−β·d/mean d), "
            "plus 10 % uniform (Kondrashev et al. 2021).")
    params = {
        "distance_sharpness": Field(float, 4.0, "Distance-based: how strongly near classes are "
                                    "preferred as negatives", min=0.0, max=100.0,
                                    label="β — preference for near classes"),
    }

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        return ("<b>Distance-based negatives</b>: a class is drawn more often the nearer its "
                "center is to the anchor's: among the anchor's 64 nearest classes with weight "
                "exp(−β·d/mean d), plus 10 % uniform "
                f"(<b>β = {cls.value(settings, 'distance_sharpness'):g}</b>).")

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self.sharpness = float(self.setting("distance_sharpness"))
        self._set_neighbors(np.zeros((num_classes, 0), dtype=np.int64),
                            np.zeros((num_classes, 0), dtype=np.float32))

    def _set_neighbors(self, idx: np.ndarray, dist: np.ndarray) -> None:
        """Store each class's nearest classes and derive ``exp(−β·d/mean_d)`` cumulative tables.

        ``mean_d`` is the mean of the anchor's own neighbour distances, so β means the same for
        an anchor in a dense region as for one in a sparse region. Rows whose neighbours are all
        at distance 0 (or not placed at all) fall back to uniform.
        """
        self._nbr = np.asarray(idx, dtype=np.int64)
        self._nbr_dist = np.asarray(dist, dtype=np.float32)
        c, k = self._nbr.shape
        self._has_nbr: np.ndarray = np.zeros(c, dtype=bool)
        self._nbr_p = np.zeros((c, k), dtype=np.float64)
        self._nbr_cdf = np.ones((c, k), dtype=np.float64)
        if k == 0:
            return
        self._has_nbr = np.asarray((self._nbr >= 0).all(axis=1))
        d = self._nbr_dist[self._has_nbr].astype(np.float64)
        if d.size == 0:
            return
        mean = d.mean(axis=1, keepdims=True)
        logits = -self.sharpness * np.divide(d, mean, out=np.zeros_like(d), where=mean > 0)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]  # exactly 1 at the end and on any underflowed tail
        self._nbr_p[self._has_nbr] = p
        self._nbr_cdf[self._has_nbr] = cdf

    def update(self, stats: EpochStats) -> None:
        c = self.num_classes
        centers = np.asarray(stats.centers)
        ids = np.flatnonzero(self.present & np.isfinite(centers).all(axis=1))
        idx, dist = nearest_neighbors(centers[ids], DISTANCE_NEIGHBORS)
        full_i = np.full((c, idx.shape[1]), -1, dtype=np.int64)
        full_d = np.zeros((c, idx.shape[1]), dtype=np.float32)
        full_i[ids] = ids[idx]
        full_d[ids] = dist
        self._set_neighbors(full_i, full_d)

    def sample(self, anchor_cls: np.ndarray, coin: np.ndarray, u: np.ndarray,
               uniform_negative: np.ndarray) -> np.ndarray:
        neg = uniform_negative.copy()
        if not self._nbr.shape[1]:
            return neg
        take = self._has_nbr[anchor_cls] & (coin >= DISTANCE_UNIFORM_FLOOR)
        if take.any():
            a = anchor_cls[take]
            neg[take] = self._nbr.ravel()[search_rows(self._nbr_cdf, a, u[take])]
        return neg

    def distribution(self, anchor_class: int) -> np.ndarray:
        a = int(anchor_class)
        others = self.present.copy()
        others[a] = False
        out = uniform_probabilities(others)
        if self._nbr.shape[1] and self._has_nbr[a]:
            out *= DISTANCE_UNIFORM_FLOOR
            out[self._nbr[a]] += (1.0 - DISTANCE_UNIFORM_FLOOR) * self._nbr_p[a]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"neighbors": tensor(self._nbr.astype(np.int32)),
                "neighbor_distances": tensor(self._nbr_dist)}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        from siam_workbench.base.errors import SiamError

        nbr = state["neighbors"].detach().cpu().numpy().astype(np.int64)
        dist = state["neighbor_distances"].detach().cpu().numpy().astype(np.float32)
        if nbr.ndim != 2 or nbr.shape[0] != self.num_classes or dist.shape != nbr.shape:
            raise SiamError(f"sampler state neighbours have shape {nbr.shape}")
        if not same_labels and nbr.shape[1]:  # forget rows touching classes that became empty
            refs_ok = np.where(nbr >= 0, self.present[nbr.clip(0)], True).all(axis=1)
            nbr[~self.present | ~refs_ok] = -1
        self._set_neighbors(nbr, dist)


def search_rows(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Flat index ``rows·k + j`` of the first ``cdf[rows, j] > u`` (each row ends at exactly 1).

    A vectorised binary search: ⌈log2 k⌉ gathers of ``len(rows)`` values instead of copying
    whole ``[n, k]`` rows of the table. Zero-probability entries repeat the previous cumulative
    value, so ``>`` never lands on them.
    """
    k = cdf.shape[1]
    flat = cdf.ravel()
    base = rows * k
    lo = np.zeros(rows.shape[0], dtype=np.int64)
    hi = np.full(rows.shape[0], k - 1, dtype=np.int64)
    while True:
        open_ = lo < hi
        if not open_.any():
            return base + lo
        mid = (lo + hi) >> 1
        right = flat[base + mid] <= u
        lo = np.where(open_ & right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)
