"""Contrastive loss (Chopra, Hadsell & LeCun): ``y·d² + (1−y)·max(0, α − d)²`` per pair; a
triplet contributes its positive and its negative pair, averaged."""

from __future__ import annotations

import torch
from torch import Tensor

from siam_workbench.parts.losses.base import Loss
from siam_workbench.parts.losses.common import ALPHA
from siam_workbench.parts.losses.registry import register_loss


@register_loss
class ContrastiveLoss(Loss):
    name = "contrastive"
    label = "contrastive"
    help = "Pulls positive pairs to 0 and pushes negative pairs beyond α."
    space = "raw"
    parts = ("pos", "neg")
    params = {"alpha": ALPHA}

    def per_triplet(self, d_ap: Tensor, d_an: Tensor, dc_a: Tensor | None,
                    dc_p: Tensor | None, dc_n: Tensor | None) -> dict[str, Tensor]:
        pos = d_ap**2 / 2
        neg = torch.clamp(self.margin - d_an, min=0) ** 2 / 2
        return {"loss": pos + neg, "pos": pos, "neg": neg}
