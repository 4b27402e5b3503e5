"""Geometry of class centers for the miners: the η closest pairs, each class's nearest classes,
and the connected components of a pair graph.

All of it works blockwise: at C = 11,172 (or 50,000) classes the C×C distance matrix is never
held, only row blocks of ~:data:`BLOCK_ELEMENTS` entries and a running top-k, so memory stays
O(block + C·k). The closest pairs of many centers go through the exact cell search of
:mod:`siam_workbench.parts.miners.cells`, which compares far fewer than all pairs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Elements (float32) of one block of the blockwise distance computations: 2**21 → 8 MiB.
BLOCK_ELEMENTS = 1 << 21


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


#: From this many centers on, :func:`closest_pairs` first tries the cell search
#: (:mod:`siam_workbench.parts.miners.cells`); below it the dense search takes a few hundredths of
#: a second.
CELLS_FROM = 4096


def closest_pairs(
    centers: np.ndarray, eta: int, block_elements: int = BLOCK_ELEMENTS, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """The ``η`` closest pairs ``i < j`` among the rows of ``centers`` ``[K, D]``.

    Returns ``(pairs int64 [E, 2], distances float64 [E])`` sorted by distance (ties by pair),
    ``E = min(η, K(K−1)/2)``. ``method``: ``"dense"`` compares every pair blockwise;
    ``"cells"`` runs the exact cell search of :mod:`siam_workbench.parts.miners.cells` (the same
    pairs, near-linear in K on clustered centers) and falls back to dense where it would not pay;
    ``"auto"`` (default) is ``"cells"`` from :data:`CELLS_FROM` centers on.
    """
    k_rows = int(centers.shape[0])
    total_pairs = k_rows * (k_rows - 1) // 2
    eta = int(min(int(eta), total_pairs))
    if eta <= 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64)
    if method not in ("auto", "dense", "cells"):
        raise ValueError(f"closest_pairs: unknown method {method!r}")
    gid = None
    bound: list[float] = []
    if method == "cells" or (method == "auto" and k_rows >= CELLS_FROM):
        from siam_workbench.parts.miners.cells import cell_closest_pairs

        gid = cell_closest_pairs(centers, eta, bound=bound)
    if gid is None and bound and method == "auto" and bound[1] <= FAISS_RANGE_MAX:
        gid = _faiss_within(centers, bound[0])
    if gid is None:
        gid = _dense_closest_ids(centers, eta, block_elements)
    i, j = gid // k_rows, gid % k_rows
    dist = _exact_distances(centers, i, j)
    order = np.lexsort((j, i, dist))[:eta]  # the cell search may hand back a few more
    return np.stack([i[order], j[order]], axis=1).astype(np.int64), dist[order]


#: The faiss range search returns every pair within the bound at once: used only where the
#: cell search's first pass expects at most this many (many duplicates or ties would
#: otherwise fill memory; the dense search keeps only a running top-η).
FAISS_RANGE_MAX = 20_000_000


def _faiss_within(centers: np.ndarray, bound_sq: float) -> np.ndarray | None:
    """Pair ids ``i·K + j`` of every pair whose squared distance is at most ``bound_sq`` (an
    upper bound of the η-th, from the cell search's first pass), through faiss's exact range
    search where faiss is installed (:mod:`siam_workbench.parts.ann`); ``None`` without faiss.

    Still every pair compared, like :func:`_dense_closest_ids`, but faiss's kernel took
    15–40 % less CPU time on evenly spread centers (docs/RESULTS.md); the pairs are the same
    (centered float32 like ours, then re-ranked exactly by the caller)."""
    from siam_workbench.parts.ann import faiss_module

    faiss = faiss_module()
    if faiss is None:
        return None
    x, _ = _as_centered_tensor(centers)
    xs = np.ascontiguousarray(x.numpy())
    index = faiss.IndexFlatL2(xs.shape[1])
    index.add(xs)
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
    lims, _, found = index.range_search(xs, float(bound_sq))
    i = np.repeat(np.arange(xs.shape[0], dtype=np.int64), np.diff(lims.astype(np.int64)))
    j = found.astype(np.int64)
    keep = i < j
    return i[keep] * xs.shape[0] + j[keep]


def _dense_closest_ids(centers: np.ndarray, eta: int, block_elements: int) -> np.ndarray:
    """Pair ids ``i·K + j`` of the η closest pairs, comparing every pair blockwise.

    Never holds the K×K matrix: row blocks of ~``block_elements`` are compared with the rows
    after them (upper triangle only), and a running top-η is merged with ``torch.topk``. Once η
    candidates are known, a block contributes only its entries below the current η-th distance.
    Memory: O(block_elements + η); time O(K²).
    """
    k_rows = int(centers.shape[0])
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
    return best_i.numpy()


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
