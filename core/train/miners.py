"""Triplet samplers: one anchor/positive miner combined freely with one negative miner.

The sampler runs on the training hot path (every iteration draws up to 10,240 triplets from up to
11,172 classes and ~900k samples), so :meth:`TripletSampler.sample` is pure vectorised numpy: no
Python loop over triplets, a fixed number of uniform draws per call (so the RNG stream, and with
it a resumed run, is reproducible), and every distribution pre-digested into cumulative tables at
epoch end by :meth:`TripletSampler.update`.

Positive miners (anchor and positive share a class; the class is drawn from
:attr:`TripletSampler.probabilities`):

* ``random`` — uniform over classes that have samples.
* ``auto-probabilistic`` — paper §3.2, :func:`auto_probabilistic`.

Negative miners (the negative's class differs from the anchor's):

* ``random`` — uniform over the other classes that have samples.
* ``auto-clustering`` — paper §3.3 (simplified form): the η closest class-center pairs form a
  graph, its connected components are clusters, the negative comes from the anchor's cluster with
  probability θ. :func:`closest_pairs` finds the pairs blockwise in O(block + η) memory.
* ``hard`` — Simo-Serra et al. 2015: sampling stays random; the trainer draws
  ``oversample`` × more triplets and back-propagates the hardest ones (:func:`select_hardest`).
* ``distance`` — Kondrashev et al. 2021 (adapted): negatives among the anchor's nearest classes,
  weighted by ``exp(−β·d/mean_d)``, plus a uniform floor (:data:`DISTANCE_UNIFORM_FLOOR`).

The formulas and our reading of the paper are in ``docs/METHODS.md``.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Protocol

import numpy as np
import torch

from core.errors import SiamError

POSITIVE_MINERS: tuple[str, ...] = ("random", "auto-probabilistic")
NEGATIVE_MINERS: tuple[str, ...] = ("random", "auto-clustering", "hard", "distance")

#: Distance miner: how many nearest other classes each class keeps as weighted candidates.
DISTANCE_NEIGHBORS = 64
#: Distance miner: share of negatives drawn uniformly from all other classes, so that every class
#: stays reachable however far its center has drifted.
DISTANCE_UNIFORM_FLOOR = 0.1
#: Elements (float32) of one block of the blockwise distance computations: 2**21 → 8 MiB.
BLOCK_ELEMENTS = 1 << 21

STATE_FORMAT = "siam-triplet-sampler/1"


class MiningParams(Protocol):
    """What the sampler reads from ``Config().mining`` (any object with these attributes)."""

    positive: str
    negative: str
    gamma: float
    w: float
    theta: float
    eta: int
    hard_ratio: int
    distance_sharpness: float


# --------------------------------------------------------------------------------------------
# Pure building blocks (module functions so tests and the benchmark can exercise them alone)
# --------------------------------------------------------------------------------------------


def uniform_probabilities(present: np.ndarray) -> np.ndarray:
    """Uniform float64 distribution over the ``True`` entries of ``present`` (zeros elsewhere)."""
    present = np.asarray(present, dtype=bool)
    out = np.zeros(present.shape[0], dtype=np.float64)
    k = int(present.sum())
    if k:
        out[present] = 1.0 / k
    return out


def _power_normalise(x: np.ndarray, gamma: float, present: np.ndarray) -> np.ndarray | None:
    """``x^γ / Σ x^γ`` over ``present`` (x ≥ 0), or ``None`` when that is not a distribution.

    ``x`` is divided by its maximum first: the ratio is unchanged (the expression is homogeneous)
    but ``d^γ`` can no longer overflow for large distances and γ up to 20.
    """
    xm = np.where(present, x, 0.0)
    top = float(xm.max(initial=0.0))
    if not math.isfinite(top) or top <= 0.0:
        return None
    r = np.where(present, (xm / top) ** gamma, 0.0)  # 0**0 = 1, so γ = 0 gives uniform
    s = float(r.sum())
    if not math.isfinite(s) or s <= 0.0:
        return None
    return r / s


def auto_probabilistic(
    mean_distance: np.ndarray,
    previous: np.ndarray,
    gamma: float,
    w: float,
    present: np.ndarray,
) -> np.ndarray:
    """Paper §3.2, equations (3) and (4), exactly as written; returns float64 ``[C]`` summing to 1.

    ``P = d^γ / Σ d^γ`` (3), then ``P_k = ((1−w)·P + w·P_{k−1})^γ`` (4), normalised. γ is applied
    twice (so with w = 0 the effective exponent is γ²); we keep that because it is what the paper
    prints. ``previous`` is the previous epoch's normalised distribution (uniform before the first
    update).

    Guards (never NaN): classes absent from ``present`` get 0. A present class whose ``d`` is NaN,
    infinite or negative gets the uniform share ``1/K`` in ``P`` and the valid classes share the
    rest in proportion to ``d^γ``. If no ``d`` is valid, or all valid ``d`` are 0, ``P`` is
    uniform; if (4) degenerates, the result is uniform.
    """
    present = np.asarray(present, dtype=bool)
    d = np.asarray(mean_distance, dtype=np.float64)
    prev = np.asarray(previous, dtype=np.float64)
    k = int(present.sum())
    if k == 0:
        return np.zeros(present.shape[0], dtype=np.float64)
    uniform = uniform_probabilities(present)
    with np.errstate(invalid="ignore"):
        valid = present & np.isfinite(d) & (d >= 0.0)
    p = np.zeros_like(uniform)
    p[present & ~valid] = 1.0 / k
    if valid.any():
        share = _power_normalise(np.where(valid, d, 0.0), gamma, valid)
        if share is None:  # all valid d are 0 with γ > 0: nothing to prefer
            share = uniform_probabilities(valid)
        p += (int(valid.sum()) / k) * share
    with np.errstate(invalid="ignore"):
        prev_ok = np.isfinite(prev) & (prev >= 0.0)
    prev = np.where(present & prev_ok, prev, 0.0)
    total = float(prev.sum())
    prev = prev / total if total > 0.0 else uniform
    mixed = (1.0 - w) * p + w * prev
    out = _power_normalise(mixed, gamma, present)
    return uniform if out is None else out


def _pairwise_sq_block(x: torch.Tensor, sq: torch.Tensor, s: int, e: int, c0: int) -> torch.Tensor:
    """Squared distances of rows ``x[s:e]`` to rows ``x[c0:]`` (``‖a‖²+‖b‖²−2a·b``, one GEMM).

    Only used for ranking; rounding can make a value slightly negative, which ranks it as the
    (near-)duplicate it is. The kept pairs' distances are recomputed exactly afterwards.
    """
    d2 = torch.addmm(sq[c0:], x[s:e], x[c0:].T, beta=1.0, alpha=-2.0)
    d2 += sq[s:e, None]
    return d2


def _as_centered_tensor(centers: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 centers minus their mean (this keeps ``‖a‖²+‖b‖²−2a·b`` from cancelling badly for
    the close pairs we care about) and their squared norms."""
    x = torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float32))
    x = x - x.mean(dim=0, keepdim=True)
    return x, (x * x).sum(dim=1)


def _exact_distances(centers: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """float64 Euclidean distances of the pairs ``(i, j)`` (broadcast together, chunked along the
    first axis so that η = 10⁵ pairs or K×64 neighbours stay a few MB of temporaries)."""
    c = np.asarray(centers, dtype=np.float64)
    i, j = np.broadcast_arrays(i, j)
    out = np.empty(i.shape, dtype=np.float64)
    per_row = max(1, int(np.prod(i.shape[1:], dtype=np.int64)) * c.shape[1])
    step = max(1, (1 << 19) // per_row)
    for s in range(0, i.shape[0], step):
        diff = c[i[s:s + step]] - c[j[s:s + step]]
        out[s:s + step] = np.sqrt(np.einsum("...d,...d->...", diff, diff))
    return out


def closest_pairs(
    centers: np.ndarray, eta: int, block_elements: int = BLOCK_ELEMENTS
) -> tuple[np.ndarray, np.ndarray]:
    """The ``η`` closest pairs ``i < j`` among the rows of ``centers`` ``[K, D]``, blockwise.

    Returns ``(pairs int64 [E, 2], distances float64 [E])`` sorted by distance (ties by pair),
    ``E = min(η, K(K−1)/2)``. Never holds the K×K matrix: row blocks of ~``block_elements`` are
    compared with the rows after them (upper triangle only), and a running top-η is merged with
    ``torch.topk``. Once η candidates are known, a block contributes only its entries below the
    current η-th distance, which is what makes C = 11,172 take a fraction of a second.
    Memory: O(block_elements + η).
    """
    k_rows = int(centers.shape[0])
    total_pairs = k_rows * (k_rows - 1) // 2
    eta = int(min(int(eta), total_pairs))
    if eta <= 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64)
    x, sq = _as_centered_tensor(centers)
    rows = max(1, min(k_rows, block_elements // max(1, k_rows)))
    tril = torch.ones(rows, rows, dtype=torch.bool).tril()
    best_v = torch.empty(0, dtype=torch.float32)
    best_i = torch.empty(0, dtype=torch.int64)
    tau = math.inf
    for s in range(0, k_rows - 1, rows):
        e = min(k_rows, s + rows)
        b = e - s
        d2 = _pairwise_sq_block(x, sq, s, e, s)  # [b, K − s]; column c is row s + c
        d2[:, :b].masked_fill_(tril[:b, :b], math.inf)  # keep j > i only
        width = d2.shape[1]
        flat = d2.view(-1)
        if best_v.numel() >= eta:
            idx = (flat < tau).nonzero().squeeze(1)
            vals = flat[idx]
        else:
            idx = None
            vals = flat
        if vals.numel() == 0:
            continue
        v, t = torch.topk(vals, min(eta, vals.numel()), largest=False, sorted=False)
        if idx is not None:
            t = idx[t]
        keep = torch.isfinite(v)  # the masked lower triangle of a small last block
        v, t = v[keep], t[keep]
        gid = (s + t // width) * k_rows + (s + t % width)
        all_v = torch.cat([best_v, v])
        all_i = torch.cat([best_i, gid])
        if all_v.numel() > eta:
            v, t = torch.topk(all_v, eta, largest=False, sorted=False)
            best_v, best_i = v, all_i[t]
        else:
            best_v, best_i = all_v, all_i
        if best_v.numel() >= eta:
            tau = float(best_v.max())
    gid = best_i.numpy()
    i, j = gid // k_rows, gid % k_rows
    dist = _exact_distances(centers, i, j)
    order = np.lexsort((j, i, dist))
    return np.stack([i[order], j[order]], axis=1).astype(np.int64), dist[order]


def nearest_neighbors(
    centers: np.ndarray, k: int, block_elements: int = BLOCK_ELEMENTS
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``centers`` ``[K, D]`` its ``k`` nearest other rows, blockwise.

    Returns ``(indices int64 [K, k], distances float32 [K, k])``, nearest first. Memory
    O(block_elements + K·k); never the K×K matrix.
    """
    k_rows = int(centers.shape[0])
    k = int(min(k, k_rows - 1))
    if k <= 0:
        return np.zeros((k_rows, 0), dtype=np.int64), np.zeros((k_rows, 0), dtype=np.float32)
    x, sq = _as_centered_tensor(centers)
    rows = max(1, min(k_rows, block_elements // max(1, k_rows)))
    out_i = torch.empty(k_rows, k, dtype=torch.int64)
    out_v = torch.empty(k_rows, k, dtype=torch.float32)
    for s in range(0, k_rows, rows):
        e = min(k_rows, s + rows)
        d2 = _pairwise_sq_block(x, sq, s, e, 0)
        r = torch.arange(e - s)
        d2[r, r + s] = math.inf  # a class is not its own neighbour
        v, t = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        out_v[s:e] = v
        out_i[s:e] = t
    idx = out_i.numpy()
    # Exact distances for the kept pairs, re-sorted (the GEMM form is approximate in float32).
    dist = _exact_distances(centers, np.arange(k_rows)[:, None], idx)
    order = np.argsort(dist, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    dist = np.take_along_axis(dist, order, axis=1).astype(np.float32)
    return idx.astype(np.int64), dist


def connected_components(n: int, edges: np.ndarray) -> np.ndarray:
    """Union-find over ``edges`` ``[E, 2]`` on nodes ``0..n−1``; returns each node's root, which
    is the smallest node of its component.

    Batched rather than one edge at a time (η can be 10⁵+): every round hooks the larger root of
    each still-split edge onto the smaller one (so ``parent[x] ≤ x`` always holds and no cycle can
    form), then compresses paths by pointer jumping until every node points at its root. Each
    round merges at least one pair of components; in practice a handful of rounds suffice.
    """
    parent = np.arange(n, dtype=np.int64)
    if len(edges) == 0:
        return parent
    u = np.asarray(edges[:, 0], dtype=np.int64)
    v = np.asarray(edges[:, 1], dtype=np.int64)
    while True:
        ru, rv = parent[u], parent[v]
        split = ru != rv
        if not split.any():
            return parent
        lo = np.minimum(ru[split], rv[split])
        hi = np.maximum(ru[split], rv[split])
        np.minimum.at(parent, hi, lo)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def cluster_labels(n: int, edges: np.ndarray) -> np.ndarray:
    """Cluster id per node from ``edges``: components with ≥ 2 nodes are numbered 0, 1, … in the
    order of their smallest node; nodes on no edge get −1."""
    root = connected_components(n, edges)
    labels = np.full(n, -1, dtype=np.int64)
    if len(edges) == 0:
        return labels
    touched = np.zeros(n, dtype=bool)
    touched[edges.reshape(-1)] = True
    roots = np.unique(root[touched])
    labels[touched] = np.searchsorted(roots, root[touched])
    return labels


def select_hardest(per_triplet_loss: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of the ``n`` triplets with the highest loss (hard mining, Simo-Serra et al. 2015).

    The trainer draws ``sampler.oversample × n`` triplets, computes their per-triplet loss without
    gradient, and back-propagates only ``batch[select_hardest(loss, n)]``. The indices stay on the
    loss's device; NaN losses rank lowest so one broken triplet cannot fill the batch.
    """
    if per_triplet_loss.dim() != 1:
        raise ValueError(f"per_triplet_loss must be 1-D, got shape {tuple(per_triplet_loss.shape)}")
    m = per_triplet_loss.shape[0]
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    if n >= m:
        return torch.arange(m, device=per_triplet_loss.device)
    loss = per_triplet_loss.detach()
    loss = torch.nan_to_num(loss.float(), nan=-math.inf)
    return torch.topk(loss, n, largest=True, sorted=False).indices


# --------------------------------------------------------------------------------------------
# The sampler
# --------------------------------------------------------------------------------------------


def _rng_state_out(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as primitives: 128-bit integers become decimal strings so the state
    loads under ``torch.load(weights_only=True)`` with no numpy objects involved."""
    st = rng.bit_generator.state
    return {
        "bit_generator": str(st["bit_generator"]),
        "state": str(int(st["state"]["state"])),
        "inc": str(int(st["state"]["inc"])),
        "has_uint32": int(st["has_uint32"]),
        "uinteger": int(st["uinteger"]),
    }


def _rng_state_in(rng: np.random.Generator, state: dict[str, Any]) -> None:
    if state.get("bit_generator") != "PCG64":
        raise SiamError(f"sampler state has an unknown generator {state.get('bit_generator')!r}")
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(state["state"]), "inc": int(state["inc"])},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, copy=True))


def _floor_index(u: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``floor(u·size)`` clipped to ``size − 1`` (u in [0, 1)); ``size`` may be an array."""
    idx = (u * size).astype(np.int64)
    return np.minimum(idx, np.maximum(np.asarray(size, dtype=np.int64) - 1, 0))


def _search_rows(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
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


class TripletSampler:
    """Draws (anchor, positive, negative) sample rows; see the module docstring for the miners.

    ``labels`` int ``[N]``: the class of each row of the in-memory training set. A negative label
    marks a row that must never be drawn (lets the trainer keep excluded rows in memory). Classes
    with no rows get probability 0 and are never drawn, as anchor/positive or as negative.
    """

    def __init__(self, labels: np.ndarray, num_classes: int, mining: MiningParams,
                 seed: int = 0) -> None:
        self.positive: str = str(mining.positive)
        self.negative: str = str(mining.negative)
        if self.positive not in POSITIVE_MINERS:
            raise SiamError(f"mining.positive must be one of {', '.join(POSITIVE_MINERS)}; "
                            f"got {self.positive!r}")
        if self.negative not in NEGATIVE_MINERS:
            raise SiamError(f"mining.negative must be one of {', '.join(NEGATIVE_MINERS)}; "
                            f"got {self.negative!r}")
        self.gamma = float(mining.gamma)
        self.w = float(mining.w)
        self.theta = float(mining.theta)
        self.eta = int(mining.eta)
        self.hard_ratio = int(mining.hard_ratio)
        self.distance_sharpness = float(mining.distance_sharpness)
        self.oversample: int = max(1, self.hard_ratio) if self.negative == "hard" else 1
        self.seed = int(seed)
        self.updates = 0  # number of update() calls (epochs) folded into the distributions

        c = int(num_classes)
        if c < 1:
            raise SiamError(f"num_classes must be ≥ 1, got {c}")
        lab = np.asarray(labels)
        if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"labels must be a 1-D integer array, got {lab.dtype} {lab.shape}")
        lab = lab.astype(np.int64, copy=False)
        if lab.size and int(lab.max()) >= c:
            raise SiamError(f"a training label ({int(lab.max())}) is outside the "
                            f"{c} classes")
        self.num_classes = c
        self.num_samples = int(lab.shape[0])
        self._labels_crc = zlib.crc32(np.ascontiguousarray(lab).view(np.uint8))

        usable = np.flatnonzero(lab >= 0)
        self._order = usable[np.argsort(lab[usable], kind="stable")]  # rows grouped by class
        self._count = np.bincount(lab[usable], minlength=c).astype(np.int64)
        self._start = np.zeros(c, dtype=np.int64)
        np.cumsum(self._count[:-1], out=self._start[1:])
        self._present = self._count > 0
        self._present_idx = np.flatnonzero(self._present).astype(np.int64)
        if self._present_idx.size < 2:
            raise SiamError("triplets need training samples of at least two classes; "
                            f"found {self._present_idx.size}")
        self._rank = np.full(c, -1, dtype=np.int64)  # position among the present classes
        self._rank[self._present_idx] = np.arange(self._present_idx.size)

        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self._set_probabilities(uniform_probabilities(self._present))
        self._set_edges(np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64))
        self._set_neighbors(np.zeros((c, 0), dtype=np.int64), np.zeros((c, 0), dtype=np.float32))

    # ---- derived tables (each built the same way by update() and load_state_dict()) ----------

    def _set_probabilities(self, p: np.ndarray) -> None:
        self._probs = np.asarray(p, dtype=np.float64).copy()
        self._cdf = np.cumsum(self._probs)
        self._cdf_total = float(self._cdf[-1])
        self._last_drawable = int(np.flatnonzero(self._probs > 0)[-1])

    def _set_edges(self, edges: np.ndarray, dist: np.ndarray) -> None:
        """Store the η closest pairs (original class ids) and derive clusters and the CSR table
        (members grouped by cluster) that sample() indexes."""
        c = self.num_classes
        self._edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        self._edge_dist = np.asarray(dist, dtype=np.float64).reshape(-1)
        self._clusters = cluster_labels(c, self._edges)
        in_cluster = np.flatnonzero(self._clusters >= 0)
        order = in_cluster[np.argsort(self._clusters[in_cluster], kind="stable")]
        n_clusters = int(self._clusters.max()) + 1 if in_cluster.size else 0
        self._cl_members = order.astype(np.int64)
        self._cl_size = np.bincount(self._clusters[in_cluster], minlength=n_clusters)
        self._cl_start = np.zeros(n_clusters, dtype=np.int64)
        if n_clusters:
            np.cumsum(self._cl_size[:-1], out=self._cl_start[1:])
        self._cl_rank = np.full(c, -1, dtype=np.int64)
        if in_cluster.size:
            cl = self._clusters[order]
            self._cl_rank[order] = np.arange(order.size) - self._cl_start[cl]

    def _set_neighbors(self, idx: np.ndarray, dist: np.ndarray) -> None:
        """Store each class's nearest classes and derive ``exp(−β·d/mean_d)`` cumulative tables.

        ``mean_d`` is the mean of the anchor's own neighbour distances, so β means the same for an
        anchor in a dense region as for one in a sparse region. Rows whose neighbours are all
        at distance 0 (or not placed at all) fall back to uniform.
        """
        self._nbr = np.asarray(idx, dtype=np.int64)
        self._nbr_dist = np.asarray(dist, dtype=np.float32)
        c, k = self._nbr.shape
        self._has_nbr = np.zeros(c, dtype=bool)
        self._nbr_p = np.zeros((c, k), dtype=np.float64)
        self._nbr_cdf = np.ones((c, k), dtype=np.float64)
        if k == 0:
            return
        self._has_nbr = (self._nbr >= 0).all(axis=1)
        d = self._nbr_dist[self._has_nbr].astype(np.float64)
        if d.size == 0:
            return
        mean = d.mean(axis=1, keepdims=True)
        logits = -self.distance_sharpness * np.divide(d, mean, out=np.zeros_like(d),
                                                      where=mean > 0)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]  # exactly 1 at the end and on any underflowed tail
        self._nbr_p[self._has_nbr] = p
        self._nbr_cdf[self._has_nbr] = cdf

    # ---- sampling ------------------------------------------------------------------------

    def _random_negative(self, anchor_cls: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Uniform over present classes except the anchor's: draw among K−1 slots and skip the
        anchor's own slot, which is exact (no rejection loop)."""
        k = self._present_idx.size
        j = _floor_index(u, k - 1)
        j += j >= self._rank[anchor_cls]
        return self._present_idx[j]

    def _negative_classes(self, anchor_cls: np.ndarray, coin: np.ndarray,
                          u: np.ndarray) -> np.ndarray:
        neg = self._random_negative(anchor_cls, u)
        if self.negative == "auto-clustering" and self._cl_members.size:
            cl = self._clusters[anchor_cls]
            take = (cl >= 0) & (coin < self.theta)
            if take.any():
                a, c = anchor_cls[take], cl[take]
                j = _floor_index(u[take], self._cl_size[c] - 1)
                j += j >= self._cl_rank[a]
                neg[take] = self._cl_members[self._cl_start[c] + j]
        elif self.negative == "distance" and self._nbr.shape[1]:
            take = self._has_nbr[anchor_cls] & (coin >= DISTANCE_UNIFORM_FLOOR)
            if take.any():
                a = anchor_cls[take]
                neg[take] = self._nbr.ravel()[_search_rows(self._nbr_cdf, a, u[take])]
        return neg

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` triplets as int64 sample-row indices ``(anchor, positive, negative)``.

        Six uniforms per triplet are drawn whatever the miners, so the RNG advances by the same
        amount on every call (what makes a restored sampler continue identically).
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be ≥ 0, got {n}")
        u = self._rng.random((6, n))
        cls = np.searchsorted(self._cdf, u[0] * self._cdf_total, side="right")
        np.minimum(cls, self._last_drawable, out=cls)
        cnt = self._count[cls]
        a_off = _floor_index(u[1], cnt)
        p_off = _floor_index(u[2], cnt - 1)
        p_off += (p_off >= a_off) & (cnt > 1)  # another sample, unless the class has only one
        base = self._start[cls]
        anchor = self._order[base + a_off]
        positive = self._order[base + p_off]
        neg_cls = self._negative_classes(cls, u[3], u[4])
        negative = self._order[self._start[neg_cls] + _floor_index(u[5], self._count[neg_cls])]
        return anchor, positive, negative

    # ---- epoch end -----------------------------------------------------------------------

    def update(self, centers: np.ndarray, mean_distance: np.ndarray) -> None:
        """Fold one epoch's class centers ``[C, D]`` and mean class spreads ``[C]`` (NaN rows for
        classes without samples) into the distributions of the configured miners."""
        c = self.num_classes
        centers = np.asarray(centers)
        mean_distance = np.asarray(mean_distance, dtype=np.float64)
        if centers.ndim != 2 or centers.shape[0] != c:
            raise ValueError(f"centers must be [{c}, D], got {centers.shape}")
        if mean_distance.shape != (c,):
            raise ValueError(f"mean_distance must be [{c}], got {mean_distance.shape}")
        if self.positive == "auto-probabilistic":
            self._set_probabilities(auto_probabilistic(
                mean_distance, self._probs, self.gamma, self.w, self._present))
        if self.negative in ("auto-clustering", "distance"):
            placed = self._present & np.isfinite(centers).all(axis=1)
            ids = np.flatnonzero(placed)
            sub = centers[ids]
            if self.negative == "auto-clustering":
                pairs, dist = closest_pairs(sub, self.eta)
                self._set_edges(ids[pairs], dist)
            else:
                idx, dist = nearest_neighbors(sub, DISTANCE_NEIGHBORS)
                full_i = np.full((c, idx.shape[1]), -1, dtype=np.int64)
                full_d = np.zeros((c, idx.shape[1]), dtype=np.float32)
                full_i[ids] = ids[idx]
                full_d[ids] = dist
                self._set_neighbors(full_i, full_d)
        self.updates += 1

    # ---- introspection (GUI, mining.h5) -------------------------------------------------

    @property
    def probabilities(self) -> np.ndarray:
        """float64 ``[C]``: the current anchor/positive class distribution (a copy)."""
        return self._probs.copy()

    @property
    def clusters(self) -> np.ndarray:
        """int64 ``[C]``: cluster id per class, −1 for none (always −1 unless auto-clustering)."""
        return self._clusters.copy()

    @property
    def cluster_edges(self) -> np.ndarray:
        """int64 ``[E, 2]``: the η closest center pairs ``(i < j)``, closest first."""
        return self._edges.copy()

    @property
    def cluster_edge_distances(self) -> np.ndarray:
        """float64 ``[E]``: center distance of each of :attr:`cluster_edges`."""
        return self._edge_dist.copy()

    @property
    def present(self) -> np.ndarray:
        """bool ``[C]``: classes with at least one drawable sample."""
        return self._present.copy()

    def negative_distribution(self, anchor_class: int) -> np.ndarray:
        """float64 ``[C]``: the probability of each negative class given ``anchor_class``.

        For ``hard`` this is the distribution sampled before the loss-based selection.
        """
        a = int(anchor_class)
        if not 0 <= a < self.num_classes:
            raise IndexError(f"anchor_class {a} outside 0..{self.num_classes - 1}")
        others = self._present.copy()
        others[a] = False
        out = uniform_probabilities(others)
        if self.negative == "auto-clustering" and self._clusters[a] >= 0:
            cl = self._clusters[a]
            members = self._cl_members[self._cl_start[cl]:self._cl_start[cl] + self._cl_size[cl]]
            members = members[members != a]
            out *= 1.0 - self.theta
            out[members] += self.theta / members.size
        elif self.negative == "distance" and self._nbr.shape[1] and self._has_nbr[a]:
            out *= DISTANCE_UNIFORM_FLOOR
            out[self._nbr[a]] += (1.0 - DISTANCE_UNIFORM_FLOOR) * self._nbr_p[a]
        return out

    # ---- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything ``sample()`` depends on, as tensors and primitives only (checkpoints are
        read with ``torch.load(weights_only=True)``, which refuses numpy objects)."""
        return {
            "format": STATE_FORMAT,
            "positive": self.positive,
            "negative": self.negative,
            "num_classes": self.num_classes,
            "num_samples": self.num_samples,
            "labels_crc32": int(self._labels_crc),
            "seed": self.seed,
            "updates": self.updates,
            "rng": _rng_state_out(self._rng),
            "probabilities": _tensor(self._probs),
            "cluster_edges": _tensor(self._edges),
            "cluster_edge_distances": _tensor(self._edge_dist),
            "neighbors": _tensor(self._nbr.astype(np.int32)),
            "neighbor_distances": _tensor(self._nbr_dist),
        }

    def load_state_dict(self, state: dict[str, Any], strict: bool = False) -> None:
        """Restore a :meth:`state_dict`; afterwards ``sample()`` continues exactly as the saved
        sampler would have, given the same training labels and mining parameters.

        The class count must match. If the labels changed since the save (a CRC of them is
        stored) — e.g. drawings were added or samples excluded before a resume — the state is
        adapted: probabilities of classes that became empty are dropped and the rest
        renormalised, edges and neighbours touching them removed; the RNG is restored all the
        same, but the draws can no longer match the old sequence. ``strict=True`` refuses
        changed labels instead. Tables of a negative miner other than the configured one are
        ignored (the trainer refuses a resume that changes miners anyway).
        """
        if state.get("format") != STATE_FORMAT:
            raise SiamError(f"not a sampler state (format {state.get('format')!r})")
        if int(state["num_classes"]) != self.num_classes:
            raise SiamError(f"the checkpoint's sampler has {state['num_classes']} classes, "
                            f"the training set {self.num_classes}")
        same_labels = (int(state["num_samples"]) == self.num_samples
                       and int(state["labels_crc32"]) == self._labels_crc)
        if strict and not same_labels:
            raise SiamError("the checkpoint's sampler was built for different training labels "
                            "(the training set changed since it was saved)")
        probs = state["probabilities"].detach().cpu().numpy().astype(np.float64)
        if probs.shape != (self.num_classes,):
            raise SiamError(f"sampler state probabilities have shape {probs.shape}")
        if not same_labels:
            probs = np.where(self._present & np.isfinite(probs) & (probs > 0), probs, 0.0)
            total = float(probs.sum())
            probs = probs / total if total > 0 else uniform_probabilities(self._present)
        self._set_probabilities(probs)
        edges = state["cluster_edges"].detach().cpu().numpy().astype(np.int64).reshape(-1, 2)
        edist = state["cluster_edge_distances"].detach().cpu().numpy().astype(np.float64)
        nbr = state["neighbors"].detach().cpu().numpy().astype(np.int64)
        ndist = state["neighbor_distances"].detach().cpu().numpy().astype(np.float32)
        if nbr.ndim != 2 or nbr.shape[0] != self.num_classes or ndist.shape != nbr.shape:
            raise SiamError(f"sampler state neighbours have shape {nbr.shape}")
        if not same_labels:  # drop what points at classes that became empty
            ok = np.ones(len(edges), dtype=bool)
            if len(edges):
                ok = self._present[edges].all(axis=1)
            edges, edist = edges[ok], edist[ok]
            if nbr.shape[1]:
                refs_ok = np.where(nbr >= 0, self._present[nbr.clip(0)], True).all(axis=1)
                nbr[~self._present | ~refs_ok] = -1
        if self.negative == "auto-clustering":
            self._set_edges(edges, edist)
        else:
            self._set_edges(np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64))
        if self.negative == "distance":
            self._set_neighbors(nbr, ndist)
        else:
            self._set_neighbors(np.zeros((self.num_classes, 0), dtype=np.int64),
                                np.zeros((self.num_classes, 0), dtype=np.float32))
        self.updates = int(state["updates"])
        _rng_state_in(self._rng, state["rng"])


def make_sampler(labels: np.ndarray, num_classes: int, mining: MiningParams,
                 seed: int = 0) -> TripletSampler:
    """Build the sampler the config asks for (positive × negative miner)."""
    return TripletSampler(labels, num_classes, mining, seed=seed)
