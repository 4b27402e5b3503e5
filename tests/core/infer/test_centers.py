"""Nearest-center search: exact against brute force on both selection paths, skips empty
classes, bounded blocks, parallel blocks agree with serial, stays on the input's device."""

from __future__ import annotations

import threading

import pytest
import torch

from siam_workbench.parts import centers as C
from siam_workbench.parts.centers import class_centers, embed, nearest_centers


def brute(emb: torch.Tensor, centers: torch.Tensor, k: int):
    valid = ~torch.isnan(centers).any(1)
    ids = torch.nonzero(valid).squeeze(1)
    d = torch.cdist(emb.double(), centers[valid].double())
    k = min(k, int(valid.sum()))
    v, i = torch.topk(d, k, dim=1, largest=False)
    return v.float(), ids[i]


# sizes on both selection paths: plain top-k (C < 4·64·k) and the two-stage one
@pytest.mark.parametrize("num,n,k", [(3, 9, 5), (40, 30, 5), (2000, 300, 5), (5000, 200, 1),
                                     (6000, 150, 12)])
def test_matches_brute_force(num, n, k):
    g = torch.Generator().manual_seed(num)
    centers = torch.randn(num, 25, generator=g) * 2
    centers[1::9] = float("nan")  # classes without samples are never returned
    emb = torch.randn(n, 25, generator=g) * 2
    d, i = nearest_centers(emb, centers, k=k)
    rd, ri = brute(emb, centers, k)
    assert d.shape == i.shape == rd.shape
    assert torch.equal(i, ri)
    assert torch.allclose(d, rd, atol=1e-4)
    assert not torch.isin(i, torch.arange(1, num, 9)).any()
    # the same through a prepared index, reused (torch's; faiss's: test_centers_faiss.py)
    index = C.CenterIndex(centers, backend="torch")
    for _ in range(2):
        d2, i2 = index.search(emb, k=k)
        assert torch.equal(i2, i) and torch.equal(d2, d)


def test_block_size_does_not_change_the_answer():
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(3000, 25, generator=g)
    emb = torch.randn(500, 25, generator=g)
    d0, i0 = nearest_centers(emb, centers, k=5)
    for elements in (1, 3000, 3001 * 7, 10**9):  # one row per block … everything at once
        d, i = nearest_centers(emb, centers, k=5, block_elements=elements)
        assert torch.equal(i, i0) and torch.allclose(d, d0)


def test_parallel_blocks_agree_and_restore_threads(monkeypatch):
    monkeypatch.setattr(C, "PARALLEL_MIN_WORK", 0)
    g = torch.Generator().manual_seed(2)
    centers = torch.randn(2500, 25, generator=g)
    emb = torch.randn(700, 25, generator=g)
    serial = nearest_centers(emb, centers, k=5, workers=1, block_elements=2560 * 16)
    started = []
    real = threading.Thread.start

    def spy(self):
        started.append(self)
        return real(self)

    monkeypatch.setattr(threading.Thread, "start", spy)
    before = torch.get_num_threads()
    par = nearest_centers(emb, centers, k=5, workers=3, block_elements=2560 * 16)
    assert len(started) == 2  # the caller is the third worker
    assert torch.get_num_threads() == before
    assert torch.equal(par[1], serial[1]) and torch.equal(par[0], serial[0])


def test_embed_in_parallel_blocks_matches_one_batch():
    from siam_workbench.model.backbones import build_model

    torch.manual_seed(0)
    model = build_model("mokin37", 25).train()
    images = (torch.rand(300, 37, 37) * 255).to(torch.uint8)
    with torch.no_grad():
        ref = torch.nn.functional.softplus(model.eval()(images.unsqueeze(1).float() / 255))
    model.train()
    before = torch.get_num_threads()
    for workers, batch in ((1, 128), (3, 16), (2, 1000)):
        got = embed(model, images, "cpu", batch=batch, workers=workers)
        assert got.shape == (300, 25) and not got.requires_grad
        assert torch.allclose(got, ref, atol=1e-5)
    assert model.training and torch.get_num_threads() == before
    assert embed(model, images[:0], "cpu").shape == (0, 25)


def test_run_blocks_reraises_a_worker_error():
    def run(start):
        if start == 5:
            raise KeyError("block 5")

    before = torch.get_num_threads()
    with pytest.raises(KeyError):
        C.run_blocks(run, list(range(10)), workers=3)
    assert torch.get_num_threads() == before


def test_run_model_reuses_its_index_until_centers_change():
    from pathlib import Path

    from siam_workbench.infer.evaluate import RunModel
    from siam_workbench.model.backbones import build_model

    centers = torch.randn(300, 25)
    run = RunModel(run_dir=Path("."), model=build_model("mokin37", 25), centers=centers,
                   classes=[str(i) for i in range(300)], space="raw", image_size=37,
                   device=torch.device("cpu"))
    images = (torch.rand(4, 37, 37) * 255).to(torch.uint8)
    _, i1 = run.classify(images)
    assert run.index() is run.index()
    first = run.index()
    run.centers[i1[:, 0]] = float("nan")  # in place: the nearest classes lose their samples
    _, i2 = run.classify(images)
    assert run.index() is not first
    assert not torch.isin(i2, i1[:, 0]).any()


def test_edge_cases():
    centers = torch.full((4, 3), float("nan"))
    d, i = nearest_centers(torch.randn(2, 3), centers, k=5)
    assert d.shape == (2, 0) and i.shape == (2, 0)
    d, i = nearest_centers(torch.zeros(0, 3), torch.randn(4, 3), k=2)
    assert d.shape == (0, 2) and i.dtype == torch.int64
    c64 = torch.randn(50, 4, dtype=torch.float64)
    d, i = nearest_centers(c64[:5], c64, k=1)
    assert d.dtype == torch.float64 and torch.equal(i[:, 0], torch.arange(5))
    half = nearest_centers(c64[:5].to(torch.bfloat16), c64, k=1)[0]
    assert half.dtype == torch.float32  # half-precision embeddings are upcast


def test_class_centers_means_spreads_and_empty_classes():
    emb = torch.tensor([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0], [5.0, 7.0], [9.0, 9.0]])
    labels = torch.tensor([0, 0, 2, 2, 3])
    centers, spread = class_centers(emb, labels, 5)
    assert torch.allclose(centers[0], torch.tensor([1.0, 0.0]))
    assert torch.allclose(centers[2], torch.tensor([5.0, 6.0]))
    assert torch.isnan(centers[1]).all() and torch.isnan(centers[4]).all()
    assert torch.allclose(spread[[0, 2, 3]], torch.tensor([1.0, 1.0, 0.0]))
    assert torch.isnan(spread[1])


@pytest.mark.cuda
def test_search_stays_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    g = torch.Generator().manual_seed(3)
    centers = torch.randn(12000, 25, generator=g)
    emb = torch.randn(3000, 25, generator=g)
    d, i = nearest_centers(emb.cuda(), centers, k=5)  # centers follow the embeddings
    assert d.is_cuda and i.is_cuda
    rd, ri = nearest_centers(emb, centers, k=5)
    assert (i.cpu() == ri).float().mean() > 0.999
    assert torch.allclose(d.cpu(), rd, atol=1e-3)
    cc, spread = class_centers(emb.cuda(), torch.arange(3000).cuda() % 7, 7)
    assert cc.is_cuda and spread.is_cuda
