"""Triplet loss (Schroff et al. 2015): ``max(0, d_ap − d_an + α)`` on Euclidean distances."""

from __future__ import annotations

import torch
from torch import Tensor

from core.train.losses.base import Loss
from core.train.losses.common import ALPHA
from core.train.losses.registry import register_loss


@register_loss
class TripletLoss(Loss):
    name = "triplet"
    label = "triplet"
    help = "max(0, d_ap − d_an + α): the negative must be α farther than the positive."
    space = "raw"
    parts = ("triplet",)
    params = {"alpha": ALPHA}

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        per = torch.clamp(d_ap - d_an + self.margin, min=0)
        return {"loss": per, "triplet": per}
