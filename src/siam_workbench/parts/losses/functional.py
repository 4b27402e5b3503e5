"""The losses as plain functions of embedding tensors ``[B, D]``, for tests, benchmarks and
one-off use; each returns ``(mean, parts)``. They go through the registered loss classes, so
there is one formula per loss."""

from __future__ import annotations

import torch
from torch import Tensor

from siam_workbench.parts.losses.contrastive import ContrastiveLoss
from siam_workbench.parts.losses.metric import MetricLoss
from siam_workbench.parts.losses.spaces import dist, to_space
from siam_workbench.parts.losses.triplet import TripletLoss


class _Settings:
    def __init__(self, **values: float) -> None:
        self.__dict__.update(values)


def contrastive_per_sample(x1: Tensor, x2: Tensor, same: Tensor, alpha: float) -> Tensor:
    """Hadsell et al.: ``y·d² + (1−y)·max(0, α−d)²`` per pair."""
    d = dist(x1, x2)
    y = same.to(d.dtype)
    return y * d**2 + (1 - y) * torch.clamp(alpha - d, min=0) ** 2


def contrastive_loss(
    x1: Tensor, x2: Tensor, same: Tensor, alpha: float = 10.0
) -> tuple[Tensor, dict[str, float]]:
    per = contrastive_per_sample(x1, x2, same, alpha)
    y = same.to(per.dtype)
    per_d = per.detach()
    pos = (per_d * y).sum() / y.sum().clamp(min=1)
    neg = (per_d * (1 - y)).sum() / (1 - y).sum().clamp(min=1)
    return per.mean(), {"pos": float(pos), "neg": float(neg)}


def contrastive_triplet_per_sample(a: Tensor, p: Tensor, n: Tensor, alpha: float) -> Tensor:
    """A triplet's positive and negative pair, averaged (what the trainer optimises)."""
    loss = ContrastiveLoss(_Settings(alpha=alpha))
    return loss.per_triplet(dist(a, p), dist(a, n), None, None, None)["loss"]


def triplet_per_sample(a: Tensor, p: Tensor, n: Tensor, alpha: float) -> Tensor:
    """Schroff et al.: ``max(0, d_ap − d_an + α)`` with Euclidean (not squared) distances."""
    loss = TripletLoss(_Settings(alpha=alpha))
    return loss.per_triplet(dist(a, p), dist(a, n), None, None, None)["loss"]


def triplet_loss(
    a: Tensor, p: Tensor, n: Tensor, alpha: float = 10.0
) -> tuple[Tensor, dict[str, float]]:
    per = triplet_per_sample(a, p, n, alpha)
    return per.mean(), {
        "d_ap": float(dist(a, p).detach().mean()),
        "d_an": float(dist(a, n).detach().mean()),
        "active": float((per.detach() > 0).to(per.dtype).mean()),
    }


def metric_per_sample(
    a: Tensor, p: Tensor, n: Tensor,
    center_a: Tensor, center_p: Tensor, center_n: Tensor,
    alpha: float = 10.0, rho: float = 0.1, tau: float = 1.0, xi: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Paper §3.4 per triplet on raw embeddings: ``(loss, g1², g2², Σg3²)``. The centers are
    class means already in the softplus space, used as given (detached)."""
    sa, sp, sn = (to_space(x, "softplus") for x in (a, p, n))
    loss = MetricLoss(_Settings(alpha=alpha, rho=rho, tau=tau, xi=xi))
    out = loss.per_triplet(dist(sa, sp), dist(sa, sn), dist(sa, center_a.detach()),
                           dist(sp, center_p.detach()), dist(sn, center_n.detach()))
    return out["loss"], out["g1"], out["g2"], out["g3"]


def metric_loss(
    a: Tensor, p: Tensor, n: Tensor,
    center_a: Tensor, center_p: Tensor, center_n: Tensor,
    alpha: float = 10.0, rho: float = 0.1, tau: float = 1.0, xi: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """``mean(g1² + g2² + Σ_{i∈a,p,n} g3_i²)``; parts are the batch means of those squared
    blocks, so they add up to the total."""
    per, g1, g2, g3 = metric_per_sample(a, p, n, center_a, center_p, center_n,
                                        alpha, rho, tau, xi)
    return per.mean(), {"g1": float(g1.detach().mean()), "g2": float(g2.detach().mean()),
                        "g3": float(g3.detach().mean())}
