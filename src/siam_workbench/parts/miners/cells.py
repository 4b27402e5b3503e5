"""Exact η closest pairs without comparing every pair: Voronoi cells and a certified bound.

The centers are split into cells of ~:data:`CELL_SIZE` by k-means (seeded, so the result is
reproducible). For a point ``a`` of cell ``A`` and any other cell ``B``, let ``h(a, B)`` be the
distance from ``a`` to the bisecting hyperplane of the two cells' centroids. Every ``b`` in ``B``
lies on the other side of that plane, so ``‖a − b‖ ≥ h(a, B) + h(b, A)``. Hence a pair at
distance ``≤ τ`` has ``h(a, B) ≤ τ/2`` or ``h(b, A) ≤ τ/2``, and comparing each point only with
the members of the cells whose plane is within ``τ/2`` of it finds *every* such pair.

Two passes: the first compares each point with its own cell and its few nearest cells, which
gives η real pairs and so an upper bound ``τ`` of the η-th smallest distance; the second scans
the cells within ``τ/2`` that the first skipped. The result is the same pair set as the dense
search (:func:`siam_workbench.parts.miners.geometry.closest_pairs` with ``method="dense"``), not an
approximation. How much it saves depends on the centers: clustered centers (what training makes
of look-alike classes) need a few cells per point, near-linear in C; centers spread evenly over
all 25 dimensions leave most cells within ``τ/2`` (the curse of dimensionality), and then
:meth:`CellPlan.probes` stops at a budget and hands back to the dense search. docs/ENGINE.md
has the figures.

Memory: O(C·probes) indices and one block of ``|queries of a cell| × |cell|`` distances.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Target members per cell. Smaller cells prune better (fewer wasted comparisons per probed
#: cell) but cost more centroids (the point×centroid pass is C²/CELL_SIZE).
CELL_SIZE = 64
#: Cells each point compares with in the first pass (its own included).
FIRST_PROBES = 4
#: Lloyd iterations of the k-means (on a subsample of :data:`KMEANS_SAMPLE` points per cell).
KMEANS_ITERS = 5
KMEANS_SAMPLE = 16
#: Above this share of the dense search's comparisons the cells are not worth their overhead.
WORTH_IT = 0.5
#: Rows of the point×centroid distance pass per block.
_ROW_BLOCK = 4096


def _kmeans(x: torch.Tensor, n_cells: int, gen: torch.Generator) -> torch.Tensor:
    """Centroids ``[n_cells, D]`` from a seeded subsample; empty cells keep their seed
    point. Quality only affects speed, never the result."""
    k = x.shape[0]
    sample = min(k, KMEANS_SAMPLE * n_cells)
    xs = x[torch.randperm(k, generator=gen)[:sample]] if sample < k else x
    cent = xs[torch.randperm(xs.shape[0], generator=gen)[:n_cells]].clone()
    for _ in range(KMEANS_ITERS):
        near = _nearest_centroid(xs, cent)
        total = torch.zeros_like(cent).index_add_(0, near, xs)
        count = torch.bincount(near, minlength=n_cells)
        ok = count > 0
        cent[ok] = total[ok] / count[ok, None].to(cent.dtype)
    return cent


def _nearest_centroid(x: torch.Tensor, cent: torch.Tensor) -> torch.Tensor:
    csq = (cent * cent).sum(1)
    out = torch.empty(x.shape[0], dtype=torch.int64)
    for s in range(0, x.shape[0], _ROW_BLOCK):
        d = torch.addmm(csq[None], x[s:s + _ROW_BLOCK], cent.T, alpha=-2.0)
        out[s:s + _ROW_BLOCK] = d.argmin(1)
    return out


def _two_level_cells(x: torch.Tensor, cell_size: int, gen: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(cell of each point, centroids): k-means into ~√L groups, then each group into cells of
    ~``cell_size``. Near-linear, unlike one k-means with C/cell_size centroids (C²/cell_size);
    a point may end up nearer another group's centroid, which costs a few more probes only."""
    k = x.shape[0]
    n_groups = max(1, round(math.sqrt(k / cell_size)))
    group = _nearest_centroid(x, _kmeans(x, n_groups, gen))
    own = torch.empty(k, dtype=torch.int64)
    cents = []
    n = 0
    for g in range(n_groups):
        idx = (group == g).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        xg = x[idx]
        cent = _kmeans(xg, max(1, math.ceil(idx.numel() / cell_size)), gen)
        near = _nearest_centroid(xg, cent)
        used, near = torch.unique(near, return_inverse=True)
        own[idx] = near + n
        cents.append(cent[used])
        n += used.numel()
    return own, torch.cat(cents)


class CellPlan:
    """Cells of the centers (float32): members per cell, centroids, radii, centroid gaps."""

    def __init__(self, x: torch.Tensor, cell_size: int = CELL_SIZE) -> None:
        own, self.cent = _two_level_cells(x, cell_size, torch.Generator().manual_seed(0))
        self.n_cells = int(self.cent.shape[0])
        #: Row ``r`` of :attr:`x` is center ``ids[r]``; rows are grouped by cell, so a cell's
        #: members are the slice ``start[a]:start[a+1]`` (no gathers in the scans).
        self.ids = torch.argsort(own, stable=True)
        self.x = x[self.ids]
        self.own = own[self.ids]
        self.count = torch.bincount(self.own, minlength=self.n_cells)
        self.start = torch.zeros(self.n_cells + 1, dtype=torch.int64)
        self.start[1:] = torch.cumsum(self.count, 0)
        self._bounds = self.start.tolist()
        x = self.x
        dist = (x - self.cent[self.own]).norm(dim=1)
        self.radius = torch.zeros(self.n_cells).scatter_reduce_(0, self.own, dist, "amax")
        self.gap = torch.cdist(self.cent, self.cent)
        # Rounding of ‖c‖² − 2a·c in float32, with room to spare: it only widens the scan.
        scale = float((x * x).sum(1).max()) ** 0.5 + float(self.cent.norm(dim=1).max())
        self._slack = 1e-5 * scale * scale + 1e-30

    def rows(self, a: int) -> slice:
        return slice(self._bounds[a], self._bounds[a + 1])

    def neighbours(self, m: int) -> torch.Tensor:
        """``[n_cells, m]``: each cell itself first, then its nearest cells by centroid."""
        m = min(m, self.n_cells)
        gap = self.gap.clone()
        gap.fill_diagonal_(-1.0)
        return torch.topk(gap, m, dim=1, largest=False).indices

    def probes(self, radius: float, done: torch.Tensor, budget: float = math.inf
               ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(cell, point) pairs, grouped by cell: every cell ``B`` whose plane with the point's own
        cell ``A`` lies within ``radius`` of it, except the cells ``done[A]`` already compared;
        ``None`` as soon as scanning them would compute more than ``budget`` distances.

        The signed distance to the plane is ``(‖a−c_B‖² − ‖a−c_A‖²) / (2‖c_A−c_B‖)``, which is
        at least ``‖c_A−c_B‖/2 − r_A`` (r_A: the cell's radius), so far cells are ruled out from
        the centroids alone. It is compared without dividing, so coinciding centroids are always
        within. Blocks of :data:`_ROW_BLOCK` points against all centroids (one GEMM each): a few
        dozen calls at any C, where a loop over cells made ~C/64 small ones."""
        csq = (self.cent * self.cent).sum(1)
        skip = torch.zeros(self.n_cells, self.n_cells, dtype=torch.bool)
        skip.scatter_(1, done, True)
        reach = (self.gap <= 2.0 * (radius + self.radius[:, None]) + 1e-5 * (1.0 + self.gap))
        reach &= ~skip
        limit = 2.0 * radius * self.gap + self._slack
        limit.masked_fill_(~reach, -math.inf)
        cells, points = [], []
        work = 0
        k = self.x.shape[0]
        for s in range(0, k, _ROW_BLOCK):
            xb, own = self.x[s:s + _ROW_BLOCK], self.own[s:s + _ROW_BLOCK]
            d2 = torch.addmm(csq[None], xb, self.cent.T, alpha=-2.0)
            d2 -= d2.gather(1, own[:, None])  # ‖a−c_B‖² − ‖a−c_A‖² (the ‖a‖² cancels)
            r, c = (d2 <= limit[own]).nonzero(as_tuple=True)
            work += int(self.count[c].sum())
            if work > budget:
                return None
            cells.append(c)
            points.append(r + s)
        if not cells:
            return torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64)
        cell = torch.cat(cells)
        point = torch.cat(points)
        order = torch.argsort(cell, stable=True)
        return cell[order], point[order]

    def work(self, cell: torch.Tensor) -> int:
        """Distances a scan of these (cell, point) pairs computes."""
        return int(self.count[cell].sum())


class _TopPairs:
    """Running η smallest (squared distance, pair id) with duplicates merged lazily."""

    def __init__(self, eta: int, k: int) -> None:
        self.eta, self.k = eta, k
        self.v = torch.empty(0, dtype=torch.float32)
        self.g = torch.empty(0, dtype=torch.int64)
        self.pend_v: list[torch.Tensor] = []
        self.pend_g: list[torch.Tensor] = []
        self.pending = 0
        self.tau = math.inf

    def add(self, v: torch.Tensor, g: torch.Tensor) -> None:
        if v.numel():
            self.pend_v.append(v)
            self.pend_g.append(g)
            self.pending += v.numel()
            if self.pending > 2 * self.eta + 65536:
                self.compact()

    def compact(self) -> None:
        v = torch.cat([self.v, *self.pend_v])
        g = torch.cat([self.g, *self.pend_g])
        self.pend_v, self.pend_g, self.pending = [], [], 0
        g, first = _unique_first(g)
        v = v[first]
        if v.numel() > self.eta:
            v, t = torch.topk(v, self.eta, largest=False, sorted=False)
            g = g[t]
        self.v, self.g = v, g
        if v.numel() >= self.eta:
            self.tau = float(v.max())


def _unique_first(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted unique values of ``g`` and the index of one occurrence of each."""
    sg, order = torch.sort(g, stable=True)
    keep = torch.ones_like(sg, dtype=torch.bool)
    keep[1:] = sg[1:] != sg[:-1]
    return sg[keep], order[keep]


def _scan_neighbours(plan: CellPlan, sq: torch.Tensor, nbr: torch.Tensor,
                     top: _TopPairs) -> None:
    """First pass: each cell against itself (upper triangle) and its listed neighbour cells."""
    x, k = plan.x, plan.x.shape[0]
    for a in range(plan.n_cells):
        mem = plan.rows(a)
        other = torch.cat([torch.arange(plan._bounds[b], plan._bounds[b + 1])
                           for b in nbr[a].tolist()])
        d2 = torch.addmm(sq[other][None], x[mem], x[other].T, alpha=-2.0)
        d2 += sq[mem, None]
        n = mem.stop - mem.start
        d2[:, :n].masked_fill_(torch.ones(n, n, dtype=torch.bool).tril(), math.inf)
        _keep(d2, torch.arange(mem.start, mem.stop), other, top, k)


def _scan_probes(plan: CellPlan, sq: torch.Tensor, cell: torch.Tensor, point: torch.Tensor,
                 top: _TopPairs) -> None:
    """Second pass: each listed point against every member of the listed (other) cell."""
    x, k = plan.x, plan.x.shape[0]
    bounds = torch.searchsorted(cell, torch.arange(plan.n_cells + 1)).tolist()
    for b in torch.unique(cell).tolist():
        q = point[bounds[b]:bounds[b + 1]]
        mem = plan.rows(b)
        d2 = torch.addmm(sq[mem][None], x[q], x[mem].T, alpha=-2.0)
        d2 += sq[q][:, None]
        _keep(d2, q, mem.start, top, k)


def _keep(d2: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor | int, top: _TopPairs,
          k: int) -> None:
    """Offer the entries under τ to ``top`` (``cols`` an int: columns start there)."""
    if math.isfinite(top.tau):
        hit = d2 < top.tau
        if not bool(hit.any()):
            return
        r, c = hit.nonzero(as_tuple=True)
        v = d2[r, c]
    else:
        flat = d2.reshape(-1)
        idx = torch.isfinite(flat).nonzero().squeeze(1)
        v = flat[idx]
        r, c = idx // d2.shape[1], idx % d2.shape[1]
    i, j = rows[r], (c + cols if isinstance(cols, int) else cols[c])
    top.add(v, torch.minimum(i, j) * k + torch.maximum(i, j))


def cell_closest_pairs(centers: np.ndarray, eta: int, worth_it: float = WORTH_IT
                       ) -> np.ndarray | None:
    """Pair ids ``i·K + j`` (``i < j``) of the η closest pairs, or ``None`` when the cells would
    compare more than ``worth_it`` of all pairs (the caller then runs the dense search)."""
    k = int(centers.shape[0])
    x = torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float32))
    x = x - x.mean(dim=0, keepdim=True)
    plan = CellPlan(x)
    sq = (plan.x * plan.x).sum(dim=1)
    dense_work = k * (k - 1) / 2
    top = _TopPairs(eta, k)
    nbr = plan.neighbours(FIRST_PROBES)
    _scan_neighbours(plan, sq, nbr, top)
    top.compact()
    if top.v.numel() < eta:
        return None
    # The float32 ranking values err by ≈ 1e-6 of the squared norms: the radius errs on the
    # generous side, which costs time, never a pair.
    err = 1e-5 * float(2.0 * sq.max() + 1.0)
    radius = 0.5 * math.sqrt(max(top.tau, 0.0) + err) * (1.0 + 1e-6)
    # Stop as soon as the second pass would cost more than the dense search's share: on evenly
    # spread centers most cells lie within τ/2 of most points (the curse of dimensionality).
    found = plan.probes(radius, nbr, budget=worth_it * dense_work)
    if found is None:
        return None
    cell, point = found
    _scan_probes(plan, sq, cell, point, top)
    top.compact()
    i, j = plan.ids[top.g // k], plan.ids[top.g % k]  # rows of plan.x → center ids
    return (torch.minimum(i, j) * k + torch.maximum(i, j)).numpy()
