"""Embedding spaces: where a loss measures distances, and where class centers and nearest-center
classification therefore live.

The metric loss (paper eq. 5–6) measures after ``softplus``; contrastive and triplet losses on
the raw network output. This is the one definition: losses, centers, evaluation, query and
export all map embeddings through :func:`to_space`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SPACES: tuple[str, ...] = ("softplus", "raw", "l2")


def to_space(emb: Tensor, space: str) -> Tensor:
    if space == "softplus":
        return F.softplus(emb)
    if space == "raw":
        return emb
    if space == "l2":  # the unit sphere: distances in [0, 2] whatever the output's scale
        return F.normalize(emb, dim=-1, eps=1e-12)
    raise ValueError(f"unknown embedding space {space!r} (known: {', '.join(SPACES)})")


def dist(x: Tensor, y: Tensor) -> Tensor:
    """Row-wise Euclidean distance; the epsilon keeps the gradient finite when two embeddings
    coincide (d = 0)."""
    return torch.sqrt(((x - y) ** 2).sum(dim=-1) + 1e-12)


def pairwise_dist(x: Tensor) -> Tensor:
    """``[B, B]`` Euclidean distances between the rows of ``x`` with one matrix product
    (``‖a‖² + ‖b‖² − 2a·b``, clamped at 0 against rounding), the same epsilon as :func:`dist`."""
    sq = (x * x).sum(dim=1)
    d2 = torch.addmm(sq[:, None] + sq[None, :], x, x.T, beta=1.0, alpha=-2.0)
    return torch.sqrt(d2.clamp(min=0.0) + 1e-12)
