"""The cell search for the η closest class-center pairs (src/siam_workbench/parts/miners/cells.py)
against the
dense search: the same pairs on uniform, clustered and tied centers, small C and C ≈ 5,000."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siam_workbench.parts.miners.cells import cell_closest_pairs
from siam_workbench.parts.miners.geometry import CELLS_FROM, closest_pairs


def make_centers(kind: str, c: int, seed: int, dim: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.standard_normal((c, dim)).astype(np.float32)
    if kind == "clustered":  # look-alike families of ~8 classes
        families = rng.standard_normal((max(1, c // 8), dim)) * 3
        pick = rng.integers(0, len(families), c)
        return (families[pick] + rng.standard_normal((c, dim)) * 0.6).astype(np.float32)
    if kind == "ties":  # a small integer lattice: many exactly equal distances, duplicates too
        return rng.integers(0, 3, size=(c, 6)).astype(np.float32)
    raise ValueError(kind)


def cells_pairs(centers: np.ndarray, eta: int) -> tuple[np.ndarray, np.ndarray]:
    """The cell search with no fallback to the dense one, re-ranked like closest_pairs."""
    k = len(centers)
    gid = cell_closest_pairs(centers, eta, worth_it=float("inf"))
    assert gid is not None
    i, j = gid // k, gid % k
    d = np.sqrt(((centers[i].astype(np.float64) - centers[j]) ** 2).sum(1))
    order = np.lexsort((j, i, d))[:eta]  # it may hand back pairs within rounding of the η-th
    return np.stack([i[order], j[order]], axis=1), d[order]


@pytest.mark.parametrize("kind", ["uniform", "clustered"])
@pytest.mark.parametrize("c,eta", [(40, 5), (300, 120), (300, 2000), (5000, 2150)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cells_equal_dense(kind, c, eta, seed):
    centers = make_centers(kind, c, seed)
    want, want_d = closest_pairs(centers, eta, method="dense")
    got, got_d = cells_pairs(centers, eta)
    assert got.shape == want.shape and np.all(got[:, 0] < got[:, 1])
    assert np.array_equal(got, want)
    assert np.allclose(got_d, want_d, rtol=1e-12, atol=0)


@pytest.mark.parametrize("c,eta", [(50, 30), (400, 900), (5000, 3000)])
def test_cells_with_ties_give_the_same_distances(c, eta):
    """Among tied pairs either search may keep any; the distances kept must be the same."""
    centers = make_centers("ties", c, 3)
    _, want_d = closest_pairs(centers, eta, method="dense")
    got, got_d = cells_pairs(centers, eta)
    assert len(np.unique(got, axis=0)) == len(got) == len(want_d)
    assert np.all(got[:, 0] < got[:, 1])
    assert np.allclose(got_d, want_d, atol=1e-9)


def test_auto_uses_cells_for_many_centers_and_matches_dense():
    centers = make_centers("clustered", CELLS_FROM + 500, 4)
    auto, auto_d = closest_pairs(centers, 1900)
    dense, dense_d = closest_pairs(centers, 1900, method="dense")
    assert np.array_equal(auto, dense) and np.allclose(auto_d, dense_d)
    assert cell_closest_pairs(centers, 1900) is not None  # clustered: the cells pay off


def test_cells_tiny_and_degenerate_inputs():
    two = np.array([[0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    pairs, dist = closest_pairs(two, 5, method="cells")
    assert pairs.tolist() == [[0, 1]] and np.allclose(dist, [5.0])
    same = np.zeros((20, 3), dtype=np.float32)  # every center equal: all distances 0
    pairs, dist = closest_pairs(same, 50, method="cells")
    assert len(np.unique(pairs, axis=0)) == 50 and np.all(dist == 0)
    with pytest.raises(ValueError):
        closest_pairs(two, 1, method="nope")


def brute_force(centers: np.ndarray, eta: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair's float64 distance, sorted by (distance, i, j): the exact answer."""
    c = torch.from_numpy(centers.astype(np.float64))
    full = torch.cdist(c, c, compute_mode="donot_use_mm_for_euclid_dist").numpy()  # no GEMM
    i, j = np.triu_indices(len(c), 1)
    d = full[i, j]
    order = np.lexsort((j, i, d))[:eta]
    return np.stack([i[order], j[order]], axis=1), d[order]


@pytest.mark.parametrize("kind,c,dim,eta", [
    ("uniform", 2000, 25, 860), ("clustered", 2000, 25, 860), ("uniform", 1500, 8, 3000),
    ("clustered", 1800, 3, 774), ("uniform", 600, 64, 258), ("clustered", 700, 2, 5000)])
def test_cells_equal_brute_force(kind, c, dim, eta):
    """The certified search against every pair in float64, at several dimensions."""
    centers = make_centers(kind, c, 5, dim=dim)
    want, want_d = brute_force(centers, eta)
    got, got_d = cells_pairs(centers, eta)
    auto, auto_d = closest_pairs(centers, eta, method="cells")
    assert np.array_equal(got, want) and np.array_equal(auto, want)
    assert np.allclose(got_d, want_d, rtol=1e-12, atol=0) and np.allclose(auto_d, want_d)


def test_cells_with_duplicates_and_a_far_outlier():
    """Exact duplicates (distance 0, many tied pairs) and one center far from the rest."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal((300, 25)).astype(np.float32)
    centers = np.concatenate([base, base[:120], base[:40], [np.full(25, 1e3, np.float32)]])
    for eta in (50, 160, 400):
        _, want_d = brute_force(centers, eta)
        got, got_d = cells_pairs(centers, eta)
        assert len(np.unique(got, axis=0)) == len(got) == eta
        assert np.all(got[:, 0] < got[:, 1])
        assert np.allclose(got_d, want_d, atol=1e-9)
        real = np.sqrt(((centers[got[:, 0]].astype(np.float64) - centers[got[:, 1]]) ** 2
                        ).sum(1))
        assert np.allclose(real, got_d)


@pytest.mark.parametrize("c,eta", [(2, 1), (3, 3), (5, 10), (9, 4)])
def test_cells_tiny_c(c, eta):
    centers = make_centers("uniform", c, 8)
    want, want_d = brute_force(centers, eta)
    got, got_d = cells_pairs(centers, eta)
    assert np.array_equal(got, want) and np.allclose(got_d, want_d)


def test_auto_falls_back_exactly_on_evenly_spread_centers(monkeypatch):
    """Uniform 25-d centers: the cells give up (work budget) and the fallback — faiss's range
    search within the first pass's bound where faiss is installed, the dense search otherwise
    — still returns the exact pairs."""
    centers = make_centers("uniform", CELLS_FROM + 904, 9)
    eta = round(0.43 * len(centers))
    assert cell_closest_pairs(centers, eta) is None
    want, want_d = closest_pairs(centers, eta, method="dense")
    for faiss_flag in ("1", "0"):
        monkeypatch.setenv("SIAM_FAISS", faiss_flag)
        got, got_d = closest_pairs(centers, eta)
        assert np.array_equal(got, want) and np.allclose(got_d, want_d, rtol=1e-12, atol=0)


def test_massive_ties_stay_bounded_and_exact(monkeypatch):
    """Thousands of identical centers (every pair at distance 0): the cell search keeps a
    bounded number of candidates, and the fallback (cells forced to give up) does not list
    all pairs at once through faiss; every path returns η distinct pairs at distance 0."""
    from siam_workbench.parts.miners import cells, geometry

    monkeypatch.setattr(geometry, "CELLS_FROM", 1000)  # "many centers", at a test's size
    centers = np.zeros((1200, 25), dtype=np.float32)
    centers[:50] = make_centers("uniform", 50, 10)
    eta = 300
    gid = cell_closest_pairs(centers, eta)
    assert gid is not None and eta <= len(gid) <= 2 * eta + 65536 < 1150 * 1149 // 2
    bound: list[float] = []
    assert cell_closest_pairs(centers, eta, worth_it=0.0, bound=bound) is None
    assert bound[1] > 3e5  # the first pass sees that nearly every pair is within the bound
    real = cells.cell_closest_pairs
    for give_up in (False, True):
        if give_up:
            monkeypatch.setattr(cells, "cell_closest_pairs",
                                lambda c, e, bound=None: real(c, e, worth_it=0.0, bound=bound))
            # as if this were 50,000 identical centers: the estimate rules faiss's list out
            monkeypatch.setattr(geometry, "FAISS_RANGE_MAX", int(bound[1] // 2))
            monkeypatch.setattr(geometry, "_faiss_within", None)  # must not be called
        for faiss_flag in ("1", "0"):
            monkeypatch.setenv("SIAM_FAISS", faiss_flag)
            pairs, dist = closest_pairs(centers, eta)
            assert len(np.unique(pairs, axis=0)) == eta and np.all(dist == 0)
            assert np.all(pairs >= 50) and np.all(pairs[:, 0] < pairs[:, 1])
