import math

import torch
import torch.nn.functional as F

from siam_workbench.parts.losses import (
    contrastive_loss,
    metric_loss,
    metric_per_sample,
    triplet_loss,
)


def sp(x):
    return math.log1p(math.exp(x))


def test_contrastive_hand_computed():
    x1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    x2 = torch.tensor([[3.0, 4.0], [3.0, 4.0]])  # d = 5
    same = torch.tensor([1, 0])
    total, parts = contrastive_loss(x1, x2, same, alpha=8.0)
    # y=1: d² = 25 ; y=0: max(0, 8-5)² = 9
    assert abs(total.item() - (25 + 9) / 2) < 1e-4
    assert abs(parts["pos"] - 25) < 1e-4 and abs(parts["neg"] - 9) < 1e-4
    total, _ = contrastive_loss(x1, x2, torch.tensor([0, 0]), alpha=4.0)
    assert total.item() == 0.0  # negatives already beyond the margin


def test_triplet_hand_computed():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0]])  # d_ap = 1
    n = torch.tensor([[0.0, 3.0]])  # d_an = 3
    total, parts = triplet_loss(a, p, n, alpha=5.0)
    assert abs(total.item() - 3.0) < 1e-5  # 1 - 3 + 5
    total, _ = triplet_loss(a, p, n, alpha=1.0)
    assert total.item() == 0.0
    assert abs(parts["d_an"] - 3.0) < 1e-5


def test_metric_loss_matches_design_formula_by_hand():
    # One-dimensional embeddings make every term computable by hand.
    a, p, n = torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.tensor([[-2.0]])
    ca, cp, cn = torch.tensor([[0.5]]), torch.tensor([[0.5]]), torch.tensor([[0.2]])
    alpha, rho, tau, xi = 10.0, 0.1, 1.0, 1.0
    sa, spp, sn = sp(0.0), sp(1.0), sp(-2.0)
    d_ap, d_an = abs(sa - spp), abs(sa - sn)
    g1 = rho * d_ap
    g2 = tau * sp(d_ap - d_an + alpha)
    g3 = (xi * abs(sa - 0.5)) ** 2 + (xi * abs(spp - 0.5)) ** 2 + (xi * abs(sn - 0.2)) ** 2
    expected = g1**2 + g2**2 + g3
    total, parts = metric_loss(a, p, n, ca, cp, cn, alpha, rho, tau, xi)
    assert abs(total.item() - expected) < 1e-4
    assert abs(parts["g1"] - g1**2) < 1e-5
    assert abs(parts["g2"] - g2**2) < 1e-4
    assert abs(parts["g3"] - g3) < 1e-5
    assert abs(parts["g1"] + parts["g2"] + parts["g3"] - total.item()) < 1e-4


def test_metric_loss_weights_scale_their_parts():
    torch.manual_seed(0)
    a, p, n = torch.randn(8, 5), torch.randn(8, 5), torch.randn(8, 5)
    c = [F.softplus(torch.randn(8, 5)) for _ in range(3)]
    _, base = metric_loss(a, p, n, *c, rho=0.1, tau=1.0, xi=1.0)
    _, scaled = metric_loss(a, p, n, *c, rho=0.2, tau=2.0, xi=3.0)
    assert abs(scaled["g1"] - 4 * base["g1"]) < 1e-4
    assert abs(scaled["g2"] - 4 * base["g2"]) < 1e-3
    assert abs(scaled["g3"] - 9 * base["g3"]) < 1e-3
    _, off = metric_loss(a, p, n, *c, xi=0.0)
    assert off["g3"] == 0.0


def test_centers_are_not_trained():
    a = torch.randn(4, 3, requires_grad=True)
    c = torch.rand(4, 3, requires_grad=True)
    total, _ = metric_loss(a, a.detach() + 1, a.detach() - 1, c, c, c)
    total.backward()
    assert c.grad is None and a.grad is not None


def test_gradcheck_float64():
    torch.manual_seed(1)
    args = [torch.randn(3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    centers = [F.softplus(torch.randn(3, 4, dtype=torch.float64)) for _ in range(3)]

    def metric(a, p, n):
        return metric_per_sample(a, p, n, *centers, alpha=2.0)[0]

    assert torch.autograd.gradcheck(metric, args)

    def trip(a, p, n):
        return triplet_loss(a, p, n, alpha=3.0)[0]

    assert torch.autograd.gradcheck(trip, args)
    same = torch.tensor([1, 0, 1])

    def contr(x1, x2):
        return contrastive_loss(x1, x2, same, alpha=3.0)[0]

    assert torch.autograd.gradcheck(contr, args[:2])
