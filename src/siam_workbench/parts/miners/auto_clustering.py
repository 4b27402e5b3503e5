"""Auto-clustering negatives (paper §3.3, simplified form; our reading in docs/METHODS.md).

The η closest pairs of class centers form a graph; its connected components are clusters of
classes the network confuses. With probability θ an anchor's negative comes from its own
cluster, otherwise uniformly from the other classes. :func:`closest_pairs` finds the pairs
blockwise in O(block + η) memory, so C = 11,172 never needs a C×C matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from siam_workbench.base.fields import Field
from siam_workbench.base.notice import Notice, Seen
from siam_workbench.parts.miners.base import (
    EpochStats,
    NegativeMiner,
    floor_index,
    tensor,
    uniform_probabilities,
)
from siam_workbench.parts.miners.geometry import closest_pairs, cluster_labels
from siam_workbench.parts.miners.registry import register_miner


@register_miner
class AutoClustering(NegativeMiner):
    name = "auto-clustering"
    label = "auto-clustering (AC)"
    short = "ac"
    help = ("The η closest class-center pairs form clusters; with probability θ the negative "
            "comes from the anchor's own cluster (paper §3.3).")
    params = {
        "theta": Field(float, 0.5, "Auto-clustering: probability θ of a negative from the "
                       "anchor's cluster", min=0.0, max=1.0,
                       label="θ (theta) — share of negatives from the anchor's cluster"),
        "eta": Field(int, 0, "Auto-clustering: number η of closest center pairs that "
                     "form clusters (0 = about 0.4·C, scaled to the alphabet)",
                     min=0, max=10_000_000,
                     label="η (eta) — closest center pairs that form clusters"),
    }

    @classmethod
    def shown_value(cls, settings: Any, key: str, num_classes: int | None = None) -> str:
        eta = int(cls.value(settings, "eta"))
        if key == "eta" and eta == 0:
            return f"{default_eta(num_classes):,} (auto)" if num_classes else "auto"
        return super().shown_value(settings, key, num_classes)

    @classmethod
    def describe(cls, settings: Any = None, num_classes: int | None = None) -> str:
        """With ``num_classes``, an automatic η (0) reads as the value the miner uses."""
        eta = int(cls.value(settings, "eta"))
        if eta == 0 and num_classes:
            eta_text = (f"{default_eta(num_classes):,}</b> (automatic: 0.43 × "
                        f"{num_classes:,} classes)<b>")
        else:
            eta_text = f"{eta:,}" if eta else "automatic (0.43 per class)"
        return (
            f"<b>Auto-clustering negatives</b>: the <b>η = {eta_text}</b> closest pairs of "
            "class centers link classes into clusters (connected components); the negative "
            f"comes from the anchor's cluster with probability "
            f"<b>θ = {cls.value(settings, 'theta'):g}</b>, otherwise uniformly from the other "
            "classes.")

    @classmethod
    def advise(cls, settings: Any, seen: Seen) -> list[Notice]:
        """Clusters that merged most classes (η too large for C) or left most alone (too
        small), each with the η to try."""
        if seen.clusters is None:
            return []
        largest, clustered, n = cluster_shares(seen.clusters, seen.present(len(seen.clusters)))
        if n < 4:
            return []
        eta = int(cls.value(settings, "eta")) or default_eta(n)  # 0: scaled to the alphabet
        key = cls.schema_key("eta")
        if largest > 0.5:
            linked = round(largest * n)
            return [Notice("clusters-collapsed", f"Auto-clustering collapsed: one cluster holds "
                           f"{largest:.0%} of the classes",
                           f"η = {eta:,} closest center pairs link {linked:,} of {n:,} "
                           "classes into one cluster, so a negative \"from the anchor's "
                           "cluster\" is almost any class. Fewer pairs give small clusters of "
                           "truly similar classes.",
                           {cls.section: {key: max(1, min(eta // 4, int(0.4 * n)))}})]
        if clustered < 0.2:
            return [Notice("clusters-sparse", f"Auto-clustering left {1 - clustered:.0%} of the "
                           "classes in no cluster",
                           f"η = {eta:,} pairs reach only {clustered:.0%} of {n:,} classes; "
                           "the others get random negatives only. The paper used η ≈ 0.4 × C "
                           "(1,000 for 2,350 classes).",
                           {cls.section: {key: max(eta * 4, int(0.4 * n))}})]
        return []

    def __init__(self, num_classes: int, present: np.ndarray, settings: Any) -> None:
        super().__init__(num_classes, present, settings)
        self.theta = float(self.setting("theta"))
        self._set_edges(np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64))

    @property
    def eta(self) -> int:
        """η as configured, or scaled to the alphabet when it is 0 (see :func:`default_eta`)."""
        eta = int(self.setting("eta"))
        return eta if eta > 0 else default_eta(int(self.present.sum()))

    def _set_edges(self, edges: np.ndarray, dist: np.ndarray) -> None:
        """Store the η closest pairs and derive clusters and the CSR table (members grouped by
        cluster) that :meth:`sample` indexes."""
        c = self.num_classes
        self._edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        self._edge_dist = np.asarray(dist, dtype=np.float64).reshape(-1)
        self._clusters = cluster_labels(c, self._edges)
        in_cluster = np.flatnonzero(self._clusters >= 0)
        order = in_cluster[np.argsort(self._clusters[in_cluster], kind="stable")]
        n_clusters = int(self._clusters.max()) + 1 if in_cluster.size else 0
        self._members = order.astype(np.int64)
        self._size = np.bincount(self._clusters[in_cluster], minlength=n_clusters)
        self._start = np.zeros(n_clusters, dtype=np.int64)
        if n_clusters:
            np.cumsum(self._size[:-1], out=self._start[1:])
        self._rank = np.full(c, -1, dtype=np.int64)
        if in_cluster.size:
            cl = self._clusters[order]
            self._rank[order] = np.arange(order.size) - self._start[cl]

    def update(self, stats: EpochStats) -> None:
        centers = np.asarray(stats.centers)
        placed = self.present & np.isfinite(centers).all(axis=1)
        ids = np.flatnonzero(placed)
        pairs, dist = closest_pairs(centers[ids], self.eta)
        self._set_edges(ids[pairs], dist)

    def sample(self, anchor_cls: np.ndarray, coin: np.ndarray, u: np.ndarray,
               uniform_negative: np.ndarray) -> np.ndarray:
        neg = uniform_negative.copy()
        if not self._members.size:
            return neg
        cl = self._clusters[anchor_cls]
        take = (cl >= 0) & (coin < self.theta)
        if take.any():
            a, c = anchor_cls[take], cl[take]
            j = floor_index(u[take], self._size[c] - 1)
            j += j >= self._rank[a]
            neg[take] = self._members[self._start[c] + j]
        return neg

    def distribution(self, anchor_class: int) -> np.ndarray:
        a = int(anchor_class)
        others = self.present.copy()
        others[a] = False
        out = uniform_probabilities(others)
        cl = self._clusters[a]
        if cl >= 0:
            members = self._members[self._start[cl]:self._start[cl] + self._size[cl]]
            members = members[members != a]
            out *= 1.0 - self.theta
            out[members] += self.theta / members.size
        return out

    def clusters(self) -> np.ndarray:
        return self._clusters

    def cluster_edges(self) -> np.ndarray:
        return self._edges

    def cluster_edge_distances(self) -> np.ndarray:
        return self._edge_dist

    def state_dict(self) -> dict[str, Any]:
        return {"cluster_edges": tensor(self._edges),
                "cluster_edge_distances": tensor(self._edge_dist)}

    def load_state_dict(self, state: dict[str, Any], same_labels: bool) -> None:
        edges = state["cluster_edges"].detach().cpu().numpy().astype(np.int64).reshape(-1, 2)
        dist = state["cluster_edge_distances"].detach().cpu().numpy().astype(np.float64)
        if not same_labels and len(edges):  # drop pairs touching classes that became empty
            ok = self.present[edges].all(axis=1)
            edges, dist = edges[ok], dist[ok]
        self._set_edges(edges, dist)


def default_eta(num_classes: int) -> int:
    """η scaled to the alphabet: about 0.4 pairs per class.

    The paper's η = 1000 at C = 2,350 is 0.43 pairs per class, which leaves clusters of a few
    look-alike classes. The same 1000 at C = 10 covers all 45 pairs and merges every class into
    one cluster (auto-clustering then does nothing), so a project that leaves η at 0 gets the
    paper's ratio at any size, with at least one pair.
    """
    return max(1, round(0.43 * num_classes))


def cluster_shares(clusters: np.ndarray, present: np.ndarray | None = None
                   ) -> tuple[float, float, int]:
    """``(largest cluster's share, clustered share, classes)`` over the classes with samples:
    the two numbers that say whether auto-clustering collapsed or left most classes alone."""
    labels = np.asarray(clusters)
    if present is not None and len(present) == len(labels):
        labels = labels[np.asarray(present, dtype=bool)]
    if labels.size == 0:
        return 0.0, 0.0, 0
    inside = labels[labels >= 0]
    largest = int(np.bincount(inside).max()) if inside.size else 0
    return largest / labels.size, inside.size / labels.size, int(labels.size)


def cluster_warning(clusters: np.ndarray, present: np.ndarray | None = None) -> str | None:
    """One line for the Miners view when the clusters are not doing their job (the Train tab's
    notices, :meth:`AutoClustering.advise`, say the same with a suggested η)."""
    largest, clustered, n = cluster_shares(clusters, present)
    if n < 4:
        return None
    if largest > 0.5:
        return (f"Auto-clustering has collapsed: one cluster holds {largest:.0%} of the "
                "classes, so its negatives are almost random. Use a smaller η.")
    if clustered < 0.2:
        return (f"Auto-clustering left {1 - clustered:.0%} of the classes in no cluster; they "
                "get random negatives only. Use a larger η.")
    return None
