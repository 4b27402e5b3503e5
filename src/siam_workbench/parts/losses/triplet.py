"""Triplet loss (Schroff et al. 2015): ``max(0, d_ap − d_an + α)`` on Euclidean distances,
by default between L2-normalised embeddings (the unit sphere, as FaceNet): on the raw output the
scale grows without bound, the margin loses its meaning and semi-hard triplets thin out.
Measured on a new latin-digits project at 100,000 images (docs/RESULTS.md, alphabet panel):
val / test top-1 85.6 / 73.3 % on the raw output, 86.6 / 76.4 % on the sphere with α = 0.1."""

from __future__ import annotations

import torch
from torch import Tensor

from siam_workbench.base.fields import Field
from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.common import ALPHA
from siam_workbench.parts.losses.registry import register_loss


@register_loss
class TripletLoss(Loss):
    name = "triplet"
    label = "triplet"
    help = ("max(0, d_ap − d_an + α): the negative must be α farther than the positive "
            "(on the unit sphere unless loss.normalize is off).")
    space = "raw"  # without normalisation; an instance says where its centers live
    parts = ("triplet",)
    params = {"alpha": ALPHA,
              "normalize": Field(bool, True, "Triplet loss: measure distances between "
                                 "L2-normalised embeddings (the unit sphere; distances 0–2, "
                                 "α ≈ 0.1–0.2) instead of the raw output",
                                 label="Normalise — triplets on the unit sphere")}

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.space = "l2" if self.setting("normalize") else "raw"

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        per = torch.clamp(d_ap - d_an + self.margin, min=0)
        return {"loss": per, "triplet": per}
