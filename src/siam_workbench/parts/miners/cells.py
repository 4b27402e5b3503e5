"""Exact η closest pairs without comparing every pair: k-means cells and a certified bound.

The centers are split into cells of ~:data:`CELL_SIZE` by k-means (seeded, so the result is
reproducible). For a point ``a`` of cell ``A`` and any other cell ``B``, let ``h(a, B)`` be the
signed distance from ``a`` to the bisecting hyperplane of the two cells' centroids (positive on
``A``'s side). Projecting ``b − a`` on the plane's normal gives ``‖a − b‖ ≥ h(a, B) + h(b, A)``
for every ``b`` in ``B``, whatever side each point lies on. Hence a pair at distance ``≤ τ`` has
``h(a, B) ≤ τ/2`` or ``h(b, A) ≤ τ/2``: comparing each point with the cells whose plane is within
``τ/2`` of it finds *every* such pair.

Two passes: the first compares each cell with itself (and its FIRST_PROBES − 1 nearest), giving η
real pairs and so an upper bound ``τ`` of the η-th smallest distance; the second compares the
cell pairs within ``τ/2`` that the first skipped. All comparisons run on **tiles** (a cell's
rows in runs of at most :data:`TILE`, padded), as a few batched matrix products of tile pairs,
not a Python loop over cells. The result is every pair at most ``τ`` apart (up to a rounding
margin), so the caller's exact float64 re-ranking gives the true η closest pairs, not an
approximation.

How much it saves depends on the centers: clustered centers (what training makes of look-alike
classes; trained 25-d centers have ~8 strong principal directions) need a few cells per point,
near-linear in C; centers spread evenly over all 25 dimensions leave most cells within ``τ/2``
(the curse of dimensionality), and then the search stops at a budget and hands back to the
dense search. docs/RESULTS.md has the figures.

Memory: O(C · reachable cells) for the plane test and one chunk of tile-pair distances.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Target members per cell. Smaller cells prune better (fewer wasted comparisons per probed
#: cell) but cost more centroids; 48 keeps most cells within one tile.
CELL_SIZE = 48
#: Rows per tile: a cell's members in runs of at most this many (padded), the unit of the
#: batched comparisons.
TILE = 64
#: Cells each cell compares with in the first pass (its own included). Its own alone gives a
#: bound τ within a few % of the true one on clustered centers, at a third of the cost of 3.
FIRST_PROBES = 1
#: Lloyd iterations of the k-means (on a subsample of :data:`KMEANS_SAMPLE` points per cell).
KMEANS_ITERS = 5
KMEANS_SAMPLE = 16
#: Above this share of the dense search's comparisons the cells are not worth their overhead
#: (a distance of the cells costs ~2.5 of the dense search's one large matrix product).
WORTH_IT = 0.3
#: Rows of the point×centroid distance pass per block.
_ROW_BLOCK = 4096
#: Tile pairs per batched matrix product (256 × 64 × 64 floats = 4 MiB).
_PAIR_CHUNK = 256
#: Tiles per block of the plane test (against the centroids their cells can reach).
_PLANE_TILES = 16


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
    order = torch.argsort(group, stable=True)
    bounds = torch.searchsorted(group[order], torch.arange(n_groups + 1)).tolist()
    for g in range(n_groups):
        idx = order[bounds[g]:bounds[g + 1]]
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


def _expand(a: torch.Tensor, b: torch.Tensor, first: torch.Tensor, ntiles: torch.Tensor
            ) -> torch.Tensor:
    """Tile pairs ``(s, t)`` (``s ≤ t``, unique, as ids ``s·T + t`` with T tiles) of the cell
    pairs ``(a, b)``: every tile of ``a`` with every tile of ``b``."""
    n = ntiles[a] * ntiles[b]
    which = torch.repeat_interleave(torch.arange(a.numel()), n)
    local = torch.arange(int(n.sum())) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
    tb = ntiles[b][which]
    s = first[a][which] + local // tb
    t = first[b][which] + local % tb
    total = int(ntiles.sum())
    return torch.unique(torch.minimum(s, t) * total + torch.maximum(s, t))


class _Tiles:
    """The centers grouped by cell and cut into padded tiles of :data:`TILE` rows."""

    def __init__(self, x: torch.Tensor) -> None:
        own, self.cent = _two_level_cells(x, CELL_SIZE, torch.Generator().manual_seed(0))
        self.n_cells = int(self.cent.shape[0])
        order = torch.argsort(own, stable=True)
        self.ids = order  # row r of the sorted centers is center ids[r]
        xs, own = x[order], own[order]
        self.xs, self.own = xs, own
        count = torch.bincount(own, minlength=self.n_cells)
        start = torch.cumsum(count, 0) - count
        self.ntiles = (count + TILE - 1) // TILE
        self.first = torch.cumsum(self.ntiles, 0) - self.ntiles  # first tile of each cell
        self.n_tiles = int(self.ntiles.sum())
        tile_cell = torch.repeat_interleave(torch.arange(self.n_cells), self.ntiles)
        tile_start = start[tile_cell] + (torch.arange(self.n_tiles) - self.first[tile_cell]) * TILE
        tile_end = start[tile_cell] + count[tile_cell]
        rows = tile_start[:, None] + torch.arange(TILE)[None]
        valid = rows < tile_end[:, None]
        self.valid, self.tile_cell = valid, tile_cell
        self.rows = torch.where(valid, rows, 0)  # [n_tiles, TILE] rows of xs
        sq = (xs * xs).sum(1)
        self.sq = sq
        self.xp = xs[self.rows]  # [n_tiles, TILE, D]
        self.sqp = torch.where(valid, sq[self.rows], math.inf)
        self.tile_of_row = torch.empty(xs.shape[0], dtype=torch.int64)
        self.tile_of_row[self.rows[valid]] = (
            torch.arange(self.n_tiles)[:, None].expand(-1, TILE)[valid])
        dist = (xs - self.cent[own]).norm(dim=1)
        self.radius = torch.zeros(self.n_cells).scatter_reduce_(0, own, dist, "amax")
        self.gap = torch.cdist(self.cent, self.cent)
        # Rounding of ‖c‖² − 2a·c in float32, with room to spare: it only widens the scan.
        scale = float(sq.max()) ** 0.5 + float(self.cent.norm(dim=1).max())
        self.slack = 1e-5 * scale * scale + 1e-30
        self.upper = torch.ones(TILE, TILE, dtype=torch.bool).triu(1)

    def nearest_cells(self, m: int) -> torch.Tensor:
        """``[n_cells, m]``: each cell itself first, then its nearest cells by centroid."""
        m = min(m, self.n_cells)
        gap = self.gap.clone()
        gap.fill_diagonal_(-1.0)
        return torch.topk(gap, m, dim=1, largest=False).indices


class _Best:
    """The smallest squared distances seen so far, with their pair ids; ``tau`` is the η-th
    smallest once η are known. Entries up to ``tau + margin`` are all kept, so that the exact
    re-ranking can settle pairs whose float32 values are within rounding of the η-th."""

    def __init__(self, eta: int, margin: float) -> None:
        self.eta, self.margin = eta, margin
        #: At most this many are kept: with massive exact ties (many duplicate centers) "all
        #: within the margin" could be every pair, and any η of exactly tied pairs will do.
        self.cap = 2 * eta + 65536
        #: Entries offered under the limit of their time (an over-count of the pairs within
        #: the final bound: the limit only falls).
        self.offered = 0
        self.v = torch.empty(0, dtype=torch.float32)
        self.g = torch.empty(0, dtype=torch.int64)
        self.tau = math.inf

    def add(self, v: torch.Tensor, g: torch.Tensor) -> None:
        v, g = torch.cat([self.v, v]), torch.cat([self.g, g])
        if v.numel() > self.eta:
            # A pair may come twice (each end probing the other's cell): count it once.
            g, first = _unique_first(g)
            v = v[first]
        if v.numel() >= self.eta:
            tau = float(torch.kthvalue(v, self.eta).values)
            keep = v <= tau + self.margin
            v, g = v[keep], g[keep]
            if v.numel() > self.cap:
                v, t = torch.topk(v, self.cap, largest=False, sorted=False)
                g = g[t]
            self.tau = tau
        self.v, self.g = v, g

    @property
    def limit(self) -> float:
        return self.tau + self.margin


def _unique_first(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted unique values of ``g`` and the index of one occurrence of each."""
    sg, order = torch.sort(g, stable=True)
    keep = torch.ones_like(sg, dtype=torch.bool)
    keep[1:] = sg[1:] != sg[:-1]
    return sg[keep], order[keep]


def _chunk_bound(flat: torch.Tensor, eta: int) -> float:
    """The η-th smallest finite value of ``flat`` (its largest finite one if fewer): the
    entries up to it hold this chunk's share of the η smallest."""
    fin = flat[torch.isfinite(flat)]
    if fin.numel() == 0:
        return -math.inf
    return float(torch.kthvalue(fin, min(eta, fin.numel())).values)


def _scan(tl: _Tiles, pairs: torch.Tensor, best: _Best) -> None:
    """Every center pair of the tile pairs ``pairs`` (ids ``s·T + t``, ``s ≤ t``; a tile with
    itself: its upper triangle), offered to ``best`` where under its limit."""
    n, k = tl.n_tiles, tl.xs.shape[0]
    for c0 in range(0, pairs.numel(), _PAIR_CHUNK):
        p = pairs[c0:c0 + _PAIR_CHUNK]
        s, t = p // n, p % n
        d2 = torch.baddbmm(tl.sqp[t][:, None, :], tl.xp[s], tl.xp[t].transpose(1, 2),
                           alpha=-2.0)
        d2 += tl.sqp[s][:, :, None]
        same = s == t
        if bool(same.any()):
            d2[same] = d2[same].masked_fill(~tl.upper, math.inf)
        lim = best.limit
        if not math.isfinite(lim):  # no bound yet: this chunk's η smallest give one
            lim = _chunk_bound(d2.view(-1), best.eta) + best.margin
        q, r, c = (d2 <= lim).nonzero(as_tuple=True)
        if q.numel() == 0:
            continue
        best.offered += q.numel()
        i = tl.ids[tl.rows[s[q], r]]
        j = tl.ids[tl.rows[t[q], c]]
        best.add(d2[q, r, c], torch.minimum(i, j) * k + torch.maximum(i, j))


def _plane_probes(tl: _Tiles, radius: float, done: torch.Tensor, budget: float
                  ) -> torch.Tensor | None:
    """(point row, tile) probes, as ids ``row·T + tile``: each point against every tile of
    each cell whose plane with the point's own cell lies within ``radius`` of the point, except
    the cell pairs of ``done`` (compared already, in either direction); ``None`` as soon as the
    work passes ``budget`` distances.

    ``h(a, B) = (‖a−c_B‖² − ‖a−c_A‖²) / (2‖c_A−c_B‖) ≥ ‖c_A−c_B‖/2 − r_A``, so cells farther than
    ``2(radius + r_A)`` are ruled out from the centroids alone; the rest are tested point by
    point (compared without dividing, so coinciding centroids are always within)."""
    nc = tl.n_cells
    reach = tl.gap <= 2.0 * (radius + tl.radius[:, None]) + 1e-5 * (1.0 + tl.gap)
    ar = torch.arange(nc)[:, None]
    reach[ar, done] = False
    reach[done, ar] = False
    count = torch.bincount(tl.own, minlength=nc)
    if float((count[:, None] * reach).sum()) > budget:  # a plane test costs about a distance
        return None
    csq = (tl.cent * tl.cent).sum(1)
    limit = (2.0 * radius) * tl.gap + tl.slack
    limit.masked_fill_(~reach, -math.inf)
    found = []
    work = 0.0
    nt = tl.n_tiles
    # One matrix product gives ‖a−c_B‖² − ‖a−c_A‖² = ‖c_B‖² − 2a·c_B − (‖c_A‖² − 2a·c_A):
    # rows [a, 1, own] against columns [−2c_B, ‖c_B‖², −1]; padding rows get own = −inf, so
    # their values are +inf, never within.
    own_c = tl.cent[tl.tile_cell]  # [n_tiles, D]
    own_term = csq[tl.tile_cell][:, None] - 2.0 * torch.einsum("trd,td->tr", tl.xp, own_c)
    own_term.masked_fill_(~tl.valid, -math.inf)
    dim = tl.xp.shape[2]
    rows_aug = torch.cat([tl.xp, torch.ones_like(own_term)[:, :, None], own_term[:, :, None]],
                         dim=2).reshape(-1, dim + 2)
    cols_aug = torch.cat([-2.0 * tl.cent, csq[:, None], -torch.ones(nc, 1)], dim=1)
    for t0 in range(0, nt, _PLANE_TILES):  # tiles are ordered by cell
        t1 = min(nt, t0 + _PLANE_TILES)
        cells = tl.tile_cell[t0:t1]
        cols = reach[cells].any(0).nonzero().squeeze(1)
        if cols.numel() == 0:
            continue
        xb = rows_aug[t0 * TILE:t1 * TILE]
        d2 = torch.mm(xb, (cols_aug if cols.numel() == nc else cols_aug[cols]).T)
        d2 = d2.view(t1 - t0, TILE, cols.numel())
        q, r, c = (d2 <= limit[cells][:, cols][:, None, :]).nonzero(as_tuple=True)
        bc = cols[c]
        work += float(count[bc].sum())
        # Projected from the tiles seen so far: evenly spread centers give up early.
        if work * (nt / t1 if t1 * 8 >= nt else 1.0) > budget:
            return None
        n = tl.ntiles[bc]
        which = torch.repeat_interleave(torch.arange(bc.numel()), n)
        local = torch.arange(int(n.sum())) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
        pt = tl.rows[q + t0, r]
        found.append(pt[which] * nt + tl.first[bc][which] + local)
    if not found:
        return torch.empty(0, dtype=torch.int64)
    return torch.cat(found)


#: Query rows per block of the second pass (points probing the same tile, padded).
_QUERY_ROWS = 64


def _scan_probes(tl: _Tiles, probes: torch.Tensor, best: _Best) -> None:
    """Each probing point against the members of its probed tile: the probes grouped by tile
    into blocks of :data:`_QUERY_ROWS` points (padded), then batched matrix products."""
    if probes.numel() == 0:
        return
    n, k, q = tl.n_tiles, tl.xs.shape[0], _QUERY_ROWS
    tile = probes % n
    order = torch.argsort(tile, stable=True)
    pt, tile = probes[order] // n, tile[order]
    cnt = torch.bincount(tile, minlength=n)
    blocks = (cnt + q - 1) // q
    first_slot = torch.cumsum(blocks, 0) - blocks  # first block of each tile
    rank = torch.arange(pt.numel()) - (torch.cumsum(cnt, 0) - cnt)[tile]
    slot = (first_slot[tile] + rank // q) * q + rank % q
    n_blocks = int(blocks.sum())
    qrow = torch.zeros(n_blocks * q, dtype=torch.int64)
    qsq = torch.full((n_blocks * q,), math.inf)
    qrow[slot] = pt
    qsq[slot] = tl.sq[pt]
    qrow, qsq = qrow.view(n_blocks, q), qsq.view(n_blocks, q)
    btile = torch.repeat_interleave(torch.arange(n), blocks)
    per = max(1, (_PAIR_CHUNK * TILE) // q)
    for c0 in range(0, n_blocks, per):
        r_ = qrow[c0:c0 + per]
        t = btile[c0:c0 + per]
        d2 = torch.baddbmm(tl.sqp[t][:, None, :], tl.xs[r_], tl.xp[t].transpose(1, 2),
                           alpha=-2.0)
        d2 += qsq[c0:c0 + per][:, :, None]
        lim = best.limit
        hit = d2.view(d2.shape[0], -1).amin(1) <= lim  # most blocks hold no new pair
        if not bool(hit.any()):
            continue
        r_, t, d2 = r_[hit], t[hit], d2[hit]
        b, r, c = (d2 <= lim).nonzero(as_tuple=True)
        if b.numel() == 0:
            continue
        i = tl.ids[r_[b, r]]
        j = tl.ids[tl.rows[t[b], c]]
        keep = i != j
        i, j = i[keep], j[keep]
        best.add(d2[b, r, c][keep], torch.minimum(i, j) * k + torch.maximum(i, j))


def cell_closest_pairs(centers: np.ndarray, eta: int, worth_it: float = WORTH_IT,
                       bound: list[float] | None = None) -> np.ndarray | None:
    """Pair ids ``i·K + j`` (``i < j``) holding the η closest pairs (and any others within
    float32 rounding of the η-th: the caller re-ranks exactly and keeps η), or ``None`` when the
    cells would compare more than ``worth_it`` of all pairs (the caller then runs the dense
    search). ``bound``, when given, receives an upper bound of the η-th smallest *squared*
    distance (with the rounding margin) once the first pass has found η pairs, and an estimate
    of how many pairs lie within it, so that a fallback can search within it."""
    k = int(centers.shape[0])
    x = torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float32))
    x = x - x.mean(dim=0, keepdim=True)
    tl = _Tiles(x)
    dense_work = k * (k - 1) / 2
    budget = worth_it * dense_work
    # The float32 ranking values err by ≈ 1e-6 of the squared norms; keep a generous margin.
    err = 1e-5 * float(2.0 * tl.sq.max() + 1.0)
    best = _Best(eta, err)
    nbr = tl.nearest_cells(FIRST_PROBES)
    a = torch.arange(tl.n_cells)[:, None].expand_as(nbr).reshape(-1)
    first = _expand(a, nbr.reshape(-1), tl.first, tl.ntiles)
    # Each tile with itself first: those pairs alone give a good bound τ, which then filters
    # the rest (a pass that knows no bound keeps every distance it computes).
    n = tl.n_tiles
    first = first[torch.argsort((first // n != first % n).to(torch.int8), stable=True)]
    _scan(tl, first, best)
    if best.v.numel() < eta or not math.isfinite(best.tau):
        return None
    if bound is not None:
        # How many pairs lie within it, extrapolated from the first pass (whose near cells
        # hold more close pairs than average, so this errs high): a fallback that returns
        # every pair within the bound can tell when that would not fit in memory.
        seen = max(1, first.numel()) * TILE * TILE / 2
        bound += [best.tau + 2.0 * err, best.offered * dense_work / min(seen, dense_work)]
    radius = 0.5 * math.sqrt(max(best.tau, 0.0) + 2.0 * err) * (1.0 + 1e-6)
    # Stop as soon as the second pass would cost more than the dense search's share: on evenly
    # spread centers most cells lie within τ/2 of most points (the curse of dimensionality).
    probes = _plane_probes(tl, radius, nbr, budget)
    if probes is None:
        return None
    _scan_probes(tl, probes, best)
    return torch.unique(best.g).numpy()
