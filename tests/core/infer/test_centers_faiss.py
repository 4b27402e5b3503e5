"""The query path's center search through faiss (an optional extra) gives the same top-k as the
torch search; without faiss the index falls back to torch (these run everywhere)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siam_workbench.parts.ann import faiss_module
from siam_workbench.parts.centers import CenterIndex


def _data(c: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, 25, generator=g)
    centers[::7] = float("nan")  # classes without samples are never returned
    emb = centers.nan_to_num(0.0)[torch.randint(0, c, (n,), generator=g)]
    return centers, emb + 0.3 * torch.randn(n, 25, generator=g)


def test_torch_backend_and_auto_without_faiss(monkeypatch):
    monkeypatch.setenv("SIAM_FAISS", "0")
    centers, emb = _data(500, 64, 0)
    index = CenterIndex(centers)
    assert index.backend == "torch"
    d, i = index.search(emb, k=5)
    want = torch.cdist(emb, centers.nan_to_num(float("inf")))
    assert torch.equal(i[:, 0], want.nan_to_num(float("inf")).argmin(1))
    assert bool((d[:, 1:] >= d[:, :-1]).all())
    with pytest.raises(ValueError):
        CenterIndex(centers, backend="faiss")
    with pytest.raises(ValueError):
        CenterIndex(centers, backend="nope")


@pytest.mark.skipif(faiss_module() is None, reason="faiss is not installed (optional extra: "
                    "pip install faiss-cpu); the torch fallback is tested above")
@pytest.mark.parametrize("c,k", [(3000, 5), (200, 1), (11, 20)])
def test_faiss_gives_the_torch_top_k(c, k):
    centers, emb = _data(c, 300, 1)
    fast = CenterIndex(centers, backend="faiss")
    ref = CenterIndex(centers, backend="torch")
    assert fast.backend == "faiss" and CenterIndex(centers).backend == "faiss"
    d1, i1 = fast.search(emb, k=k)
    d0, i0 = ref.search(emb, k=k)
    assert i1.shape == i0.shape == (300, min(k, int((~centers.isnan().any(1)).sum())))
    assert torch.equal(i1, i0)
    assert torch.allclose(d1, d0, rtol=1e-4, atol=1e-4)
    assert np.isin(i1.numpy(), np.flatnonzero(~centers.isnan().any(1).numpy())).all()
