"""Losses as plain functions on embedding tensors ``[B, D]``.

Each returns ``(total, parts)``: ``total`` is the batch mean that is back-propagated, ``parts``
maps names to detached batch means for plots. ``per_sample`` variants exist because hard mining
ranks triplets by their own loss before back-propagating the hardest ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _dist(x: Tensor, y: Tensor) -> Tensor:
    # The epsilon keeps the gradient finite when two embeddings coincide (d = 0).
    return torch.sqrt(((x - y) ** 2).sum(dim=-1) + 1e-12)


def contrastive_per_sample(x1: Tensor, x2: Tensor, same: Tensor, alpha: float) -> Tensor:
    """Hadsell et al.: ``y·d² + (1−y)·max(0, α−d)²``."""
    d = _dist(x1, x2)
    y = same.to(d.dtype)
    return y * d**2 + (1 - y) * torch.clamp(alpha - d, min=0) ** 2


def contrastive_loss(
    x1: Tensor, x2: Tensor, same: Tensor, alpha: float = 10.0
) -> tuple[Tensor, dict[str, float]]:
    per = contrastive_per_sample(x1, x2, same, alpha)
    total = per.mean()
    y = same.to(per.dtype)
    per_d = per.detach()
    pos = (per_d * y).sum() / y.sum().clamp(min=1)
    neg = (per_d * (1 - y)).sum() / (1 - y).sum().clamp(min=1)
    return total, {"pos": float(pos), "neg": float(neg)}


def triplet_per_sample(a: Tensor, p: Tensor, n: Tensor, alpha: float) -> Tensor:
    """Schroff et al.: ``max(0, d_ap − d_an + α)`` with Euclidean (not squared) distances."""
    return torch.clamp(_dist(a, p) - _dist(a, n) + alpha, min=0)


def triplet_loss(
    a: Tensor, p: Tensor, n: Tensor, alpha: float = 10.0
) -> tuple[Tensor, dict[str, float]]:
    per = triplet_per_sample(a, p, n, alpha)
    return per.mean(), {
        "d_ap": float(_dist(a, p).detach().mean()),
        "d_an": float(_dist(a, n).detach().mean()),
        "active": float((per.detach() > 0).to(per.dtype).mean()),
    }


def metric_per_sample(
    a: Tensor, p: Tensor, n: Tensor,
    center_a: Tensor, center_p: Tensor, center_n: Tensor,
    alpha: float = 10.0, rho: float = 0.1, tau: float = 1.0, xi: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Paper §3.4, per triplet: returns ``(loss, g1², g2², Σg3²)``.

    Embeddings go through ``softplus``; the centers are already class means in that space and
    are used as given (detached: they anchor clusters, they are not trained toward samples).
    """
    sa, sp, sn = F.softplus(a), F.softplus(p), F.softplus(n)
    d_ap = _dist(sa, sp)
    d_an = _dist(sa, sn)
    g1 = rho * d_ap
    g2 = tau * F.softplus(d_ap - d_an + alpha)
    ca, cp, cn = center_a.detach(), center_p.detach(), center_n.detach()
    g3_sq = (xi * _dist(sa, ca)) ** 2 + (xi * _dist(sp, cp)) ** 2 + (xi * _dist(sn, cn)) ** 2
    g1_sq, g2_sq = g1**2, g2**2
    return g1_sq + g2_sq + g3_sq, g1_sq, g2_sq, g3_sq


def metric_loss(
    a: Tensor, p: Tensor, n: Tensor,
    center_a: Tensor, center_p: Tensor, center_n: Tensor,
    alpha: float = 10.0, rho: float = 0.1, tau: float = 1.0, xi: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """``mean(g1² + g2² + Σ_{i∈a,p,n} g3_i²)``; parts ``g1``, ``g2``, ``g3`` are the batch means
    of those squared blocks, so they add up to the total."""
    per, g1, g2, g3 = metric_per_sample(a, p, n, center_a, center_p, center_n,
                                        alpha, rho, tau, xi)
    return per.mean(), {"g1": float(g1.detach().mean()), "g2": float(g2.detach().mean()),
                        "g3": float(g3.detach().mean())}
