"""Batch-level triplet formation and the step's loss: P×K batches are valid and follow the
miners; the broadcast loss equals an explicit enumeration of every triplet; what the batch
miner keeps is exactly what the gradient comes from."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from siam_workbench.parts.losses import loss_class, metric_per_sample, triplet_per_sample
from siam_workbench.parts.miners import MINERS
from siam_workbench.parts.miners.sampler import make_sampler
from siam_workbench.project.config import Config
from siam_workbench.train.step import PKLayout, pk_step, triplet_step


def mining(**kw):
    return Config().replace({"mining": kw}).mining


def loss_fn(kind="metric", **kw):
    """A loss on the raw output (the explicit references below measure there), unless the
    test asks for the unit sphere."""
    if kind == "triplet":
        kw.setdefault("normalize", False)
    return loss_class(kind)(Config().replace({"loss": {"kind": kind, **kw}}).loss)


def batch_miner(name, **kw):
    m = mining(batch=name, **kw)
    return MINERS["batch"][name](4, np.ones(4, dtype=bool), m)


# ---- P×K batches -------------------------------------------------------------------------------


@pytest.mark.parametrize("positive,negative", list(itertools.product(
    MINERS["positive"], MINERS["negative"])))
def test_pk_batches_are_valid_for_every_miner(positive, negative):
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 9, size=60)
    counts[[5, 17]] = 0  # classes without samples
    labels = rng.permutation(np.repeat(np.arange(60), counts))
    s = make_sampler(labels, 60, mining(positive=positive, negative=negative, eta=40), seed=3)
    for epoch in range(3):
        rows, classes = s.pk_batch(16, 4)
        assert rows.shape == (64,) and classes.shape == (16,)
        assert len(set(classes.tolist())) == 16 and not np.isin(classes, [5, 17]).any()
        blocks = labels[rows].reshape(16, 4)
        assert (blocks == classes[:, None]).all()  # block i is class classes[i]
        for block_rows, c in zip(rows.reshape(16, 4), classes):
            if counts[c] >= 4:
                assert len(set(block_rows.tolist())) == 4  # distinct samples when possible
            else:
                assert set(block_rows.tolist()) <= set(np.flatnonzero(labels == c).tolist())
        centers = rng.standard_normal((60, 8)).astype(np.float32)
        centers[[5, 17]] = np.nan
        s.update(s.epoch_stats(epoch, centers, rng.uniform(0.5, 2, 60)))
    # P larger than the classes with samples: all of them, once each
    rows, classes = s.pk_batch(100, 2)
    assert sorted(classes.tolist()) == sorted(set(range(60)) - {5, 17})


def test_pk_batches_follow_the_positive_distribution():
    labels = np.repeat(np.arange(50), 4)
    s = make_sampler(labels, 50, mining(positive="auto-probabilistic", negative="random",
                                        gamma=2.0, w=0.0), seed=0)
    spread = np.full(50, 0.01)
    spread[:5] = 100.0  # five classes hold almost all of P_k
    s.update(s.epoch_stats(0, np.zeros((50, 2), np.float32), spread))
    assert s.probabilities[:5].sum() > 1 - 1e-9
    seen = np.zeros(50)
    for _ in range(200):
        _, classes = s.pk_batch(10, 2)
        seen[classes] += 1
    assert (seen[:5] == 200).all()  # the anchors: drawn without replacement from P_k
    assert seen[5:].sum() == 200 * 5  # the other half: their negatives


def test_pk_batches_put_cluster_mates_together_under_auto_clustering():
    # Ten tight clusters of five classes each; θ = 1 sends every partner into its anchor's cluster.
    centers = np.repeat(np.arange(10, dtype=np.float32)[:, None] * 100, 5, axis=0)
    centers = np.hstack([centers, np.tile(np.arange(5, dtype=np.float32), 10)[:, None]])
    labels = np.repeat(np.arange(50), 3)
    s = make_sampler(labels, 50, mining(positive="random", negative="auto-clustering", eta=40,
                                        theta=1.0), seed=1)
    s.update(s.epoch_stats(0, centers, np.ones(50)))
    assert len(set(s.clusters.tolist())) == 10
    for _ in range(20):
        _, classes = s.pk_batch(8, 2)
        # Every anchor (the first half) brought a partner from its own cluster, so it has a
        # cluster-mate in the batch; with uniform negatives that would be rare.
        for a in classes[:4]:
            mates = [c for c in classes if c != a and s.clusters[c] == s.clusters[a]]
            assert mates, (a, classes)


def test_pk_layout_tables():
    lay = PKLayout(3, 4)
    block = torch.arange(12) // 4
    assert lay.pos.shape == (12, 3) and lay.neg.shape == (12, 8)
    assert (block[lay.pos] == block[:, None]).all()
    assert (lay.pos != torch.arange(12)[:, None]).all()
    assert (block[lay.neg] != block[:, None]).all()
    assert lay.triplets == 12 * 3 * 8


# ---- the step's loss ---------------------------------------------------------------------------


def _batch(p=3, k=3, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(p * k, d, generator=g, requires_grad=True)
    labels = torch.arange(p).repeat_interleave(k)
    centers = torch.nn.functional.softplus(torch.randn(p, d, generator=g))
    return emb, labels, centers


def _explicit_triplets(p, k):
    rows = range(p * k)
    return [(a, q, n) for a in rows for q in rows for n in rows
            if q != a and q // k == a // k and n // k != a // k]


@pytest.mark.parametrize("kind", ["metric", "triplet", "contrastive"])
def test_pk_loss_equals_explicit_enumeration(kind):
    emb, labels, centers = _batch()
    fn = loss_fn(kind, alpha=2.0)
    out = pk_step(emb, centers, labels, PKLayout(3, 3), fn, batch_miner("all"))
    trip = torch.tensor(_explicit_triplets(3, 3))
    a, q, n = emb[trip[:, 0]], emb[trip[:, 1]], emb[trip[:, 2]]
    if kind == "metric":
        c = centers[labels]
        ref = metric_per_sample(a, q, n, c[trip[:, 0]], c[trip[:, 1]], c[trip[:, 2]],
                                alpha=2.0)[0]
    elif kind == "triplet":
        ref = triplet_per_sample(a, q, n, 2.0)
    else:
        from siam_workbench.parts.losses.functional import contrastive_triplet_per_sample

        ref = contrastive_triplet_per_sample(a, q, n, 2.0)
    assert out.candidates == out.kept == len(trip)
    assert torch.allclose(out.loss, ref.mean(), rtol=1e-4)
    assert set(out.parts) == set(fn.parts)
    total = float(out.loss.detach())
    assert sum(float(v) for v in out.parts.values()) == pytest.approx(total, rel=1e-4)


def test_normalised_triplet_step_measures_on_the_unit_sphere():
    """The default triplet loss: the same enumeration, on L2-normalised embeddings."""
    emb, labels, centers = _batch()
    fn = loss_fn("triplet", alpha=0.1, normalize=True)
    assert fn.space == "l2"
    out = pk_step(emb, centers, labels, PKLayout(3, 3), fn, batch_miner("all"))
    unit = torch.nn.functional.normalize(emb, dim=1)
    trip = torch.tensor(_explicit_triplets(3, 3))
    ref = triplet_per_sample(unit[trip[:, 0]], unit[trip[:, 1]], unit[trip[:, 2]], 0.1)
    assert torch.allclose(out.loss, ref.mean(), rtol=1e-4)
    assert 0.0 < out.spread <= 2.0  # distances on the unit sphere


def test_hard_miner_trains_on_exactly_the_triplets_it_ranks():
    emb, labels, centers = _batch(seed=4)
    fn = loss_fn("triplet", alpha=1.0)
    miner = batch_miner("hard", hard_ratio=6)
    out = pk_step(emb, centers, labels, PKLayout(3, 3), fn, miner)
    # Independent ranking of the explicit triplets by the same loss.
    trip = _explicit_triplets(3, 3)
    per = torch.stack([triplet_per_sample(emb[[a]], emb[[q]], emb[[n]], 1.0)[0]
                       for a, q, n in trip]).detach()
    keep = int(np.ceil(len(trip) / 6))
    assert out.kept == keep
    threshold = torch.topk(per, keep).values.min()
    want = float(torch.topk(per, keep).values.mean())
    assert float(out.loss.detach()) == pytest.approx(want, rel=1e-4)
    # The gradient reaches exactly the samples of the kept (hardest) triplets.
    out.loss.backward()
    kept_rows = {r for (t, l) in zip(trip, per) if l >= threshold for r in t}
    touched = {i for i in range(9) if emb.grad[i].abs().sum() > 0}
    assert touched <= kept_rows and touched


def test_semihard_keeps_negatives_inside_the_margin_only():
    emb, labels, centers = _batch(seed=7)
    fn = loss_fn("triplet", alpha=1.5)
    out = pk_step(emb, centers, labels, PKLayout(3, 3), fn, batch_miner("semihard"))
    d = torch.cdist(emb.detach(), emb.detach())
    want = sum(1 for a, q, n in _explicit_triplets(3, 3)
               if d[a, q] < d[a, n] < d[a, q] + 1.5)
    assert out.kept == want and 0 < want < out.candidates


def test_triplet_mode_hard_keeps_one_in_r():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(3 * 40, 6, generator=g, requires_grad=True)
    labels = torch.cat([torch.arange(40), torch.arange(40), torch.arange(40) + 40])
    fn = loss_fn("triplet", alpha=1.0)
    out = triplet_step(emb, None, labels, fn, batch_miner("hard", hard_ratio=4))
    assert out.candidates == 40 and out.kept == 10
    per = triplet_per_sample(emb[:40], emb[40:80], emb[80:], 1.0).detach()
    assert set(torch.nonzero(out.mask).squeeze(1).tolist()) == set(
        torch.topk(per, 10).indices.tolist())


@pytest.mark.parametrize("miner", ["semihard", "all"])
def test_active_share_counts_candidates_inside_the_margin(miner):
    """The progress signal beside a loss that cannot move: the share of every candidate
    triplet (not only the kept ones) whose negative is less than α farther than the positive."""
    emb, labels, centers = _batch(seed=7)
    fn = loss_fn("triplet", alpha=1.5)
    out = pk_step(emb, centers, labels, PKLayout(3, 3), fn, batch_miner(miner))
    d = torch.cdist(emb.detach(), emb.detach())
    trip = _explicit_triplets(3, 3)
    want = sum(1 for a, q, n in trip if d[a, n] < d[a, q] + 1.5) / len(trip)
    assert out.active == pytest.approx(want, abs=1e-6) and 0 < want < 1
    # Pushing the classes apart lowers it (a trained network's batches have fewer).
    far = (emb.detach() + 50.0 * labels[:, None].float()).requires_grad_()
    assert pk_step(far, centers, labels, PKLayout(3, 3), fn, batch_miner(miner)).active < want
    g = torch.Generator().manual_seed(0)
    e3 = torch.randn(3 * 20, 6, generator=g)
    lab = torch.cat([torch.arange(20), torch.arange(20), torch.arange(20) + 20])
    out3 = triplet_step(e3, None, lab, fn, batch_miner(miner))
    d_ap = (e3[:20] - e3[20:40]).norm(dim=1)
    d_an = (e3[:20] - e3[40:]).norm(dim=1)
    assert out3.active == pytest.approx(float((d_an < d_ap + 1.5).float().mean()), abs=1e-6)


@pytest.mark.parametrize("miner", list(MINERS["batch"]))
@pytest.mark.parametrize("normalize", [False, True])
def test_triplet_fast_path_equals_the_general_path(miner, normalize):
    """The built-in triplet loss back-propagates through per-pair counts (train/step.py
    _pk_hinge); a subclass that keeps the same formula takes the general, broadcast path. Both
    give the same loss, counts, signals and gradient, for every batch miner."""
    from siam_workbench.parts.losses.triplet import TripletLoss

    class Broadcast(TripletLoss):
        def per_triplet(self, d_ap, d_an, dc_a, dc_p, dc_n):
            return super().per_triplet(d_ap, d_an, dc_a, dc_p, dc_n)

    settings = Config().replace({"loss": {"kind": "triplet", "alpha": 0.8,
                                          "normalize": normalize}}).loss
    g = torch.Generator().manual_seed(11)
    base = torch.randn(8 * 4, 5, generator=g)
    labels = torch.arange(8).repeat_interleave(4)
    got = {}
    for fn in (TripletLoss(settings), Broadcast(settings)):
        emb = base.clone().requires_grad_()
        out = pk_step(emb, None, labels, PKLayout(8, 4), fn, batch_miner(miner, hard_ratio=3))
        out.loss.backward()
        got[type(fn)] = (out, emb.grad)
    (fast, g_fast), (slow, g_slow) = got[TripletLoss], got[Broadcast]
    assert fast.kept == slow.kept > 0 and fast.candidates == slow.candidates
    assert torch.equal(fast.mask, slow.mask)
    assert float(fast.loss.detach()) == pytest.approx(float(slow.loss.detach()), rel=1e-5,
                                                   abs=1e-7)
    assert float(fast.parts["triplet"]) == pytest.approx(float(slow.parts["triplet"]),
                                                          rel=1e-5, abs=1e-7)
    assert fast.active == pytest.approx(slow.active) and fast.spread == pytest.approx(
        slow.spread, rel=1e-6)
    assert torch.allclose(g_fast, g_slow, rtol=1e-4, atol=1e-6) and g_fast.abs().sum() > 0
